//! One run per job at a time.
//!
//! A duplicate message (an outbox republish, a redelivery racing a slow
//! worker) must not run a job twice at once. Each job takes a PostgreSQL
//! session advisory lock keyed by its id. All of a worker's job locks live
//! on one session of its own, so a job waiting on the LLM holds no
//! connection (a worker may have dozens of jobs in flight, see `slots`), and
//! a set in the process keeps two deliveries inside one worker apart (a
//! session's advisory locks are re-entrant). If the worker dies, its session
//! closes and its locks go with it, so the broker's redelivery can start at
//! once: no lease to wait out. If the session breaks while the worker lives,
//! its runs go on without the database's lock (their stages commit only
//! from the states they expect), and the next job opens a new session.

use std::{collections::HashSet, sync::Arc};

use sqlx::{PgPool, pool::PoolConnection, postgres::Postgres};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The worker's job locks.
#[derive(Clone)]
pub struct JobLocks(Arc<Inner>);

struct Inner {
    pool: PgPool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    session: Option<PoolConnection<Postgres>>,
    /// Counts sessions, so a lock taken on a closed one is not unlocked on
    /// its successor.
    epoch: u64,
    held: HashSet<Uuid>,
}

const LOCK: &str = "SELECT pg_try_advisory_lock(hashtextextended($1::text, 0))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtextextended($1::text, 0))";

impl JobLocks {
    pub fn new(pool: PgPool) -> Self {
        Self(Arc::new(Inner {
            pool,
            state: Mutex::default(),
        }))
    }

    /// Takes the job's lock, or `None` when another run holds it (in this
    /// worker or another).
    pub async fn try_acquire(&self, job_id: Uuid) -> Result<Option<JobLock>, sqlx::Error> {
        let mut state = self.0.state.lock().await;
        if state.held.contains(&job_id) {
            return Ok(None);
        }
        if state.session.is_none() {
            state.session = Some(self.0.pool.acquire().await?);
            state.epoch += 1;
        }
        let session = state.session.as_mut().expect("opened above");
        let locked = sqlx::query_scalar::<_, bool>(LOCK)
            .bind(job_id)
            .fetch_one(&mut **session)
            .await;
        match locked {
            Ok(true) => {
                state.held.insert(job_id);
                Ok(Some(JobLock {
                    locks: Some(self.clone()),
                    job_id,
                    epoch: state.epoch,
                }))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                state.close_session();
                Err(e)
            }
        }
    }

    async fn unlock(&self, job_id: Uuid, epoch: u64) {
        let mut state = self.0.state.lock().await;
        state.held.remove(&job_id);
        if state.epoch != epoch {
            return;
        }
        let Some(session) = state.session.as_mut() else {
            return;
        };
        let unlocked = sqlx::query(UNLOCK)
            .bind(job_id)
            .execute(&mut **session)
            .await;
        if unlocked.is_err() {
            // A session that may still hold the lock must not live on.
            state.close_session();
        }
    }

    /// Jobs locked by this worker now.
    pub async fn held(&self) -> usize {
        self.0.state.lock().await.held.len()
    }
}

impl State {
    fn close_session(&mut self) {
        if let Some(mut session) = self.session.take() {
            session.close_on_drop();
        }
    }
}

/// A job's lock, until [`JobLock::release`] or drop.
pub struct JobLock {
    locks: Option<JobLocks>,
    job_id: Uuid,
    epoch: u64,
}

impl JobLock {
    /// Unlocks.
    pub async fn release(mut self) {
        if let Some(locks) = self.locks.take() {
            locks.unlock(self.job_id, self.epoch).await;
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        // Dropped without release (a run cut off by its timeout, a panic):
        // unlock in the background.
        if let Some(locks) = self.locks.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let (job_id, epoch) = (self.job_id, self.epoch);
            runtime.spawn(async move { locks.unlock(job_id, epoch).await });
        }
    }
}
