-- Messages to Telegram go through a durable per-chat queue, so no job waits
-- on Telegram: a stage inserts a row and moves on, and each worker's
-- delivery loop (worker/src/telegram/delivery.rs) sends it, in order per
-- chat, at the chat's pace, pausing only that chat on a 429.

-- One row per chat the bot has written to: its pace and who is sending.
-- next_send_at: the earliest the next message may go (the chat's spacing,
-- or the retry_after of a 429). leased_until/lease_owner: a worker claimed
-- the chat and is sending its next message; an expired lease (a worker
-- killed mid-send) lets another worker take over.
CREATE TABLE telegram_chats (
    chat_id      bigint PRIMARY KEY,
    next_send_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    lease_owner  uuid
);

-- What to send. target_key names a message the bot keeps editing (a job's
-- status message, which becomes its ready message): the first delivery
-- sends it, later ones edit it. target_message_id names an existing message
-- (the one whose button was clicked). Neither: a new message.
-- A newer pending row for the same target and kind supersedes older pending
-- ones (the latest status text wins). once_key makes an enqueue idempotent
-- (a redelivered job does not queue its ready message twice).
-- record_*: on delivery, remember what the message is about (chat_messages),
-- so replies and clicks find their project.
CREATE TABLE telegram_outbox (
    id                bigserial PRIMARY KEY,
    chat_id           bigint NOT NULL,
    priority          smallint NOT NULL CHECK (priority IN (0, 1)),
    kind              text NOT NULL CHECK (kind IN ('text', 'buttons', 'photo')),
    target_key        text,
    target_message_id integer,
    body              jsonb NOT NULL,
    photo             bytea,
    once_key          text UNIQUE,
    record_project_id uuid,
    record_version_id uuid,
    record_purpose    text,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'superseded', 'failed')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    message_id        integer,
    created_at        timestamptz NOT NULL DEFAULT now(),
    done_at           timestamptz,
    CHECK (target_key IS NULL OR target_message_id IS NULL)
);
CREATE INDEX telegram_outbox_pending ON telegram_outbox (chat_id, priority, id)
    WHERE state = 'pending';
CREATE INDEX telegram_outbox_done ON telegram_outbox (done_at) WHERE state <> 'pending';

-- The message each target_key became.
CREATE TABLE telegram_messages (
    chat_id    bigint NOT NULL,
    target_key text NOT NULL,
    message_id integer NOT NULL,
    PRIMARY KEY (chat_id, target_key)
);

-- A job's status message is now the telegram_messages row of its key
-- (status:<job id>).
ALTER TABLE jobs DROP COLUMN status_message_id;
