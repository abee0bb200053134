//! Talking to Telegram: teloxide's Bot behind its Throttle adaptor (which
//! keeps us under Telegram's per-chat and global send limits), plus retries
//! for `429 retry_after` and passing network trouble.
//!
//! Telegram errors never crash the worker: callers get a `TelegramError`,
//! log it, and carry on; the job's state lives in PostgreSQL, not in chat.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use teloxide_core::{
    ApiError, Bot, RequestError,
    adaptors::{Throttle, throttle::Limits},
    payloads::{
        AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, EditMessageTextSetters,
        SendMessageSetters, SendPhotoSetters,
    },
    requests::{Request, Requester, RequesterExt},
    types::{
        CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile,
        LinkPreviewOptions, MessageId, ParseMode, ReplyMarkup,
    },
};
use url::Url;

/// Telegram's HTML takes the same escaping as a page.
pub use crate::text::escape;

/// Telegram's limit on a message's text.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Most we wait on `retry_after` before giving up on one call.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);
const MAX_TRIES: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram is not configured (no TELEGRAM_BOT_TOKEN)")]
    Disabled,
    #[error("Telegram refused the request: {0}")]
    Refused(String),
    #[error("Telegram could not be reached: {0}")]
    Unreachable(String),
}

/// A row of inline buttons: (label, callback data ≤ 64 bytes).
pub type Buttons = Vec<Vec<(String, String)>>;

/// The client the worker uses.
#[derive(Clone)]
pub struct Telegram {
    bot: Option<Throttle<Bot>>,
}

impl Telegram {
    /// A client for `token` at `api_url`; without a token every call
    /// returns [`TelegramError::Disabled`].
    pub fn new(token: Option<&SecretString>, api_url: Url) -> Self {
        let bot = token.map(|t| {
            Bot::new(t.expose_secret())
                .set_api_url(api_url)
                .throttle(Limits::default())
        });
        Self { bot }
    }

    fn bot(&self) -> Result<&Throttle<Bot>, TelegramError> {
        self.bot.as_ref().ok_or(TelegramError::Disabled)
    }

    /// Sends an HTML message; returns its id.
    pub async fn send(
        &self,
        chat_id: i64,
        html: &str,
        buttons: Option<Buttons>,
    ) -> Result<i32, TelegramError> {
        let bot = self.bot()?;
        let text = truncate(html);
        let message = retrying("sendMessage", || {
            let mut request = bot
                .send_message(ChatId(chat_id), text.clone())
                .parse_mode(ParseMode::Html)
                .link_preview_options(no_preview());
            if let Some(buttons) = &buttons {
                request = request.reply_markup(ReplyMarkup::InlineKeyboard(keyboard(buttons)));
            }
            request.send()
        })
        .await?;
        Ok(message.id.0)
    }

    /// Replaces a message's text (and buttons). "Not modified" counts as done,
    /// so repeating an edit after a redelivery is harmless.
    pub async fn edit(
        &self,
        chat_id: i64,
        message_id: i32,
        html: &str,
        buttons: Option<Buttons>,
    ) -> Result<(), TelegramError> {
        let bot = self.bot()?;
        let text = truncate(html);
        let result = retrying("editMessageText", || {
            let mut request = bot
                .edit_message_text(ChatId(chat_id), MessageId(message_id), text.clone())
                .parse_mode(ParseMode::Html)
                .link_preview_options(no_preview());
            if let Some(buttons) = &buttons {
                request = request.reply_markup(keyboard(buttons));
            }
            request.send()
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(TelegramError::Refused(e)) if e.contains("not modified") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Replaces a message's buttons (`None` removes them). "Not modified"
    /// counts as done.
    pub async fn set_buttons(
        &self,
        chat_id: i64,
        message_id: i32,
        buttons: Option<Buttons>,
    ) -> Result<(), TelegramError> {
        let bot = self.bot()?;
        let markup = keyboard(&buttons.unwrap_or_default());
        let result = retrying("editMessageReplyMarkup", || {
            bot.edit_message_reply_markup(ChatId(chat_id), MessageId(message_id))
                .reply_markup(markup.clone())
                .send()
        })
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(TelegramError::Refused(e)) if e.contains("not modified") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Sends a PNG as a photo with an HTML caption; returns its id.
    pub async fn send_photo(
        &self,
        chat_id: i64,
        png: &[u8],
        file_name: &str,
        caption_html: &str,
    ) -> Result<i32, TelegramError> {
        let bot = self.bot()?;
        let message = retrying("sendPhoto", || {
            bot.send_photo(
                ChatId(chat_id),
                InputFile::memory(png.to_vec()).file_name(file_name.to_owned()),
            )
            .caption(caption_html)
            .parse_mode(ParseMode::Html)
            .send()
        })
        .await?;
        Ok(message.id.0)
    }

    /// Answers a button click (the spinner on the user's button stops).
    pub async fn answer_callback(
        &self,
        query_id: &str,
        text: &str,
        alert: bool,
    ) -> Result<(), TelegramError> {
        let bot = self.bot()?;
        retrying("answerCallbackQuery", || {
            bot.answer_callback_query(CallbackQueryId(query_id.to_owned()))
                .text(text)
                .show_alert(alert)
                .send()
        })
        .await
        .map(|_| ())
    }
}

fn no_preview() -> LinkPreviewOptions {
    LinkPreviewOptions {
        is_disabled: true,
        url: None,
        prefer_small_media: false,
        prefer_large_media: false,
        show_above_text: false,
    }
}

fn keyboard(buttons: &Buttons) -> InlineKeyboardMarkup {
    InlineKeyboardMarkup::new(buttons.iter().map(|row| {
        row.iter()
            .map(|(label, data)| InlineKeyboardButton::callback(label.clone(), data.clone()))
            .collect::<Vec<_>>()
    }))
}

/// Calls Telegram, waiting out `retry_after` and retrying network errors,
/// a few times at most.
async fn retrying<T, F, Fut>(method: &'static str, mut call: F) -> Result<T, TelegramError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RequestError>>,
{
    let mut waited = Duration::ZERO;
    for attempt in 1..=MAX_TRIES {
        let outcome = call().await;
        let delay = match outcome {
            Ok(value) => {
                metrics::counter!("pagesmith_telegram_calls_total", "method" => method, "outcome" => "ok").increment(1);
                return Ok(value);
            }
            Err(RequestError::RetryAfter(seconds)) => seconds.duration(),
            Err(RequestError::Network(e)) if attempt < MAX_TRIES => {
                tracing::warn!(method, error = %e, "Telegram unreachable; retrying");
                Duration::from_millis(500 * u64::from(attempt))
            }
            Err(RequestError::Api(ApiError::Unknown(ref text)))
                if text.contains("Internal Server Error") || text.contains("Bad Gateway") =>
            {
                Duration::from_millis(500 * u64::from(attempt))
            }
            Err(e) => {
                metrics::counter!("pagesmith_telegram_calls_total", "method" => method, "outcome" => "error").increment(1);
                return Err(match e {
                    RequestError::Network(e) => TelegramError::Unreachable(e.to_string()),
                    RequestError::Io(e) => TelegramError::Unreachable(e.to_string()),
                    other => TelegramError::Refused(other.to_string()),
                });
            }
        };
        if waited + delay > MAX_RETRY_WAIT || attempt == MAX_TRIES {
            break;
        }
        metrics::counter!("pagesmith_telegram_calls_total", "method" => method, "outcome" => "retried").increment(1);
        tracing::info!(method, ?delay, "Telegram asked us to wait; retrying");
        tokio::time::sleep(delay).await;
        waited += delay;
    }
    metrics::counter!("pagesmith_telegram_calls_total", "method" => method, "outcome" => "error")
        .increment(1);
    Err(TelegramError::Unreachable(format!(
        "{method} kept failing or rate-limited"
    )))
}

/// Keeps a message under Telegram's limit, cutting at a line break.
pub fn truncate(text: &str) -> String {
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_owned();
    }
    let budget = MAX_MESSAGE_CHARS - 20;
    let cut: String = text.chars().take(budget).collect();
    let cut = match cut.rfind('\n') {
        Some(i) if i > budget / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    // Never leave a half-open HTML tag behind.
    let cut = match (cut.rfind('<'), cut.rfind('>')) {
        (Some(open), Some(close)) if open > close => &cut[..open],
        (Some(open), None) => &cut[..open],
        _ => cut,
    };
    format!("{cut}\n…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_under_the_limit() {
        let text = "line of text\n".repeat(1000);
        let cut = truncate(&text);
        assert!(cut.chars().count() <= MAX_MESSAGE_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short"), "short");
    }

    #[test]
    fn a_cut_never_leaves_an_open_tag() {
        let text = format!(
            "{}<a href=\"https://example.com\">link</a>",
            "x".repeat(MAX_MESSAGE_CHARS - 25)
        );
        let cut = truncate(&text);
        assert!(!cut.contains("<a"), "{}", &cut[cut.len() - 30..]);
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(escape("<b>&</b>"), "&lt;b&gt;&amp;&lt;/b&gt;");
    }
}
