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
    collections::{BTreeMap, VecDeque},
    future::Future,
    sync::{Arc, Mutex},
    time::Instant,
};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

/// Of every this many slots handed out while both kinds of job wait, one
/// goes to a job without a deadline, so an `/app` storm never starves the
/// Telegram prompts.
const PROMPT_SHARE: u32 = 4;

/// Who asks for a slot: a job with a deadline (an `/app` task) goes before
/// one without, the nearest deadline first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    Deadline(DateTime<Utc>),
    Whenever,
}

impl Urgency {
    pub fn of(deadline: Option<DateTime<Utc>>) -> Self {
        deadline.map_or(Self::Whenever, Self::Deadline)
    }
}

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
    pub async fn cpu<T>(&self, urgency: Urgency, work: impl Future<Output = T>) -> T {
        let _slot = self.cpu.take(urgency).await;
        work.await
    }

    /// Runs `call` (one generator call) in an LLM slot.
    pub async fn llm<T>(&self, urgency: Urgency, call: impl Future<Output = T>) -> T {
        let _slot = self.llm.take(urgency).await;
        call.await
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

/// A counted limit whose free slots go to the most urgent waiter.
#[derive(Clone)]
struct Limit(Arc<LimitInner>);

struct LimitInner {
    kind: &'static str,
    state: Mutex<LimitState>,
}

#[derive(Default)]
struct LimitState {
    free: usize,
    in_use: usize,
    /// Waiters with a deadline, nearest first (ties: first come).
    urgent: BTreeMap<(DateTime<Utc>, u64), oneshot::Sender<Slot>>,
    /// Waiters without one, first come first.
    whenever: VecDeque<oneshot::Sender<Slot>>,
    /// Slots handed to urgent waiters in a row while others waited.
    urgent_in_a_row: u32,
    arrivals: u64,
}

impl LimitState {
    fn waiting(&self) -> usize {
        self.urgent.len() + self.whenever.len()
    }

    /// The waiter the next free slot goes to.
    fn next_waiter(&mut self) -> Option<oneshot::Sender<Slot>> {
        let prompts_turn = self.urgent_in_a_row + 1 >= PROMPT_SHARE;
        if !self.whenever.is_empty() && (self.urgent.is_empty() || prompts_turn) {
            self.urgent_in_a_row = 0;
            return self.whenever.pop_front();
        }
        let (_, waiter) = self.urgent.pop_first()?;
        if !self.whenever.is_empty() {
            self.urgent_in_a_row += 1;
        }
        Some(waiter)
    }
}

/// A slot in use; freed when dropped (handed to the next waiter).
struct Slot {
    limit: Option<Limit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(limit) = self.limit.take() {
            limit.free_one();
        }
    }
}

impl Limit {
    fn new(kind: &'static str, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        metrics::gauge!("pagesmith_slots_capacity", "slot" => kind).set(capacity as f64);
        Self(Arc::new(LimitInner {
            kind,
            state: Mutex::new(LimitState {
                free: capacity,
                ..LimitState::default()
            }),
        }))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimitState> {
        self.0.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn take(&self, urgency: Urgency) -> Slot {
        let started = Instant::now();
        let granted = {
            let mut state = self.lock();
            if state.free > 0 && state.waiting() == 0 {
                state.free -= 1;
                state.in_use += 1;
                self.publish(&state);
                None
            } else {
                let (tx, rx) = oneshot::channel();
                state.arrivals += 1;
                match urgency {
                    Urgency::Deadline(at) => {
                        let arrival = state.arrivals;
                        state.urgent.insert((at, arrival), tx);
                    }
                    Urgency::Whenever => state.whenever.push_back(tx),
                }
                self.publish(&state);
                Some(rx)
            }
        };
        let slot = match granted {
            None => Slot {
                limit: Some(self.clone()),
            },
            // A slot handed to a waiter that gave up meanwhile (a deadline's
            // timeout dropped it) is dropped with the channel, which frees it.
            Some(rx) => rx.await.expect("a waiter is only dropped by its limit"),
        };
        metrics::histogram!("pagesmith_slot_wait_seconds", "slot" => self.0.kind)
            .record(started.elapsed().as_secs_f64());
        slot
    }

    /// A slot came back: to the most urgent waiter still waiting, else free.
    fn free_one(&self) {
        let mut state = self.lock();
        loop {
            let Some(waiter) = state.next_waiter() else {
                state.in_use -= 1;
                state.free += 1;
                break;
            };
            let slot = Slot {
                limit: Some(self.clone()),
            };
            match waiter.send(slot) {
                // The waiter owns the slot now (and frees it when done).
                Ok(()) => break,
                // That waiter gave up: take the slot back without freeing it
                // (we hold the lock) and try the next one.
                Err(mut slot) => {
                    slot.limit = None;
                }
            }
        }
        self.publish(&state);
    }

    fn usage(&self) -> (usize, usize) {
        let state = self.lock();
        (state.in_use, state.waiting())
    }

    fn publish(&self, state: &LimitState) {
        let kind = self.0.kind;
        metrics::gauge!("pagesmith_slots_in_use", "slot" => kind).set(state.in_use as f64);
        metrics::gauge!("pagesmith_slots_waiting", "slot" => kind).set(state.waiting() as f64);
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
            async move { slots.cpu(Urgency::Whenever, gate.notified()).await }
        });
        while slots.cpu_use() != (1, 0) {
            tokio::task::yield_now().await;
        }
        let second = tokio::spawn({
            let slots = slots.clone();
            async move { slots.cpu(Urgency::Whenever, async {}).await }
        });
        while slots.cpu_use() != (1, 1) {
            tokio::task::yield_now().await;
        }
        // The LLM limit is its own.
        slots.llm(Urgency::Whenever, async {}).await;
        assert_eq!(slots.llm_use(), (0, 0));
        gate.notify_one();
        first.await.unwrap();
        second.await.unwrap();
        assert_eq!(slots.cpu_use(), (0, 0));
    }

    #[tokio::test]
    async fn a_wait_cut_short_gives_its_place_back() {
        let slots = Slots::new(1, 1);
        let held = slots.cpu(
            Urgency::Whenever,
            tokio::time::sleep(Duration::from_millis(200)),
        );
        let cut = tokio::time::timeout(
            Duration::from_millis(10),
            slots.cpu(Urgency::Whenever, async {}),
        );
        let (_, cut) = tokio::join!(held, cut);
        assert!(cut.is_err(), "the second waited for the slot");
        assert_eq!(slots.cpu_use(), (0, 0));
        // The place the cut wait held is not lost.
        slots.cpu(Urgency::Whenever, async {}).await;
    }

    /// Holds the one slot of `limit` while `waiters` queue up in order, then
    /// lets the slot go round; returns the order they got it in.
    async fn order_served(waiters: Vec<(&'static str, Urgency)>) -> Vec<&'static str> {
        let limit = Limit::new("test", 1);
        let first = limit.take(Urgency::Whenever).await;
        let served = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, urgency) in waiters {
            let (mine, served) = (limit.clone(), served.clone());
            let waiting = limit.usage().1;
            tasks.push(tokio::spawn(async move {
                let _slot = mine.take(urgency).await;
                served.lock().unwrap().push(name);
            }));
            while limit.usage().1 == waiting {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(limit.usage(), (0, 0));
        Arc::try_unwrap(served).unwrap().into_inner().unwrap()
    }

    #[tokio::test]
    async fn the_nearest_deadline_goes_first_and_prompts_get_a_share() {
        let now = Utc::now();
        let at = |s| Urgency::Deadline(now + chrono::Duration::seconds(s));
        let order = order_served(vec![
            ("prompt 1", Urgency::Whenever),
            ("prompt 2", Urgency::Whenever),
            ("app in 300 s", at(300)),
            ("app in 60 s", at(60)),
            ("app in 120 s", at(120)),
            ("app in 600 s", at(600)),
            ("app in 90 s", at(90)),
        ])
        .await;
        assert_eq!(
            order,
            [
                "app in 60 s",
                "app in 90 s",
                "app in 120 s",
                "prompt 1",
                "app in 300 s",
                "app in 600 s",
                "prompt 2",
            ]
        );
    }

    #[tokio::test]
    async fn without_deadlines_it_is_first_come_first_served() {
        let order = order_served(vec![
            ("a", Urgency::Whenever),
            ("b", Urgency::Whenever),
            ("c", Urgency::Whenever),
        ])
        .await;
        assert_eq!(order, ["a", "b", "c"]);
    }
}
