-- Browser checks and repair rounds (several, not one).
--
-- repair_rounds: how many repair rounds a job's generation has had, so a
-- redelivered job goes on counting instead of starting again.
-- derived_checks: the LLM's reading of the brief's plain-English checks as
-- JavaScript assertions, [{"check": ..., "js": ...}], asked once per job
-- and kept, so a redelivery does not pay for it twice. NULL: not asked yet.
ALTER TABLE generations
    ADD COLUMN repair_rounds  integer NOT NULL DEFAULT 0 CHECK (repair_rounds >= 0),
    ADD COLUMN derived_checks jsonb;
UPDATE generations SET repair_rounds = 1 WHERE repaired;
ALTER TABLE generations DROP COLUMN repaired;
