-- Unsettled replies are few, and every worker turn (OutboundLog.pending) and every inbox poll
-- looks for them: without this index the poll read the whole outbound log twice a second and
-- each turn read all of a customer's past replies.
CREATE INDEX outbound_unsent_idx ON outbound_messages (customer, id)
    WHERE status IN ('pending', 'sending');
