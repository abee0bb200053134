-- Sites: projects, their versions (one per round or revision), and what the
-- worker records on the way from a prompt to a preview.

-- A site: one repository once published, many versions.
CREATE TABLE projects (
    id            uuid PRIMARY KEY,
    source        text NOT NULL CHECK (source IN ('telegram', 'app')),
    -- The /app task this project answers (NULL for Telegram projects).
    task          text UNIQUE,
    chat_id       bigint,
    owner_user_id bigint,
    -- Who the site's LICENSE names.
    owner_name    text NOT NULL,
    title         text NOT NULL,
    -- What was first asked for; later rounds ask for changes to it.
    brief         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_by_chat ON projects (chat_id, created_at DESC) WHERE chat_id IS NOT NULL;

ALTER TABLE jobs
    ADD COLUMN project_id uuid REFERENCES projects (id),
    ADD COLUMN round integer,
    -- The Telegram message edited as the job's stages pass.
    ADD COLUMN status_message_id integer,
    -- LLM calls that failed for this job; after two, the built-in generator
    -- writes the site.
    ADD COLUMN llm_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN started_at timestamptz,
    ADD COLUMN finished_at timestamptz;

-- Every delivery of a job that did work: when, which stage, how it ended.
CREATE TABLE job_attempts (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL REFERENCES jobs (id),
    attempt     integer NOT NULL,
    stage       text NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome     text CHECK (outcome IN ('succeeded', 'retrying', 'failed', 'abandoned')),
    error       text
);
CREATE INDEX job_attempts_by_job ON job_attempts (job_id, id);

-- A job's generated files, committed when generation ends, so a redelivered
-- job resumes at checking instead of paying for the LLM again.
CREATE TABLE generations (
    job_id     uuid PRIMARY KEY REFERENCES jobs (id),
    -- 'builtin' or 'llm:<model>'.
    generator  text NOT NULL,
    -- The LLM's raw answer(s), for traceability. Never published.
    raw_output text,
    -- [{"path": ..., "content": ...}] as generated, validated.
    files      jsonb NOT NULL,
    -- Whether the one repair round already ran.
    repaired   boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A checked, immutable version of a project: one per generation job.
CREATE TABLE versions (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects (id),
    job_id        uuid NOT NULL UNIQUE REFERENCES jobs (id),
    number        integer NOT NULL,
    generator     text NOT NULL,
    -- [{"path", "sha256", "size", "media_type"}], sorted by path.
    files         jsonb NOT NULL,
    -- Content hash naming the bundle directory under DATA_DIR/bundles.
    bundle        text NOT NULL,
    -- [{"name", "passed", "detail"}] from the self-check.
    checks        jsonb NOT NULL,
    -- Unguessable (192 bits), in preview URLs.
    preview_token text NOT NULL UNIQUE,
    state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'rejected', 'expired')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    UNIQUE (project_id, number)
);

-- The bot's messages in chats, so a reply or a click finds its project.
CREATE TABLE chat_messages (
    chat_id    bigint NOT NULL,
    message_id integer NOT NULL,
    project_id uuid NOT NULL REFERENCES projects (id),
    version_id uuid REFERENCES versions (id),
    -- 'status', 'ready', 'revise_prompt', ...
    purpose    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (chat_id, message_id)
);
