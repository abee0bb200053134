//! Per-chat limits on LLM generations: every prompt spends LLM budget, and
//! one chat (a user, or someone who found the bot) must not spend it all.
//!
//! A GCRA limiter (governor) keyed by chat: `CHAT_LLM_BURST` generations at
//! once, refilled at `CHAT_LLM_PER_HOUR`. The state is in memory, so each
//! worker process keeps its own: with N workers a chat may start up to N
//! times as many. `/app` jobs are not limited; their secret admits them and
//! their deadline cannot wait.

use std::{num::NonZeroU32, time::Duration};

use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

/// Chats kept before idle ones are forgotten.
const MAX_TRACKED_CHATS: usize = 10_000;

pub struct ChatLimiter {
    limiter: DefaultKeyedRateLimiter<i64>,
    clock: DefaultClock,
}

impl ChatLimiter {
    pub fn new(per_hour: NonZeroU32, burst: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::keyed(Quota::per_hour(per_hour).allow_burst(burst)),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one generation for `chat_id`, or says how long until the chat
    /// may start another.
    pub fn check(&self, chat_id: i64) -> Result<(), Duration> {
        if self.limiter.len() > MAX_TRACKED_CHATS {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&chat_id)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// "about 12 minutes", for the user.
pub fn in_words(wait: Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    match minutes {
        1 => "about a minute".to_owned(),
        m if m < 90 => format!("about {m} minutes"),
        m => format!("about {} hours", m.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chat_gets_its_burst_then_waits_while_others_go_on() {
        let limiter = ChatLimiter::new(NonZeroU32::new(6).unwrap(), NonZeroU32::new(2).unwrap());
        assert!(limiter.check(1).is_ok());
        assert!(limiter.check(1).is_ok());
        let wait = limiter.check(1).unwrap_err();
        // Six an hour: one every ten minutes.
        assert!(
            wait > Duration::from_secs(9 * 60) && wait <= Duration::from_secs(10 * 60),
            "{wait:?}"
        );
        assert!(limiter.check(2).is_ok(), "another chat is not limited");
    }

    #[test]
    fn waits_read_naturally() {
        assert_eq!(in_words(Duration::from_secs(5)), "about a minute");
        assert_eq!(
            in_words(Duration::from_secs(9 * 60 + 1)),
            "about 10 minutes"
        );
        assert_eq!(in_words(Duration::from_secs(3 * 3600)), "about 3 hours");
    }
}
