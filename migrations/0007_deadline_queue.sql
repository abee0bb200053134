-- /app tasks go to a work queue of their own ({prefix}.deadline), so they
-- never wait behind Telegram prompts in the broker.
ALTER TABLE outbox DROP CONSTRAINT outbox_queue_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_queue_check
    CHECK (queue IN ('jobs', 'interactive', 'deadline'));
