-- A worker's turn with one customer in fewer round trips: taking the customer's lock and reading
-- what waits for it is one statement (begin_turn), and committing a message also reads the
-- replies to send next (finish_message), having marked them `sending` as it stored them: the
-- worker sends them right after the commit, with no mark of its own. A crash in between leaves
-- them waiting for the grace period, then they go out (late rather than twice, as for a crash
-- during the send). A VOLATILE function takes a fresh snapshot for each
-- query it runs, so what begin_turn reads after the lock is what the lock's last holder
-- committed.
--
-- Every function on a message's path is PL/pgSQL: PostgreSQL parses and plans the body of a
-- LANGUAGE sql function called from another function again on every call, while PL/pgSQL keeps
-- its plans for the connection's life. On the end-to-end bench the parser and planner were
-- the largest part of PostgreSQL's CPU. 0008's functions are redefined here for that reason.

DROP FUNCTION finish_message(
    bigint, boolean, text, text, jsonb, jsonb, double precision, text[], text[], text[]
);
DROP FUNCTION enqueue_replies(text, text[], text[], text[]);

-- The outbox: replies keyed "<inbound wamid>:<n>", so a reprocessed message never adds twice.
-- p_claims[n]: the caller sends reply n right after its commit, so it is stored `sending`.
CREATE FUNCTION enqueue_replies(
    p_customer text, p_keys text[], p_kinds text[], p_bodies text[],
    p_claims boolean[] DEFAULT '{}'
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbound_messages (idempotency_key, customer, kind, body, status, sending_at)
    SELECT k, p_customer, kind, body::jsonb,
           CASE WHEN p_claims[ord::int] THEN 'sending' ELSE 'pending' END,
           CASE WHEN p_claims[ord::int] THEN now() END
    FROM unnest(p_keys, p_kinds, p_bodies) WITH ORDINALITY AS t(k, kind, body, ord)
    ORDER BY ord
    ON CONFLICT (idempotency_key) DO NOTHING;
END
$$;

CREATE OR REPLACE FUNCTION mark_inbound_done(p_id bigint, p_rate_limited boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inbound_messages
    SET state = 'done', processed_at = now(), attempts = attempts + 1,
        rate_limit_exceeded = p_rate_limited
    WHERE id = p_id;
END
$$;

CREATE OR REPLACE FUNCTION save_session(
    p_customer text, p_state text, p_cart jsonb, p_context jsonb, p_ttl_s double precision
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO customer_sessions (customer, state, cart, context, expires_at, updated_at)
    VALUES (p_customer, p_state, p_cart, p_context,
            now() + make_interval(secs => p_ttl_s), now())
    ON CONFLICT (customer) DO UPDATE SET state = EXCLUDED.state, cart = EXCLUDED.cart,
        context = EXCLUDED.context, expires_at = EXCLUDED.expires_at, updated_at = now();
END
$$;

-- The customer's unsent or unsettled replies, oldest first. A `sending` row whose last attempt
-- is recent may have been accepted by Meta just before its sender died: it waits for a status
-- webhook to settle it instead of going out again. `claimed`: stored `sending` by this very
-- transaction (now() is its start), so to be sent by the caller now, not awaited.
CREATE FUNCTION unsettled_replies(p_customer text, p_grace_s double precision)
RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    RETURN (
        SELECT COALESCE(json_agg(r ORDER BY r.id), '[]')
        FROM (
            SELECT id, idempotency_key AS key, kind, body, status = 'sending' AS sending,
                   status = 'sending' AND sending_at = now() AS claimed,
                   status = 'sending' AND sending_at <> now()
                       AND sending_at > now() - make_interval(secs => p_grace_s)
                       AS awaiting_status
            FROM outbound_messages
            WHERE customer = p_customer AND status IN ('pending', 'sending')
        ) AS r
    );
END
$$;

-- The session advisory lock that orders a customer's messages across workers and instances.
-- Not locked: the rest is NULL (another worker has the customer). `known`: the customer's
-- record, NULL on first contact; while a message changes nothing in it, the worker does not
-- touch it, and finish_message() notes the time of the last message.
CREATE FUNCTION begin_turn(p_customer text, p_grace_s double precision, p_limit integer)
RETURNS TABLE (locked boolean, replies json, messages json, known json)
LANGUAGE plpgsql AS $$
BEGIN
    locked := pg_try_advisory_lock(hashtextextended(p_customer, 7301442));
    IF locked THEN
        replies := unsettled_replies(p_customer, p_grace_s);
        SELECT COALESCE(json_agg(m ORDER BY m.id), '[]') INTO messages
        FROM (
            SELECT id, wamid, envelope, attempts FROM inbound_messages
            WHERE customer = p_customer AND state = 'pending'
            ORDER BY id
            LIMIT p_limit
        ) AS m;
        SELECT row_to_json(c) INTO known
        FROM (
            SELECT tier, language, total_orders, name, wa_id, user_id FROM customers
            WHERE customer = p_customer
        ) AS c;
    END IF;
    RETURN NEXT;
END
$$;

-- One statement, so one transaction: the session, the replies and `done` land together or not.
-- p_state NULL: no session to save (the pipeline stopped before loading one). Returns the
-- customer's replies to send now, as unsettled_replies does.
CREATE FUNCTION finish_message(
    p_id bigint, p_rate_limited boolean, p_customer text,
    p_state text, p_cart jsonb, p_context jsonb, p_ttl_s double precision,
    p_keys text[], p_kinds text[], p_bodies text[], p_claims boolean[],
    p_grace_s double precision
) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    IF p_state IS NOT NULL THEN
        PERFORM save_session(p_customer, p_state, p_cart, p_context, p_ttl_s);
    END IF;
    IF cardinality(p_keys) > 0 THEN
        PERFORM enqueue_replies(p_customer, p_keys, p_kinds, p_bodies, p_claims);
    END IF;
    PERFORM mark_inbound_done(p_id, p_rate_limited);
    UPDATE customers SET last_inbound_at = now(), updated_at = now()
    WHERE customer = p_customer;
    RETURN unsettled_replies(p_customer, p_grace_s);
END
$$;

-- Before a reply's Graph API attempt (one not claimed at its commit, or a retry), with the
-- answers to earlier sends of the same flush (mark-reads) recorded in the same statement. Returns whether the row may be sent: false if
-- a status webhook settled it meanwhile. record_replies is the statement OutboundLog.record_all
-- runs; both are defined here once.
CREATE FUNCTION record_replies(
    p_ids bigint[], p_statuses text[], p_wamids text[], p_http int[], p_codes int[],
    p_titles text[], p_attempts int[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    -- One primary-key update per answer (a flush records one or two): a join with unnest()
    -- gets planned, while the outbound log is still small, as a hash join over the whole table,
    -- and PL/pgSQL keeps that plan while the table grows.
    FOR i IN 1 .. cardinality(p_ids) LOOP
        -- A status webhook may have settled the row as accepted already (the webhook can beat
        -- the send call's answer): Meta has the message then, so no answer of ours moves it
        -- away from accepted.
        UPDATE outbound_messages
        SET status = p_statuses[i], wamid = p_wamids[i], http_status = p_http[i],
            error_code = p_codes[i], error_title = p_titles[i],
            attempts = attempts + p_attempts[i], updated_at = now()
        WHERE id = p_ids[i] AND (status <> 'accepted' OR p_statuses[i] = 'accepted');
    END LOOP;
END
$$;

CREATE FUNCTION mark_sending(
    p_id bigint, p_ids bigint[], p_statuses text[], p_wamids text[], p_http int[],
    p_codes int[], p_titles text[], p_attempts int[]
) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_ids) > 0 THEN
        PERFORM record_replies(p_ids, p_statuses, p_wamids, p_http, p_codes, p_titles,
                               p_attempts);
    END IF;
    UPDATE outbound_messages SET status = 'sending', sending_at = now(), updated_at = now()
    WHERE id = p_id AND status IN ('pending', 'sending');
    RETURN FOUND;
END
$$;
