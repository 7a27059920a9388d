-- AI intent providers (tried by priority, each behind a circuit breaker) and one row per attempt.

CREATE TABLE ai_provider_config (
    id                   bigserial PRIMARY KEY,
    name                 text NOT NULL UNIQUE,
    kind                 text NOT NULL CHECK (kind IN ('openai', 'gemini')),
    base_url             text NOT NULL,
    model                text NOT NULL,
    -- Name of the environment variable holding the API key: keys never live in the database.
    api_key_env          text NOT NULL,
    enabled              boolean NOT NULL DEFAULT true,
    priority             integer NOT NULL DEFAULT 100,  -- lower is tried first
    timeout_ms           integer NOT NULL DEFAULT 2500 CHECK (timeout_ms > 0),
    max_tokens           integer NOT NULL DEFAULT 150 CHECK (max_tokens > 0),
    temperature          real NOT NULL DEFAULT 0 CHECK (temperature >= 0),
    -- One blended price (USD) for input and output tokens; operators keep it current.
    cost_per_1k_tokens   numeric(12, 6) NOT NULL DEFAULT 0 CHECK (cost_per_1k_tokens >= 0),
    breaker_failure_rate real NOT NULL DEFAULT 0.5
                         CHECK (breaker_failure_rate > 0 AND breaker_failure_rate <= 1),
    breaker_slow_call_ms integer NOT NULL DEFAULT 1500 CHECK (breaker_slow_call_ms > 0),
    breaker_slow_rate    real NOT NULL DEFAULT 0.8
                         CHECK (breaker_slow_rate > 0 AND breaker_slow_rate <= 1),
    breaker_min_calls    integer NOT NULL DEFAULT 5 CHECK (breaker_min_calls > 0),
    breaker_window_s     integer NOT NULL DEFAULT 60 CHECK (breaker_window_s > 0),
    breaker_open_s       integer NOT NULL DEFAULT 30 CHECK (breaker_open_s > 0),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

INSERT INTO ai_provider_config
    (name, kind, base_url, model, api_key_env, enabled, priority, cost_per_1k_tokens)
VALUES
    ('deepseek', 'openai', 'https://api.deepseek.com', 'deepseek-chat',
     'DEEPSEEK_API_KEY', true, 10, 0.0006),
    ('gemini', 'gemini', 'https://generativelanguage.googleapis.com/v1beta', 'gemini-2.5-flash',
     'GEMINI_API_KEY', true, 20, 0.0010),
    ('openai', 'openai', 'https://api.openai.com/v1', 'gpt-4o-mini',
     'OPENAI_API_KEY', false, 30, 0.0003);

-- Running bots LISTEN on this channel and reload their providers, so an UPDATE applies at once.
CREATE FUNCTION ai_provider_config_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ai_provider_config', COALESCE(NEW.name, OLD.name));
    RETURN NULL;
END $$;
CREATE TRIGGER ai_provider_config_changed
AFTER INSERT OR UPDATE OR DELETE ON ai_provider_config
FOR EACH ROW EXECUTE FUNCTION ai_provider_config_notify();

-- One row per detection step: each provider attempt, a skipped open breaker, a cache hit, or the
-- keyword fallback. The text itself is never stored, only a hash of its folded form.
CREATE TABLE intent_events (
    id          bigserial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    customer    text NOT NULL,
    text_hash   text NOT NULL,
    provider    text NOT NULL,  -- a provider name, 'cache' or 'keywords'
    outcome     text NOT NULL CHECK (outcome IN
                    ('ok', 'error', 'timeout', 'invalid', 'skipped_open', 'cache', 'fallback')),
    latency_ms  integer NOT NULL DEFAULT 0,
    http_status integer,
    tokens_in   integer,
    tokens_out  integer,
    cost        numeric(12, 8),
    intent      text
);
CREATE INDEX intent_events_created_idx ON intent_events (created_at);
CREATE INDEX intent_events_provider_idx ON intent_events (provider, created_at);
