//! One retry policy for every loop that waits for something to come back
//! (a broker, a database, Telegram, an evaluator, an LLM provider):
//! exponential steps up to a cap, each wait jittered by ±25 %, so that
//! processes which failed together do not all retry at the same instant.

use std::time::Duration;

use rand::Rng;

/// Waits that double from `first` up to `max`, jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    step: Duration,
}

impl Backoff {
    pub const fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            step: first,
        }
    }

    /// The wait before the next try: the current step, jittered; the step
    /// then doubles, up to `max`.
    pub fn next_wait(&mut self) -> Duration {
        let step = self.step;
        self.step = self.step.saturating_mul(2).min(self.max);
        jitter(step)
    }

    /// Back to the first step (after a success).
    pub fn reset(&mut self) {
        self.step = self.first;
    }

    /// The step the next wait is drawn around.
    pub fn step(&self) -> Duration {
        self.step
    }

    /// The wait after failure number `attempt` (0 for the first), for
    /// callers that count attempts rather than keep a `Backoff`.
    pub fn nth(first: Duration, max: Duration, attempt: u32) -> Duration {
        let step = first
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(max);
        jitter(step)
    }
}

/// `wait` ±25 %, uniformly (unjittered where that would overflow).
pub fn jitter(wait: Duration) -> Duration {
    Duration::try_from_secs_f64(wait.as_secs_f64() * rand::rng().random_range(0.75..=1.25))
        .unwrap_or(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn within(wait: Duration, step: Duration) -> bool {
        wait >= step.mul_f64(0.75) && wait <= step.mul_f64(1.25)
    }

    #[test]
    fn steps_double_to_the_cap_and_reset() {
        let mut backoff = Backoff::new(FIRST, MAX);
        let mut steps = Vec::new();
        for _ in 0..9 {
            steps.push(backoff.step());
            let step = backoff.step();
            assert!(within(backoff.next_wait(), step));
        }
        let ms: Vec<u128> = steps.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        backoff.reset();
        assert_eq!(backoff.step(), FIRST);
    }

    #[test]
    fn waits_are_jittered_not_fixed() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(1));
        let waits: std::collections::BTreeSet<Duration> =
            (0..50).map(|_| backoff.next_wait()).collect();
        assert!(waits.len() > 40, "{} distinct of 50", waits.len());
        assert!(waits.iter().all(|w| within(*w, Duration::from_secs(1))));
    }

    #[test]
    fn an_uncapped_backoff_never_panics() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::MAX);
        for _ in 0..200 {
            backoff.next_wait();
        }
        assert_eq!(backoff.step(), Duration::MAX);
    }

    #[test]
    fn the_nth_wait_follows_the_same_steps_and_never_overflows() {
        for (attempt, step) in [(0, 100), (1, 200), (5, 3200), (6, 5000), (200, 5000)] {
            let wait = Backoff::nth(FIRST, MAX, attempt);
            assert!(
                within(wait, Duration::from_millis(step)),
                "{attempt}: {wait:?}"
            );
        }
    }
}
