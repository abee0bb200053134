-- Ingress writes a dedupe row, a job and an outbox row for every update, in
-- one statement (db::ingest). The foreign keys from telegram_updates.job_id
-- and outbox.job_id to jobs made PostgreSQL run a referential check per row
-- (a lookup and a row lock on the job just inserted): about a third of the
-- database's work per update, and 10-30% of webhook throughput in
-- profiling runs of scripts/bench-ingress' load. Nothing they guarded can
-- happen:
--   * both rows name a job inserted by the same statement or transaction
--     (db::ingest, db::app) or one that exists already (db::outbox::enqueue),
--   * and jobs are never deleted.
-- The tests check the invariant instead (bot/tests/api/webhook.rs); a dangling id
-- would reach the worker as an unknown job and fail permanently, never
-- silently (worker/src/process.rs).
ALTER TABLE telegram_updates DROP CONSTRAINT telegram_updates_job_id_fkey;
ALTER TABLE outbox DROP CONSTRAINT outbox_job_id_fkey;
