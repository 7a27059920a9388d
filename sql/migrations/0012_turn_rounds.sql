-- The turns of all the workers of a process share one connection and its round trips
-- (bot/turns.py): the connection holds every customer lock the process's workers have, and one
-- call of turn_round() releases the customers whose turns ended, commits the messages whose
-- processing ended, records the Graph API's answers to the replies sent, and takes the customers
-- whose turns begin. On this stack a round trip costs
-- more CPU than the statement it carries, on both sides, and a commit flushes the WAL once for
-- the whole round.
--
-- Order within a round: the released customers' work was committed by earlier rounds (a worker
-- releases only after its last commit came back), so releasing first hands other instances only
-- committed data. The finishes come before the begins, so a customer released and taken again
-- in one round is read with what this round has stored. Each finish runs in a subtransaction of
-- its own: a message that fails rolls back alone, and its worker counts a failed attempt.
--
-- The answers are recorded in a subtransaction too, all or none (record_replies in 0010).
--
-- Finish n's replies are p_keys[p_first[n] : p_first[n] + p_count[n] - 1] (and the same slice of
-- p_kinds, p_bodies and p_claims). Rows come back as kind 'finish' (n, replies or error) and
-- kind 'begin' (n, locked, replies, messages, known), n counting from 1 in each kind, and one
-- row of kind 'record' if there were answers (error NULL if they were recorded).
CREATE FUNCTION turn_round(
    p_release text[],
    p_ids bigint[], p_rate_limited boolean[], p_customers text[], p_states text[],
    p_carts text[], p_contexts text[], p_ttls double precision[],
    p_first integer[], p_count integer[],
    p_keys text[], p_kinds text[], p_bodies text[], p_claims boolean[],
    p_begin text[], p_grace_s double precision, p_limit integer,
    p_sent bigint[], p_statuses text[], p_wamids text[], p_http int[], p_codes int[],
    p_titles text[], p_attempts int[]
) RETURNS TABLE (
    kind text, n integer, locked boolean, replies json, messages json, known json, error text
) LANGUAGE plpgsql AS $$
DECLARE
    last integer;
BEGIN
    PERFORM pg_advisory_unlock(hashtextextended(c, 7301442)) FROM unnest(p_release) AS c;
    IF cardinality(p_sent) > 0 THEN
        kind := 'record';
        n := 1;
        BEGIN
            PERFORM record_replies(p_sent, p_statuses, p_wamids, p_http, p_codes, p_titles,
                                   p_attempts);
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            error := SQLERRM;
        END;
        RETURN NEXT;
    END IF;
    kind := 'finish';
    FOR i IN 1 .. cardinality(p_ids) LOOP
        n := i;
        last := p_first[i] + p_count[i] - 1;
        BEGIN
            replies := finish_message(
                p_ids[i], p_rate_limited[i], p_customers[i], p_states[i],
                p_carts[i]::jsonb, p_contexts[i]::jsonb, p_ttls[i],
                p_keys[p_first[i]:last], p_kinds[p_first[i]:last],
                p_bodies[p_first[i]:last], p_claims[p_first[i]:last], p_grace_s
            );
            error := NULL;
        EXCEPTION WHEN OTHERS THEN
            replies := NULL;
            error := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
    kind := 'begin';
    error := NULL;
    FOR i IN 1 .. cardinality(p_begin) LOOP
        n := i;
        SELECT b.locked, b.replies, b.messages, b.known INTO locked, replies, messages, known
        FROM begin_turn(p_begin[i], p_grace_s, p_limit) AS b;
        RETURN NEXT;
    END LOOP;
END
$$;
