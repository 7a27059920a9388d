-- What processing one inbound message writes, as functions, so that a worker commits it all in
-- one round trip (SELECT finish_message(...)) instead of BEGIN, three statements and COMMIT.
-- Each write is defined once, here; the repositories call these functions.

-- The outbox: replies keyed "<inbound wamid>:<n>", so a reprocessed message never adds twice.
CREATE FUNCTION enqueue_replies(p_customer text, p_keys text[], p_kinds text[], p_bodies text[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO outbound_messages (idempotency_key, customer, kind, body)
    SELECT k, p_customer, kind, body::jsonb
    FROM unnest(p_keys, p_kinds, p_bodies) WITH ORDINALITY AS t(k, kind, body, ord)
    ORDER BY ord
    ON CONFLICT (idempotency_key) DO NOTHING
$$;

CREATE FUNCTION mark_inbound_done(p_id bigint, p_rate_limited boolean)
RETURNS void LANGUAGE sql AS $$
    UPDATE inbound_messages
    SET state = 'done', processed_at = now(), attempts = attempts + 1,
        rate_limit_exceeded = p_rate_limited
    WHERE id = p_id
$$;

CREATE FUNCTION save_session(
    p_customer text, p_state text, p_cart jsonb, p_context jsonb, p_ttl_s double precision
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO customer_sessions (customer, state, cart, context, expires_at, updated_at)
    VALUES (p_customer, p_state, p_cart, p_context,
            now() + make_interval(secs => p_ttl_s), now())
    ON CONFLICT (customer) DO UPDATE SET state = EXCLUDED.state, cart = EXCLUDED.cart,
        context = EXCLUDED.context, expires_at = EXCLUDED.expires_at, updated_at = now()
$$;

-- One statement, so one transaction: the session, the replies and `done` land together or not.
-- p_state NULL: no session to save (the pipeline stopped before loading one).
CREATE FUNCTION finish_message(
    p_id bigint, p_rate_limited boolean, p_customer text,
    p_state text, p_cart jsonb, p_context jsonb, p_ttl_s double precision,
    p_keys text[], p_kinds text[], p_bodies text[]
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_state IS NOT NULL THEN
        PERFORM save_session(p_customer, p_state, p_cart, p_context, p_ttl_s);
    END IF;
    IF cardinality(p_keys) > 0 THEN
        PERFORM enqueue_replies(p_customer, p_keys, p_kinds, p_bodies);
    END IF;
    PERFORM mark_inbound_done(p_id, p_rate_limited);
END
$$;
