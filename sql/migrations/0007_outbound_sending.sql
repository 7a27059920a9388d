-- A reply is marked `sending`, with the time of the attempt, just before each Graph API call.
-- A process killed after Meta accepted the reply but before it recorded the answer leaves the
-- row `sending`: the status webhook that echoes the row's key (biz_opaque_callback_data) settles
-- it as accepted, and only a row no status settled within a grace period is sent again.
ALTER TABLE outbound_messages DROP CONSTRAINT outbound_messages_status_check;
ALTER TABLE outbound_messages ADD CONSTRAINT outbound_messages_status_check
    CHECK (status IN ('pending', 'sending', 'accepted', 'failed'));
ALTER TABLE outbound_messages ADD COLUMN sending_at timestamptz;
