-- Core tables: customers, the durable inbox, the outbound message log, sessions, operator config.

CREATE TABLE customers (
    id            bigserial PRIMARY KEY,
    -- The key every other table uses: the wa_id when Meta sends one, else the business-scoped user id.
    customer      text NOT NULL UNIQUE,
    wa_id         text UNIQUE,
    user_id       text UNIQUE,
    name          text,
    tier          text NOT NULL DEFAULT 'new' CHECK (tier IN ('new', 'regular', 'vip')),
    language      text CHECK (language IN ('es', 'en')),
    total_orders  integer NOT NULL DEFAULT 0,
    last_inbound_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Every inbound message, stored before the webhook answers 200. `id` is the arrival order.
CREATE TABLE inbound_messages (
    id                  bigserial PRIMARY KEY,
    wamid               text NOT NULL UNIQUE,
    customer            text NOT NULL,
    phone_number_id     text NOT NULL DEFAULT '',
    type                text NOT NULL,
    sent_at             timestamptz,
    envelope            jsonb NOT NULL,
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'done', 'failed')),
    attempts            integer NOT NULL DEFAULT 0,
    rate_limit_exceeded boolean NOT NULL DEFAULT false,
    error               text,
    received_at         timestamptz NOT NULL DEFAULT now(),
    processed_at        timestamptz
);
CREATE INDEX inbound_pending_idx ON inbound_messages (customer, id) WHERE state = 'pending';
CREATE INDEX inbound_customer_idx ON inbound_messages (customer, id);

-- Every message the bot sends: the body, and the outcome of the Graph API call.
CREATE TABLE outbound_messages (
    id              bigserial PRIMARY KEY,
    -- "<inbound wamid>:<n>" for replies, so a reprocessed inbound never sends twice.
    idempotency_key text UNIQUE,
    customer        text NOT NULL,
    kind            text NOT NULL,
    body            jsonb NOT NULL,
    wamid           text UNIQUE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'accepted', 'failed')),
    http_status     integer,
    error_code      integer,
    error_title     text,
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbound_customer_idx ON outbound_messages (customer, id);

-- Delivery statuses from webhooks, keyed by wamid: they may arrive before the send call returns.
CREATE FUNCTION delivery_status_rank(status text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE status
        WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'played' THEN 4
        WHEN 'failed' THEN 100 ELSE 0 END
$$;

CREATE TABLE message_statuses (
    wamid       text PRIMARY KEY,
    recipient   text,
    status      text NOT NULL,
    error_code  integer,
    error_title text,
    status_at   timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE VIEW outbound_log AS
SELECT o.id, o.customer, o.kind, o.body, o.wamid, o.created_at,
       COALESCE(s.status, o.status) AS status,
       COALESCE(s.error_code, o.error_code) AS error_code,
       COALESCE(s.error_title, o.error_title) AS error_title
FROM outbound_messages o
LEFT JOIN message_statuses s ON s.wamid = o.wamid;

CREATE TABLE customer_sessions (
    customer    text PRIMARY KEY,
    state       text NOT NULL DEFAULT 'idle',
    cart        jsonb NOT NULL DEFAULT '[]'::jsonb,
    context     jsonb NOT NULL DEFAULT '{}'::jsonb,
    expires_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_sessions_expires_idx ON customer_sessions (expires_at);

CREATE TABLE rate_limit_config (
    tier           text PRIMARY KEY CHECK (tier IN ('new', 'regular', 'vip')),
    max_per_minute integer NOT NULL CHECK (max_per_minute > 0),
    max_per_hour   integer NOT NULL CHECK (max_per_hour > 0),
    max_per_day    integer NOT NULL CHECK (max_per_day > 0),
    burst_size     integer NOT NULL CHECK (burst_size > 0)
);
INSERT INTO rate_limit_config VALUES
    ('new', 5, 60, 500, 10),
    ('regular', 10, 120, 1000, 20),
    ('vip', 20, 300, 2000, 50);

CREATE TABLE system_config (
    key         text PRIMARY KEY,
    value       jsonb NOT NULL,
    description text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL DEFAULT current_user
);

-- Running bots LISTEN on this channel, so a plain SQL UPDATE takes effect at once.
CREATE FUNCTION system_config_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('system_config', COALESCE(NEW.key, OLD.key));
    RETURN NULL;
END $$;
CREATE TRIGGER system_config_changed
AFTER INSERT OR UPDATE OR DELETE ON system_config
FOR EACH ROW EXECUTE FUNCTION system_config_notify();
