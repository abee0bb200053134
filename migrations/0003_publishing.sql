-- Publishing and the evaluation callback.

-- A project's repository, fixed at its first publish.
ALTER TABLE projects
    ADD COLUMN repo_name text UNIQUE,
    ADD COLUMN repo_url  text,
    ADD COLUMN pages_url text;

-- A published version: one commit per round.
CREATE TABLE publishes (
    version_id       uuid PRIMARY KEY REFERENCES versions (id),
    job_id           uuid NOT NULL REFERENCES jobs (id),
    -- 'local' or 'github'.
    publisher        text NOT NULL,
    repo_url         text NOT NULL,
    commit_sha       text NOT NULL,
    pages_url        text NOT NULL,
    -- 'built' once the pages serve this commit; 'pending' when the callback
    -- had to go out before that was confirmed.
    pages_status     text NOT NULL DEFAULT 'pending' CHECK (pages_status IN ('pending', 'built')),
    published_at     timestamptz NOT NULL DEFAULT now(),
    pages_checked_at timestamptz
);
CREATE INDEX publishes_by_job ON publishes (job_id);

-- The evaluation callback of an /app request: delivered at most once per
-- (task, round, nonce) unless earlier attempts failed.
ALTER TABLE app_requests
    ADD COLUMN callback_status text NOT NULL DEFAULT 'pending'
        CHECK (callback_status IN ('pending', 'delivered', 'failed')),
    ADD COLUMN callback_delivered_at timestamptz;

-- Every callback attempt, with the time left before the deadline.
CREATE TABLE callback_attempts (
    id                 bigserial PRIMARY KEY,
    job_id             uuid NOT NULL REFERENCES jobs (id),
    attempt            integer NOT NULL,
    sent_at            timestamptz NOT NULL DEFAULT now(),
    status_code        integer,
    error              text,
    deadline_margin_ms bigint NOT NULL
);
CREATE INDEX callback_attempts_by_job ON callback_attempts (job_id, id);
