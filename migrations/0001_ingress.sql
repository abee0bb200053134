-- Ingress: every accepted request becomes exactly one job, written in the same
-- transaction as its dedupe row and its outbox row.

-- A unit of work for the worker: a site to generate (from Telegram or /app),
-- a command, or a click on an inline button.
CREATE TABLE jobs (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('generate', 'command', 'callback')),
    source      text NOT NULL CHECK (source IN ('telegram', 'app')),
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN (
                    'queued', 'generating', 'checking', 'preview_ready',
                    'approved', 'publishing', 'published',
                    'done', 'failed', 'rejected', 'expired')),
    -- What was asked, as the domain type `JobPayload` serializes it.
    payload     jsonb NOT NULL,
    chat_id     bigint,
    user_id     bigint,
    -- The id of the HTTP request that created the job, so logs join up.
    request_id  text,
    -- /app jobs must call back before this instant.
    deadline    timestamptz,
    attempts    integer NOT NULL DEFAULT 0,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_by_chat ON jobs (chat_id, created_at DESC) WHERE chat_id IS NOT NULL;

-- Telegram updates seen, for deduplication by (bot, update_id). Telegram
-- restarts update_id at a random value after a week without updates, so a row
-- older than the dedupe TTL no longer counts as a duplicate (see db::ingest).
CREATE TABLE telegram_updates (
    bot_id      bigint NOT NULL,
    update_id   bigint NOT NULL,
    -- 'message', 'callback_query', 'edited_message', ...
    kind        text NOT NULL,
    -- NULL when the update was recorded as ignored.
    job_id      uuid REFERENCES jobs (id),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bot_id, update_id)
);

-- Evaluator task briefs posted to /app, deduplicated by (task, round, nonce).
-- Inserted before its job (so a concurrent replay finds it and creates
-- nothing), hence the deferred foreign key.
CREATE TABLE app_requests (
    job_id         uuid PRIMARY KEY REFERENCES jobs (id) DEFERRABLE INITIALLY DEFERRED,
    task           text NOT NULL,
    round          integer NOT NULL CHECK (round >= 1),
    nonce          text NOT NULL,
    email          text NOT NULL,
    brief          text NOT NULL,
    checks         jsonb NOT NULL,
    evaluation_url text NOT NULL,
    received_at    timestamptz NOT NULL,
    deadline       timestamptz NOT NULL,
    UNIQUE (task, round, nonce)
);
CREATE INDEX app_requests_by_task ON app_requests (task, round);

-- Attachments of an /app request, byte for byte as decoded from their data URIs.
CREATE TABLE attachments (
    job_id     uuid NOT NULL REFERENCES jobs (id),
    ordinal    integer NOT NULL,
    name       text NOT NULL,
    media_type text NOT NULL,
    data       bytea NOT NULL,
    sha256     bytea NOT NULL,
    PRIMARY KEY (job_id, ordinal),
    UNIQUE (job_id, name)
);

-- Transactional outbox: a row per message waiting to be published to
-- RabbitMQ. The relay locks a batch of rows (FOR UPDATE SKIP LOCKED) in a
-- transaction, publishes them, and deletes them in that transaction only
-- after the broker confirmed. available_at delays a row whose publish failed.
-- Only the primary key is indexed: every row here is pending, and each index
-- costs every webhook request a write.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    job_id       uuid NOT NULL REFERENCES jobs (id),
    queue        text NOT NULL CHECK (queue IN ('jobs', 'interactive')),
    payload      jsonb NOT NULL,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text
);
