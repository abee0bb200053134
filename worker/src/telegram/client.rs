//! The Bot API calls the worker makes, one attempt each. Pacing, retries and
//! 429s are the delivery loop's business (`delivery.rs`), which knows the
//! chat a call is for; this layer only sorts each failure into what to do
//! next (see [`TelegramError`]).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use teloxide_core::{
    ApiError, Bot, RequestError,
    payloads::{
        AnswerCallbackQuerySetters, EditMessageReplyMarkupSetters, EditMessageTextSetters,
        SendMessageSetters, SendPhotoSetters,
    },
    requests::{Request, Requester},
    types::{
        CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile,
        LinkPreviewOptions, MessageId, ParseMode, ReplyMarkup,
    },
};
use url::Url;

/// Telegram's limit on a message's text.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Telegram's limit on a photo's caption.
pub const MAX_CAPTION_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram is not configured (no TELEGRAM_BOT_TOKEN)")]
    Disabled,
    /// 429: this chat must wait this long.
    #[error("Telegram asked us to wait {0:?}")]
    RetryAfter(Duration),
    /// The request will never succeed as it is (a bad request, a blocked
    /// bot, a chat that does not exist).
    #[error("Telegram refused the request: {0}")]
    Refused(String),
    /// The edit targets a message that is gone or can no longer be edited.
    #[error("Telegram cannot edit that message: {0}")]
    NotEditable(String),
    /// Network trouble or a server error: worth another try later.
    #[error("Telegram could not be reached: {0}")]
    Unreachable(String),
    /// Telegram said `"ok": true` but the rest of its answer could not be
    /// read (a field or type this client does not know): the request was
    /// carried out, so it must not be repeated.
    #[error("Telegram took the request, but its answer could not be read: {0}")]
    TakenUnread(String),
}

/// A row of inline buttons: (label, callback data ≤ 64 bytes).
pub type Buttons = Vec<Vec<(String, String)>>;

/// The Bot API client.
#[derive(Clone)]
pub struct Telegram {
    bot: Option<Bot>,
}

impl Telegram {
    /// A client for `token` at `api_url`; without a token every call
    /// returns [`TelegramError::Disabled`].
    pub fn new(token: Option<&SecretString>, api_url: Url) -> Self {
        let bot = token.map(|t| Bot::new(t.expose_secret()).set_api_url(api_url));
        Self { bot }
    }

    /// Whether a token is configured.
    pub fn enabled(&self) -> bool {
        self.bot.is_some()
    }

    fn bot(&self) -> Result<&Bot, TelegramError> {
        self.bot.as_ref().ok_or(TelegramError::Disabled)
    }

    /// Sends an HTML message; returns its id.
    pub async fn send(
        &self,
        chat_id: i64,
        html: &str,
        buttons: Option<&Buttons>,
    ) -> Result<i32, TelegramError> {
        let mut request = self
            .bot()?
            .send_message(ChatId(chat_id), truncate(html, MAX_MESSAGE_CHARS))
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(buttons) = buttons {
            request = request.reply_markup(ReplyMarkup::InlineKeyboard(keyboard(buttons)));
        }
        let message = call("sendMessage", request.send()).await?;
        Ok(message.id.0)
    }

    /// Replaces a message's text and buttons (`None`: no buttons). "Not
    /// modified" counts as done, so repeating an edit is harmless.
    pub async fn edit(
        &self,
        chat_id: i64,
        message_id: i32,
        html: &str,
        buttons: Option<&Buttons>,
    ) -> Result<(), TelegramError> {
        let mut request = self
            .bot()?
            .edit_message_text(
                ChatId(chat_id),
                MessageId(message_id),
                truncate(html, MAX_MESSAGE_CHARS),
            )
            .parse_mode(ParseMode::Html)
            .link_preview_options(no_preview());
        if let Some(buttons) = buttons {
            request = request.reply_markup(keyboard(buttons));
        }
        unless_not_modified(call("editMessageText", request.send()).await)
    }

    /// Replaces a message's buttons (`None` removes them). "Not modified"
    /// counts as done.
    pub async fn set_buttons(
        &self,
        chat_id: i64,
        message_id: i32,
        buttons: Option<&Buttons>,
    ) -> Result<(), TelegramError> {
        let request = self
            .bot()?
            .edit_message_reply_markup(ChatId(chat_id), MessageId(message_id))
            .reply_markup(keyboard(buttons.unwrap_or(&Vec::new())));
        unless_not_modified(call("editMessageReplyMarkup", request.send()).await)
    }

    /// Sends a PNG as a photo with an HTML caption; returns its id.
    pub async fn send_photo(
        &self,
        chat_id: i64,
        png: Vec<u8>,
        file_name: &str,
        caption_html: &str,
    ) -> Result<i32, TelegramError> {
        let request = self
            .bot()?
            .send_photo(
                ChatId(chat_id),
                InputFile::memory(png).file_name(file_name.to_owned()),
            )
            .caption(truncate(caption_html, MAX_CAPTION_CHARS))
            .parse_mode(ParseMode::Html);
        let message = call("sendPhoto", request.send()).await?;
        Ok(message.id.0)
    }

    /// Answers a button click (the spinner on the user's button stops). Not
    /// queued: it is not a chat message, and Telegram drops a click left
    /// unanswered for long.
    pub async fn answer_callback(
        &self,
        query_id: &str,
        text: &str,
        alert: bool,
    ) -> Result<(), TelegramError> {
        let request = self
            .bot()?
            .answer_callback_query(CallbackQueryId(query_id.to_owned()))
            .text(text)
            .show_alert(alert);
        call("answerCallbackQuery", request.send())
            .await
            .map(|_| ())
    }
}

fn unless_not_modified(result: Result<impl Sized, TelegramError>) -> Result<(), TelegramError> {
    match result {
        Ok(_) => Ok(()),
        Err(TelegramError::Refused(e)) if e.contains("not modified") => Ok(()),
        Err(e) => Err(e),
    }
}

/// Makes one call, counts it, and sorts a failure.
async fn call<T>(
    method: &'static str,
    request: impl Future<Output = Result<T, RequestError>>,
) -> Result<T, TelegramError> {
    let outcome = request.await.map_err(sort);
    let label = match &outcome {
        Ok(_) => "ok",
        Err(TelegramError::RetryAfter(_)) => "retry_after",
        Err(TelegramError::Unreachable(_)) => "unreachable",
        Err(TelegramError::TakenUnread(_)) => "ok_unreadable",
        Err(_) => "refused",
    };
    metrics::counter!("pagesmith_telegram_calls_total", "method" => method, "outcome" => label)
        .increment(1);
    outcome
}

fn sort(error: RequestError) -> TelegramError {
    match error {
        RequestError::RetryAfter(seconds) => TelegramError::RetryAfter(seconds.duration()),
        RequestError::Network(e) => TelegramError::Unreachable(e.to_string()),
        RequestError::Io(e) => TelegramError::Unreachable(e.to_string()),
        RequestError::InvalidJson { source, raw } => {
            let taken = serde_json::from_str::<serde_json::Value>(&raw)
                .is_ok_and(|answer| answer["ok"] == serde_json::Value::Bool(true));
            match taken {
                true => TelegramError::TakenUnread(source.to_string()),
                // A proxy's HTML error page, a truncated answer.
                false => TelegramError::Unreachable(source.to_string()),
            }
        }
        RequestError::Api(ApiError::MessageToEditNotFound | ApiError::MessageCantBeEdited) => {
            TelegramError::NotEditable(error.to_string())
        }
        RequestError::Api(ApiError::Unknown(ref text)) if server_trouble(text) => {
            TelegramError::Unreachable(error.to_string())
        }
        other => TelegramError::Refused(other.to_string()),
    }
}

/// teloxide reports a 5xx as an unknown API error carrying its description.
fn server_trouble(description: &str) -> bool {
    [
        "Internal Server Error",
        "Bad Gateway",
        "Service Unavailable",
        "Gateway Timeout",
    ]
    .iter()
    .any(|s| description.contains(s))
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

/// Keeps a text under `limit` characters, cutting at a line break.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let budget = limit - 20;
    let cut = crate::text::prefix_chars(text, budget);
    let cut = match cut.rfind('\n') {
        Some(i) if i > budget / 2 => &cut[..i],
        _ => cut,
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
        let cut = truncate(&text, MAX_MESSAGE_CHARS);
        assert!(cut.chars().count() <= MAX_MESSAGE_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short", MAX_MESSAGE_CHARS), "short");
    }

    #[test]
    fn a_cut_never_leaves_an_open_tag() {
        let text = format!(
            "{}<a href=\"https://example.com\">link</a>",
            "x".repeat(MAX_MESSAGE_CHARS - 25)
        );
        let cut = truncate(&text, MAX_MESSAGE_CHARS);
        assert!(!cut.contains("<a"), "{}", &cut[cut.len() - 30..]);
    }

    #[test]
    fn failures_are_sorted_by_what_to_do_next() {
        use teloxide_core::types::Seconds;
        assert_eq!(
            sort(RequestError::RetryAfter(Seconds::from_seconds(3))),
            TelegramError::RetryAfter(Duration::from_secs(3))
        );
        assert!(matches!(
            sort(RequestError::Api(ApiError::Unknown("Bad Gateway".into()))),
            TelegramError::Unreachable(_)
        ));
        assert!(matches!(
            sort(RequestError::Api(ApiError::MessageToEditNotFound)),
            TelegramError::NotEditable(_)
        ));
        assert!(matches!(
            sort(RequestError::Api(ApiError::BotBlocked)),
            TelegramError::Refused(_)
        ));
        let unreadable = |raw: &str| RequestError::InvalidJson {
            source: std::sync::Arc::new(serde_json::from_str::<u8>("x").unwrap_err()),
            raw: raw.into(),
        };
        assert!(matches!(
            sort(unreadable(r#"{"ok":true,"result":null}"#)),
            TelegramError::TakenUnread(_)
        ));
        assert!(matches!(
            sort(unreadable("<html>502 Bad Gateway</html>")),
            TelegramError::Unreachable(_)
        ));
    }
}
