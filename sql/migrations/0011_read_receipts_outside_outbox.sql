-- Read receipts (mark-read with "typing…") leave the outbox: the worker sends one as soon as it
-- starts on a message it will answer, in the background, and stores nothing. Nothing echoes a
-- receipt, repeating one is harmless and a lost one is not worth a retry, so the row written
-- and updated per message bought nothing. A flush's only write besides a reply's answer was the
-- receipt's answer, carried by the next `sending` mark: that mark now stands alone.

DROP FUNCTION mark_sending(bigint, bigint[], text[], text[], int[], int[], text[], int[]);

-- Before a reply's Graph API attempt (one not claimed at its commit, or a retry): false if a
-- status webhook settled the row meanwhile.
CREATE FUNCTION mark_sending(p_id bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    UPDATE outbound_messages SET status = 'sending', sending_at = now(), updated_at = now()
    WHERE id = p_id AND status IN ('pending', 'sending');
    RETURN FOUND;
END
$$;

-- Receipts queued before this version and never sent: stale now, so settled without a send.
UPDATE outbound_messages
SET status = 'failed', error_title = 'read receipt not sent: receipts left the outbox',
    updated_at = now()
WHERE kind IN ('read', 'typing') AND status IN ('pending', 'sending');
