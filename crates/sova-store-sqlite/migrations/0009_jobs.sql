-- Durable jobs (sova-jobs). Times are Unix microseconds. States:
-- queued → running → done | retry (waits for run_at) → running … → dead.
-- A running job whose lease_until has passed is claimable again (its worker died).
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL DEFAULT '{}',
    idempotency_key TEXT,
    state           TEXT    NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'running', 'retry', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER,          -- NULL: the runner's JOB_MAX_ATTEMPTS
    run_at          INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_token     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
-- NULL keys never collide; a key is unique per kind while its row is kept.
CREATE UNIQUE INDEX jobs_idempotency ON jobs(kind, idempotency_key);
CREATE INDEX jobs_ready ON jobs(state, run_at);
CREATE INDEX jobs_lease ON jobs(lease_until) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs(finished_at) WHERE finished_at IS NOT NULL;
