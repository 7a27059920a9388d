-- Orders: readable order numbers and the history of status changes.

CREATE SEQUENCE order_number_seq;

-- "PED-000042": zero-padded to six digits, never truncated once the shop passes a million orders.
CREATE FUNCTION next_order_number() RETURNS text
LANGUAGE sql VOLATILE AS $$
    SELECT 'PED-' || lpad(n::text, greatest(6, length(n::text)), '0')
    FROM nextval('order_number_seq') AS n
$$;
ALTER TABLE orders ALTER COLUMN order_number SET DEFAULT next_order_number();

-- Who moved an order where, and when: operators and the payment webhook both change statuses.
CREATE TABLE order_status_history (
    id          bigserial PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text NOT NULL,
    to_status   text NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order_idx ON order_status_history (order_id, id);
