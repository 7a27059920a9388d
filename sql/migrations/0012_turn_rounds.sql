-- The turns of all the workers of a process share one connection and its round trips
-- (bot/turns.py): the connection holds every customer lock the process's workers have, and one
-- call of turn_round() releases the customers whose turns ended, commits the messages whose
-- processing ended, records the Graph API's answers to the replies sent, and takes the customers
-- whose turns begin. On this stack a round trip costs more CPU than the statement it carries,
-- on both sides, and a commit flushes the WAL once for the whole round.
--
-- Order within a round: the released customers' work was committed by earlier rounds (a worker
-- releases only after its last commit came back), so releasing first hands other instances only
-- committed data. The finishes come before the begins, so a customer released and taken again
-- in one round is read with what this round has stored.
--
-- The round's finishes are stored together, a few set-based statements for all of them
-- (finish_messages): PostgreSQL's cost per statement (executor start-up, locks) is most of what
-- one message's commit costs. If that fails, each finish runs again in a subtransaction of its
-- own: a message that fails rolls back alone, and its worker counts a failed attempt.
--
-- The answers are recorded in a subtransaction too, all or none (record_replies in 0010).
--
-- Rows come back as kind 'finish' (n, replies or error) and kind 'begin' (n, locked, replies,
-- messages, known), n counting from 1 in each kind, and one row of kind 'record' if there were
-- answers (error NULL if they were recorded).

-- Sessions, replies and `done` for several messages of distinct customers. Finish i's replies
-- are p_keys[p_first[i] : p_first[i] + p_count[i] - 1] (the same slice of p_kinds, p_bodies,
-- p_claims), stored in order; a claimed one is stored `sending` (its worker sends it now).
-- Single-row updates by primary key in a loop: a join with unnest() may be planned, while the
-- tables are small, as a hash join over the whole table, and PL/pgSQL keeps that plan.
CREATE FUNCTION finish_messages(
    p_ids bigint[], p_rate_limited boolean[], p_customers text[], p_states text[],
    p_carts text[], p_contexts text[], p_ttls double precision[],
    p_first integer[], p_count integer[],
    p_keys text[], p_kinds text[], p_bodies text[], p_claims boolean[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_sessions (customer, state, cart, context, expires_at, updated_at)
    SELECT c, st, cart::jsonb, ctx::jsonb, now() + make_interval(secs => ttl), now()
    FROM unnest(p_customers, p_states, p_carts, p_contexts, p_ttls) AS t(c, st, cart, ctx, ttl)
    WHERE st IS NOT NULL
    ON CONFLICT (customer) DO UPDATE SET state = EXCLUDED.state, cart = EXCLUDED.cart,
        context = EXCLUDED.context, expires_at = EXCLUDED.expires_at, updated_at = now();
    IF cardinality(p_keys) > 0 THEN
        -- unnest() rather than generate_series(): the planner's guess of a thousand rows per
        -- function call put this statement over jit_above_cost, and JIT compiling it took 8 ms.
        INSERT INTO outbound_messages (idempotency_key, customer, kind, body, status, sending_at)
        SELECT r.k, f.c, r.kind, r.body::jsonb,
               CASE WHEN r.claim THEN 'sending' ELSE 'pending' END,
               CASE WHEN r.claim THEN now() END
        FROM unnest(p_keys, p_kinds, p_bodies, p_claims) WITH ORDINALITY AS r(k, kind, body, claim, j)
        JOIN unnest(p_customers, p_first, p_count) AS f(c, first, count)
          ON r.j BETWEEN f.first AND f.first + f.count - 1
        ORDER BY r.j
        ON CONFLICT (idempotency_key) DO NOTHING;
    END IF;
    FOR i IN 1 .. cardinality(p_ids) LOOP
        UPDATE inbound_messages
        SET state = 'done', processed_at = now(), attempts = attempts + 1,
            rate_limit_exceeded = p_rate_limited[i]
        WHERE id = p_ids[i];
        UPDATE customers SET last_inbound_at = now(), updated_at = now()
        WHERE customer = p_customers[i];
    END LOOP;
END
$$;

-- finish_message() (0010) is replaced by finish_messages().
DROP FUNCTION finish_message(
    bigint, boolean, text, text, jsonb, jsonb, double precision, text[], text[], text[],
    boolean[], double precision
);

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
    together boolean := true;
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
    IF cardinality(p_ids) > 0 THEN
        BEGIN
            PERFORM finish_messages(p_ids, p_rate_limited, p_customers, p_states, p_carts,
                                    p_contexts, p_ttls, p_first, p_count, p_keys, p_kinds,
                                    p_bodies, p_claims);
        EXCEPTION WHEN OTHERS THEN
            together := false;
        END;
    END IF;
    kind := 'finish';
    FOR i IN 1 .. cardinality(p_ids) LOOP
        n := i;
        error := NULL;
        IF NOT together THEN
            last := p_first[i] + p_count[i] - 1;
            BEGIN
                PERFORM finish_messages(
                    p_ids[i:i], p_rate_limited[i:i], p_customers[i:i], p_states[i:i],
                    p_carts[i:i], p_contexts[i:i], p_ttls[i:i], ARRAY[1], p_count[i:i],
                    p_keys[p_first[i]:last], p_kinds[p_first[i]:last],
                    p_bodies[p_first[i]:last], p_claims[p_first[i]:last]
                );
            EXCEPTION WHEN OTHERS THEN
                error := SQLERRM;
            END;
        END IF;
        replies := CASE WHEN error IS NULL THEN unsettled_replies(p_customers[i], p_grace_s) END;
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
