//! `TELEGRAM_MODE=polling`: the bot fetches its updates with `getUpdates`
//! instead of waiting for Telegram to post them, so it runs on a laptop
//! with no public URL.
//!
//! Every fetched update takes the webhook's path ([`updates::accept`]: the
//! same dedupe row, job and outbox row, committed by the same group-commit
//! lanes). The offset that confirms a batch to Telegram advances only after
//! the whole batch is committed: with the database away, the next call
//! fetches the same updates again, and the ones that did get in come back as
//! duplicates. Nothing is confirmed and then lost. The offset lives in
//! memory; after a restart Telegram re-sends what was never confirmed, and
//! deduplication absorbs it.

use std::time::{Duration, Instant};

use anyhow::Context;
use futures::future::join_all;
use pagesmith::{backoff::Backoff, db::updates::UpdateRecord};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use teloxide_core::{
    ApiError, Bot, RequestError,
    payloads::GetUpdatesSetters,
    requests::Requester,
    types::{AllowedUpdate, Update},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    group_commit::{IngestError, Ingestor},
    settings::TelegramSettings,
    updates,
};

/// Added to the long-poll timeout for the HTTP client's own timeout, so a
/// long poll Telegram holds to the end is not cut short by us.
const CLIENT_MARGIN: Duration = Duration::from_secs(15);
/// First and longest pause after a failure (Telegram's `retry_after`, when
/// it sends one, wins).
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// Least time from the start of a poll that brought nothing to the next
/// poll. Telegram answers an empty long poll only when its timeout (1 s or
/// more) has passed, so this never delays it; it keeps a server that
/// ignores `timeout` (a fake Bot API, a proxy that answers for it) from
/// being called in a tight loop.
const EMPTY_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Long-polls Telegram and feeds the updates into ingest.
pub struct Poller {
    bot: Bot,
    ingestor: Ingestor,
    timeout: Duration,
}

/// Why a batch was not committed.
enum Failure {
    Telegram(RequestError),
    Database(IngestError),
}

impl Poller {
    /// A poller on `TELEGRAM_API_URL` with the bot's token.
    pub fn new(telegram: &TelegramSettings, ingestor: Ingestor) -> anyhow::Result<Self> {
        let client = teloxide_core::net::default_reqwest_settings()
            .timeout(telegram.poll_timeout + CLIENT_MARGIN)
            .build()
            .context("cannot build the HTTP client for Telegram")?;
        let bot = Bot::with_client(telegram.token.expose_secret(), client)
            .set_api_url(telegram.api_url.clone());
        Ok(Self {
            bot,
            ingestor,
            timeout: telegram.poll_timeout,
        })
    }

    /// Removes any webhook (Telegram refuses `getUpdates` while one is set),
    /// then polls until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        loop {
            let deleted = tokio::select! {
                r = self.bot.delete_webhook() => r,
                () = stop.cancelled() => return,
            };
            match deleted {
                Ok(_) => break,
                Err(e) => {
                    let pause = pause_for(&e, &mut backoff);
                    tracing::warn!(error = %e, retry_in = ?pause, "deleteWebhook failed");
                    if !sleep(&stop, pause).await {
                        return;
                    }
                }
            }
        }
        tracing::info!(timeout = ?self.timeout, "polling Telegram for updates (TELEGRAM_MODE=polling)");

        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let mut offset: Option<i32> = None;
        let mut warned_of_early_answers = false;
        loop {
            let started = Instant::now();
            let round = tokio::select! {
                r = self.poll_once(offset) => r,
                () = stop.cancelled() => return,
            };
            let pause = match round {
                Ok(Some(next)) => {
                    offset = Some(next);
                    metrics::gauge!("pagesmith_telegram_poll_offset").set(f64::from(next));
                    backoff.reset();
                    continue;
                }
                Ok(None) => {
                    backoff.reset();
                    let pause = after_empty_poll(started.elapsed());
                    if pause.is_zero() {
                        continue;
                    }
                    if !warned_of_early_answers {
                        warned_of_early_answers = true;
                        tracing::warn!(
                            timeout = ?self.timeout,
                            "getUpdates answered \"no updates\" before its timeout; polling at most once a second"
                        );
                    }
                    pause
                }
                Err(Failure::Telegram(e)) => {
                    metrics::counter!("pagesmith_telegram_poll_errors_total", "cause" => "telegram").increment(1);
                    let pause = pause_for(&e, &mut backoff);
                    match &e {
                        RequestError::Api(ApiError::CantGetUpdates) => tracing::error!(
                            retry_in = ?pause,
                            "a webhook was set again while polling; run only one of webhook and polling mode per bot"
                        ),
                        RequestError::Api(ApiError::TerminatedByOtherGetUpdates) => {
                            tracing::error!(
                                retry_in = ?pause,
                                "another process is polling with this bot token; run one poller per bot"
                            )
                        }
                        _ => tracing::warn!(error = %e, retry_in = ?pause, "getUpdates failed"),
                    }
                    pause
                }
                Err(Failure::Database(e)) => {
                    metrics::counter!("pagesmith_telegram_poll_errors_total", "cause" => "database").increment(1);
                    let pause = backoff.next_wait();
                    tracing::warn!(
                        error = %e,
                        retry_in = ?pause,
                        "updates not committed; the offset stays and they are fetched again"
                    );
                    pause
                }
            };
            if !sleep(&stop, pause).await {
                return;
            }
        }
    }

    /// One `getUpdates` and the commit of what it brought. The offset to
    /// confirm the batch with, once it is committed; `None` for no updates.
    async fn poll_once(&self, offset: Option<i32>) -> Result<Option<i32>, Failure> {
        let mut request = self
            .bot
            .get_updates()
            .timeout(self.timeout.as_secs() as u32)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery]);
        if let Some(offset) = offset {
            request = request.offset(offset);
        }
        let records = match request.await {
            Ok(updates) => updates.iter().map(record_for).collect(),
            Err(e) => salvage(&e).ok_or(Failure::Telegram(e))?,
        };
        let Some(last) = records.iter().map(|r| r.update_id).max() else {
            return Ok(None);
        };
        let count = records.len();
        let results = join_all(
            records
                .into_iter()
                .map(|record| updates::accept(&self.ingestor, record)),
        )
        .await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            return Err(Failure::Database(e));
        }
        tracing::debug!(count, last, "polled updates committed");
        // Telegram's rule: one more than the highest id received. Not a
        // maximum with the old offset: ids restart lower after a quiet week.
        Ok(Some(i32::try_from(last + 1).unwrap_or(i32::MAX)))
    }
}

/// Each polled update gets its own request id, as each webhook request does,
/// so its job's logs join up across processes.
fn record_for(update: &Update) -> UpdateRecord {
    updates::record_for(update, Some(Uuid::new_v4().to_string()))
}

/// A batch Telegram sent but we could not parse as a whole (an update without
/// the fields we expect): what can be read becomes records, the rest is kept
/// as unreadable under its id. `None` when the body is no batch at all (an
/// HTML error page from a proxy), which is retried.
fn salvage(error: &RequestError) -> Option<Vec<UpdateRecord>> {
    let RequestError::InvalidJson { raw, .. } = error else {
        return None;
    };
    let body: Value = serde_json::from_str(raw).ok()?;
    if body["ok"] != Value::Bool(true) {
        return None;
    }
    let records: Vec<UpdateRecord> = body["result"]
        .as_array()?
        .iter()
        // Through `&Value`, which lends its strings as teloxide's parser wants.
        .filter_map(|value| match Update::deserialize(value) {
            Ok(update) => Some(record_for(&update)),
            Err(e) => {
                let id = value["update_id"].as_i64()?;
                tracing::warn!(update.id = id, error = %e, "recording an unreadable update as ignored");
                Some(updates::unreadable(id, Some(Uuid::new_v4().to_string())))
            }
        })
        .collect();
    tracing::warn!(error = %error, "getUpdates answer did not parse as a whole; salvaged it update by update");
    Some(records)
}

/// How long to wait after a failed Telegram call: its `retry_after` when it
/// sent one (429), else the next exponential step.
fn pause_for(error: &RequestError, backoff: &mut Backoff) -> Duration {
    match error {
        RequestError::RetryAfter(seconds) => seconds.duration(),
        _ => backoff.next_wait(),
    }
}

/// How long to wait after a poll that took `elapsed` and brought nothing:
/// what is left of [`EMPTY_POLL_INTERVAL`].
fn after_empty_poll(elapsed: Duration) -> Duration {
    EMPTY_POLL_INTERVAL.saturating_sub(elapsed)
}

/// Sleeps unless stopped first; false when stopped.
async fn sleep(stop: &CancellationToken, pause: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(pause) => true,
        () = stop.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn invalid_json(raw: &str) -> RequestError {
        RequestError::InvalidJson {
            source: Arc::new(serde_json::from_str::<Value>("{").unwrap_err()),
            raw: raw.into(),
        }
    }

    #[test]
    fn a_batch_that_did_not_parse_is_salvaged_update_by_update() {
        let raw = r#"{"ok": true, "result": [
            {"update_id": 5, "message": {"message_id": 1, "date": 1700000000,
              "chat": {"id": 9, "type": "private", "first_name": "Ada"},
              "from": {"id": 9, "is_bot": false, "first_name": "Ada"}, "text": "hi"}},
            {"update_id": "six"}
        ]}"#;
        let records = salvage(&invalid_json(raw)).expect("a batch");
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].update_id, 5);
        assert!(records[0].job.is_some());
    }

    #[test]
    fn an_error_page_is_not_a_batch_and_is_retried() {
        assert!(salvage(&invalid_json("<html>502 Bad Gateway</html>")).is_none());
        assert!(salvage(&invalid_json(r#"{"ok": false}"#)).is_none());
    }

    #[test]
    fn only_an_empty_poll_answered_early_waits_and_only_for_the_rest_of_a_second() {
        assert_eq!(after_empty_poll(Duration::ZERO), EMPTY_POLL_INTERVAL);
        assert_eq!(
            after_empty_poll(Duration::from_millis(300)),
            Duration::from_millis(700)
        );
        // A long poll that ran to its timeout is followed at once.
        assert_eq!(after_empty_poll(Duration::from_secs(1)), Duration::ZERO);
        assert_eq!(after_empty_poll(Duration::from_secs(30)), Duration::ZERO);
    }

    #[test]
    fn retry_after_wins_over_the_backoff() {
        let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
        let pause = pause_for(
            &RequestError::RetryAfter(teloxide_core::types::Seconds::from_seconds(7)),
            &mut backoff,
        );
        assert_eq!(pause, Duration::from_secs(7));
        assert_eq!(backoff.step(), FIRST_BACKOFF, "a 429 is not a step");
        for _ in 0..10 {
            pause_for(
                &RequestError::Io(std::io::Error::other("down").into()),
                &mut backoff,
            );
        }
        assert_eq!(backoff.step(), MAX_BACKOFF);
    }
}
