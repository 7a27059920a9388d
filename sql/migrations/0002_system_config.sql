-- Operator switches, read live by every running bot (see bot/config.py for types and defaults).
INSERT INTO system_config (key, value, description) VALUES
    ('use_ai_providers', 'true', 'Ask AI providers for the intent; false = keyword classifier only'),
    ('use_redis_sessions', 'true', 'Cache sessions in Redis; false = PostgreSQL only'),
    ('rate_limiting_enabled', 'true', 'Apply per-tier message limits'),
    ('maintenance_mode', 'false', 'Answer every message with maintenance_message and do nothing else'),
    ('maintenance_message', 'null', 'Text for maintenance mode; null = the default text in the customer''s language'),
    ('session_ttl_seconds', '7200', 'Idle time after which a session (and its cart) expires'),
    ('ai_deadline_ms', '2500', 'Time budget for all AI provider attempts for one message');
