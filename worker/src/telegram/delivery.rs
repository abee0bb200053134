//! The delivery loop: sends what jobs queued (`outbox.rs`), at a pace that
//! fits Telegram's limits, and waits out a 429 in that chat alone.
//!
//! - A worker claims one chat at a time per message (a lease in
//!   `telegram_chats`), so a chat's messages go out in order whichever
//!   worker sends them, and up to [`IN_FLIGHT`] chats are served at once.
//! - In a chat, replies go before background messages (status edits,
//!   screenshots); a newer status text already replaced the queued older
//!   one, so the latest text wins and is never followed by an older one.
//! - After each message the chat waits its spacing ([`Pace`]): about one
//!   message a second in a private chat, with no per-minute cap, and 20 a
//!   minute in a group or channel. All chats together stay under the
//!   overall rate (30/s by default) of this worker.
//! - A 429 pauses only its chat, for exactly the `retry_after` Telegram
//!   gave; network trouble and 5xx back off (with jitter) and retry for up to
//!   a day; a refusal (a bad request, a blocked bot) fails that message and
//!   the chat moves on.
//!
//! Delivery is at least once: a worker killed between Telegram's answer and
//! recording it leaves the message to be sent again when its lease expires.
//! Recording is retried, so only a kill (not a database blip) does that.

use std::{sync::Arc, time::Duration};

use pagesmith::{
    backoff::Backoff,
    db::telegram::{self as queue, Kind, Queued, Target, Undelivered},
};
use tokio::{sync::Mutex, task::JoinSet, time::Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{
    Telegram, TelegramError,
    outbox::{Body, Outbox},
};

/// Chats served at once by one worker.
const IN_FLIGHT: usize = 8;
/// How long a claim on a chat lasts; longer than any one Bot API call
/// (teloxide's client gives up after 17 s).
const LEASE: Duration = Duration::from_secs(60);
/// How often the loop looks for messages other workers queued.
const POLL: Duration = Duration::from_secs(1);
/// A message Telegram keeps failing (not refusing) is given up after this.
const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How long sent, superseded and failed rows are kept.
const KEEP_DONE: Duration = Duration::from_secs(7 * 24 * 3600);
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Telegram's limits, as spacing between messages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Between two messages in a private chat (`TELEGRAM_PRIVATE_CHAT_INTERVAL_MS`).
    pub private_chat: Duration,
    /// Between two messages in a group or channel (`TELEGRAM_GROUP_CHAT_INTERVAL_MS`).
    pub group_chat: Duration,
    /// Messages per second over all chats (`TELEGRAM_MAX_PER_SECOND`).
    pub overall_per_second: u32,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            private_chat: Duration::from_secs(1),
            group_chat: Duration::from_secs(3),
            overall_per_second: 30,
        }
    }
}

impl Pace {
    /// The spacing for `chat_id`: users' ids (private chats) are positive,
    /// groups' and channels' negative.
    pub fn spacing(&self, chat_id: i64) -> Duration {
        if chat_id > 0 {
            self.private_chat
        } else {
            self.group_chat
        }
    }
}

/// Runs until `stop`; messages being sent then are finished first.
pub async fn run(telegram: Telegram, outbox: Outbox, pace: Pace, stop: CancellationToken) {
    if !telegram.enabled() {
        return;
    }
    let sender = Arc::new(Sender {
        telegram,
        outbox: outbox.clone(),
        pace,
        owner: Uuid::new_v4(),
        overall: Overall::new(pace.overall_per_second),
    });
    let pool = outbox.pool().clone();
    let mut in_flight = JoinSet::new();
    let mut pruned = Instant::now();
    loop {
        let mut trouble = false;
        while in_flight.len() < IN_FLIGHT {
            match queue::claim(&pool, sender.owner, LEASE).await {
                Ok(Some(chat)) => {
                    in_flight.spawn(sender.clone().serve(chat));
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "could not look for Telegram messages to send");
                    trouble = true;
                    break;
                }
            }
        }
        let wait = match queue::next_due_in(&pool).await {
            _ if trouble => POLL,
            Ok(Some(due)) => due.min(POLL),
            _ => POLL,
        };
        if pruned.elapsed() > PRUNE_EVERY {
            pruned = Instant::now();
            match queue::prune(&pool, KEEP_DONE).await {
                Ok(n) if n > 0 => tracing::info!(rows = n, "pruned delivered Telegram messages"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune the Telegram outbox"),
            }
        }
        tokio::select! {
            () = stop.cancelled() => break,
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            () = outbox.bell().notified(), if in_flight.len() < IN_FLIGHT => {}
            () = tokio::time::sleep(wait), if in_flight.len() < IN_FLIGHT => {}
        }
    }
    while in_flight.join_next().await.is_some() {}
}

struct Sender {
    telegram: Telegram,
    outbox: Outbox,
    pace: Pace,
    owner: Uuid,
    overall: Overall,
}

/// What became of one message.
enum Outcome {
    Delivered(Option<i32>),
    Postponed(Duration, String),
    Failed(String),
}

impl Sender {
    /// Sends the claimed chat's next message and records what happened,
    /// which also releases the chat.
    async fn serve(self: Arc<Self>, chat_id: i64) {
        let pool = self.outbox.pool();
        let message = match queue::next(pool, chat_id).await {
            Ok(Some(message)) => message,
            Ok(None) => {
                let _ = queue::release_idle(pool, chat_id, self.owner).await;
                return;
            }
            Err(e) => {
                // The lease runs out and the chat is tried again.
                tracing::warn!(chat_id, error = %e, "could not read the next Telegram message");
                return;
            }
        };
        self.overall.wait_turn().await;
        let outcome = self.deliver(&message).await;
        let spacing = self.pace.spacing(chat_id);
        let label = match &outcome {
            Outcome::Delivered(_) => "sent",
            Outcome::Postponed(..) => "postponed",
            Outcome::Failed(_) => "failed",
        };
        metrics::counter!("pagesmith_telegram_deliveries_total", "outcome" => label).increment(1);
        for attempt in 0..5u32 {
            let recorded = match &outcome {
                Outcome::Delivered(id) => {
                    metrics::histogram!("pagesmith_telegram_queue_seconds")
                        .record(message.queued_for.as_secs_f64());
                    queue::delivered(pool, &message, *id, self.owner, spacing).await
                }
                Outcome::Postponed(wait, why) => {
                    tracing::info!(chat_id, ?wait, reason = %why, "Telegram message postponed");
                    let retry = Undelivered::Retry;
                    queue::undelivered(pool, &message, retry, why, self.owner, *wait).await
                }
                Outcome::Failed(why) => {
                    tracing::warn!(chat_id, reason = %why, "Telegram refused a message; dropped");
                    let give_up = Undelivered::GiveUp;
                    queue::undelivered(pool, &message, give_up, why, self.owner, spacing).await
                }
            };
            match recorded {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(chat_id, error = %e, attempt, "could not record a Telegram delivery");
                    tokio::time::sleep(Duration::from_secs(1 << attempt)).await;
                }
            }
        }
    }

    async fn deliver(&self, message: &Queued) -> Outcome {
        let result = self.call(message).await;
        match result {
            Ok(id) => Outcome::Delivered(id),
            Err(TelegramError::RetryAfter(wait)) => {
                Outcome::Postponed(wait, format!("429: retry after {wait:?}"))
            }
            Err(TelegramError::Unreachable(why)) if message.queued_for < GIVE_UP_AFTER => {
                Outcome::Postponed(backoff(message.attempts), why)
            }
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// The Bot API call a queued row stands for; the message id it sent or
    /// edited.
    async fn call(&self, message: &Queued) -> Result<Option<i32>, TelegramError> {
        let chat = message.chat_id;
        let body = Body(&message.body);
        let existing = match &message.target {
            Target::New => None,
            Target::Keyed(_) => message.keyed_message_id,
            Target::Message(id) => Some(*id),
        };
        match message.kind {
            Kind::Photo => {
                let png = message.photo.clone().unwrap_or_default();
                let sent = self
                    .telegram
                    .send_photo(chat, png, body.file_name(), body.caption())
                    .await;
                taken(sent.map(Some), None)
            }
            Kind::Buttons => match existing {
                Some(id) => {
                    let buttons = body.buttons();
                    let set = self.telegram.set_buttons(chat, id, buttons.as_ref()).await;
                    taken(set.map(|()| Some(id)), Some(id))
                }
                // Its message never went out: nothing to change.
                None => Ok(None),
            },
            Kind::Text => {
                let buttons = body.buttons();
                if let Some(id) = existing {
                    match self
                        .telegram
                        .edit(chat, id, body.html(), buttons.as_ref())
                        .await
                    {
                        Ok(()) | Err(TelegramError::TakenUnread(_)) => return Ok(Some(id)),
                        // The user deleted the status message: a keyed text
                        // (the ready message) goes out as a new one.
                        Err(TelegramError::NotEditable(_))
                            if matches!(message.target, Target::Keyed(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                let sent = self
                    .telegram
                    .send(chat, body.html(), buttons.as_ref())
                    .await;
                taken(sent.map(Some), None)
            }
        }
    }
}

/// A call Telegram carried out counts as delivered even when its answer
/// could not be read (then the message id is `known`, if any): sending it
/// again would repeat it.
fn taken(
    result: Result<Option<i32>, TelegramError>,
    known: Option<i32>,
) -> Result<Option<i32>, TelegramError> {
    match result {
        Err(TelegramError::TakenUnread(why)) => {
            tracing::warn!(reason = %why, "Telegram's answer could not be read; counted as delivered");
            Ok(known)
        }
        other => other,
    }
}

/// The wait before trying again after the `attempts`-th failure: doubling
/// from 1 s to at most a minute, with ±25 % jitter so chats that failed
/// together do not retry together.
fn backoff(attempts: i32) -> Duration {
    Backoff::nth(
        Duration::from_secs(1),
        Duration::from_secs(60),
        u32::try_from(attempts).unwrap_or(0),
    )
}

/// The overall rate: one message per `1/rate` s over every chat.
struct Overall {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Overall {
    fn new(per_second: u32) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1),
            next: Mutex::new(Instant::now()),
        }
    }

    async fn wait_turn(&self) {
        let turn = {
            let mut next = self.next.lock().await;
            let turn = (*next).max(Instant::now());
            *next = turn + self.interval;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_chats_go_faster_than_groups() {
        let pace = Pace::default();
        assert_eq!(pace.spacing(123_456), Duration::from_secs(1));
        assert_eq!(pace.spacing(-1_001_234_567_890), Duration::from_secs(3));
        assert_eq!(pace.spacing(-42), Duration::from_secs(3));
    }

    #[test]
    fn backoff_doubles_up_to_a_minute_with_jitter() {
        for attempts in 0..20 {
            let wait = backoff(attempts);
            let base = (1u64 << attempts.clamp(0, 6)).min(60) as f64;
            assert!(wait.as_secs_f64() >= base * 0.75 && wait.as_secs_f64() <= base * 1.25);
        }
    }

    #[tokio::test]
    async fn the_overall_rate_spaces_turns() {
        let overall = Overall::new(20);
        let start = Instant::now();
        for _ in 0..5 {
            overall.wait_turn().await;
        }
        // Turns at 0, 50, 100, 150 and 200 ms at the earliest.
        assert!(start.elapsed() >= Duration::from_millis(200));
    }
}
