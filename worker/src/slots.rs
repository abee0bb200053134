//! Two limits instead of one: waiting is not working.
//!
//! A generation spends almost all its time waiting on the LLM, and
//! milliseconds on checks and bundling. So a job holds no slot while it
//! waits (on the LLM, on the database, on GitHub Pages or a callback); it
//! takes
//! - an **LLM slot** for each call to the generator (`LLM_MAX_CONCURRENT`,
//!   default 64: bounded by what the provider allows, not by cores), and
//! - a **CPU slot** for the stages that work the machine: the static and
//!   browser checks and bundling (`WORKER_CONCURRENCY`, default the
//!   machine's cores).
//!
//! The jobs queue's prefetch is the sum of both, so a worker holds enough
//! deliveries to keep both limits busy; acks are unchanged (held until the
//! run ends), so a worker killed mid-wait loses nothing.
//!
//! Metrics, per slot kind (`cpu`, `llm`): `pagesmith_slots_capacity`,
//! `pagesmith_slots_in_use`, `pagesmith_slots_waiting` and
//! `pagesmith_slot_wait_seconds`, so an operator sees which limit binds.

use std::{
    future::Future,
    sync::atomic::{AtomicUsize, Ordering},
    time::Instant,
};

use tokio::sync::{Semaphore, SemaphorePermit};

/// The worker's two limits.
pub struct Slots {
    cpu: Limit,
    llm: Limit,
}

impl Slots {
    pub fn new(cpu: usize, llm: usize) -> Self {
        Self {
            cpu: Limit::new("cpu", cpu),
            llm: Limit::new("llm", llm),
        }
    }

    /// Runs `work` (checks, bundling) in a CPU slot.
    pub async fn cpu<T>(&self, work: impl Future<Output = T>) -> T {
        self.cpu.run(work).await
    }

    /// Runs `call` (one generator call) in an LLM slot.
    pub async fn llm<T>(&self, call: impl Future<Output = T>) -> T {
        self.llm.run(call).await
    }

    /// (in use, waiting) CPU slots.
    pub fn cpu_use(&self) -> (usize, usize) {
        self.cpu.usage()
    }

    /// (in use, waiting) LLM slots.
    pub fn llm_use(&self) -> (usize, usize) {
        self.llm.usage()
    }
}

struct Limit {
    kind: &'static str,
    permits: Semaphore,
    in_use: AtomicUsize,
    waiting: AtomicUsize,
}

impl Limit {
    fn new(kind: &'static str, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        metrics::gauge!("pagesmith_slots_capacity", "slot" => kind).set(capacity as f64);
        Self {
            kind,
            permits: Semaphore::new(capacity),
            in_use: AtomicUsize::new(0),
            waiting: AtomicUsize::new(0),
        }
    }

    async fn run<T>(&self, work: impl Future<Output = T>) -> T {
        let _slot = self.take().await;
        work.await
    }

    async fn take(&self) -> Taken<'_> {
        let started = Instant::now();
        let waiting = Counted::new(&self.waiting, self.kind, "pagesmith_slots_waiting");
        let permit = self
            .permits
            .acquire()
            .await
            .expect("the semaphore is never closed");
        drop(waiting);
        metrics::histogram!("pagesmith_slot_wait_seconds", "slot" => self.kind)
            .record(started.elapsed().as_secs_f64());
        Taken {
            _permit: permit,
            _in_use: Counted::new(&self.in_use, self.kind, "pagesmith_slots_in_use"),
        }
    }

    fn usage(&self) -> (usize, usize) {
        (
            self.in_use.load(Ordering::Relaxed),
            self.waiting.load(Ordering::Relaxed),
        )
    }
}

struct Taken<'a> {
    _permit: SemaphorePermit<'a>,
    _in_use: Counted<'a>,
}

/// One in a count (and its gauge) for as long as it lives, so a cancelled
/// wait or run (a deadline's timeout) is taken off too.
struct Counted<'a> {
    count: &'a AtomicUsize,
    kind: &'static str,
    gauge: &'static str,
}

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize, kind: &'static str, gauge: &'static str) -> Self {
        let now = count.fetch_add(1, Ordering::Relaxed) + 1;
        metrics::gauge!(gauge, "slot" => kind).set(now as f64);
        Self { count, kind, gauge }
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        let now = self.count.fetch_sub(1, Ordering::Relaxed) - 1;
        metrics::gauge!(self.gauge, "slot" => self.kind).set(now as f64);
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use super::*;

    #[tokio::test]
    async fn a_slot_is_held_while_its_work_runs_and_others_wait() {
        let slots = Arc::new(Slots::new(1, 2));
        let gate = Arc::new(tokio::sync::Notify::new());
        let first = tokio::spawn({
            let (slots, gate) = (slots.clone(), gate.clone());
            async move { slots.cpu(gate.notified()).await }
        });
        while slots.cpu_use() != (1, 0) {
            tokio::task::yield_now().await;
        }
        let second = tokio::spawn({
            let slots = slots.clone();
            async move { slots.cpu(async {}).await }
        });
        while slots.cpu_use() != (1, 1) {
            tokio::task::yield_now().await;
        }
        // The LLM limit is its own.
        slots.llm(async {}).await;
        assert_eq!(slots.llm_use(), (0, 0));
        gate.notify_one();
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(slots.cpu_use(), (0, 0));
    }

    #[tokio::test]
    async fn a_wait_cut_short_gives_its_place_back() {
        let slots = Slots::new(1, 1);
        let held = slots.cpu(tokio::time::sleep(Duration::from_millis(200)));
        let cut = tokio::time::timeout(Duration::from_millis(10), slots.cpu(async {}));
        let (_, cut) = tokio::join!(held, cut);
        assert!(cut.is_err(), "the second waited for the slot");
        assert_eq!(slots.cpu_use(), (0, 0));
    }
}
