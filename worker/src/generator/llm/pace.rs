//! The provider's pace, shared by every job of this worker: when the LLM
//! answers 429 (or 503), every call waits, not only the one that was told.
//!
//! A burst of 429s means the provider's limit is reached for everyone on
//! this key, so each job finding out on its own would only add to the
//! burst. The pause is the provider's `Retry-After` when it gives one, or a
//! backoff doubling from 1 s to 60 s (±25 %) over consecutive refusals; it ends at
//! the first answer that is not a refusal. Calls wait inside their job's
//! LLM slot and deadline (the wait counts against an `/app` deadline like
//! the call itself).

use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

use pagesmith::backoff::Backoff;

/// The longest pause without a `Retry-After`.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Debug, Default)]
pub(super) struct ProviderPace {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    paused_until: Option<Instant>,
    refusals_in_a_row: u32,
}

impl ProviderPace {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits until the provider may be called again.
    pub async fn wait_turn(&self) {
        loop {
            let until = self.lock().paused_until;
            match until {
                Some(until) if until > Instant::now() => {
                    metrics::counter!("pagesmith_llm_paused_waits_total").increment(1);
                    tokio::time::sleep_until(until.into()).await;
                }
                _ => return,
            }
        }
    }

    /// The provider refused a call for its rate; `retry_after` if it said
    /// how long to wait. Returns the pause every call now observes.
    pub fn refused(&self, retry_after: Option<Duration>) -> Duration {
        let mut state = self.lock();
        state.refusals_in_a_row += 1;
        let pause = retry_after.unwrap_or_else(|| {
            Backoff::nth(
                Duration::from_secs(1),
                MAX_BACKOFF,
                state.refusals_in_a_row.saturating_sub(1),
            )
        });
        let until = Instant::now() + pause;
        state.paused_until = Some(state.paused_until.map_or(until, |at| at.max(until)));
        metrics::counter!("pagesmith_llm_throttled_total").increment(1);
        pause
    }

    /// The provider answered (anything but a rate refusal).
    pub fn answered(&self) {
        self.lock().refusals_in_a_row = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_without_a_retry_after_back_off_doubling_to_a_minute() {
        let pace = ProviderPace::default();
        let steps = [1, 2, 4, 8, 16, 32, 60, 60, 60];
        for step in steps {
            let pause = pace.refused(None).as_secs_f64();
            assert!(
                (0.75 * step as f64..=1.25 * step as f64).contains(&pause),
                "{pause} around {step}"
            );
        }
        pace.answered();
        assert!(
            pace.refused(None) <= Duration::from_millis(1250),
            "back to the first step"
        );
        assert_eq!(
            pace.refused(Some(Duration::from_secs(7))),
            Duration::from_secs(7),
            "the provider's own wait wins"
        );
    }

    #[tokio::test]
    async fn every_caller_waits_out_a_pause() {
        let pace = ProviderPace::default();
        pace.refused(Some(Duration::from_millis(200)));
        let started = Instant::now();
        tokio::join!(pace.wait_turn(), pace.wait_turn());
        assert!(started.elapsed() >= Duration::from_millis(200));
    }
}
