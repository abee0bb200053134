//! An independent Telegram Bot API for end-to-end tests: the npm emulator
//! `telegram-test-api` (pinned in `e2e/bot-api/package-lock.json`, started
//! by `e2e/bot-api/server.mjs`) as a child process, and a small typed
//! client for the user's side of it.
//!
//! The bot and the worker talk to it as to Telegram (`TELEGRAM_API_URL`):
//! the bot long-polls `getUpdates`, the worker calls `sendMessage`,
//! `editMessageText`, `editMessageReplyMarkup` and `answerCallbackQuery`.
//! A test plays the users through the emulator's client API:
//!
//! | what a user does or sees | emulator endpoint |
//! | --- | --- |
//! | sends a message | `POST /sendMessage` (the message, plus `botToken`) |
//! | sends a command | `POST /sendCommand` (the same, with a `bot_command` entity) |
//! | presses an inline button | `POST /sendCallback` (the callback query, plus `botToken`) |
//! | reads the chat | `POST /getUpdatesHistory` (`{token}`: every update and bot message) |
//!
//! What the emulator does with the bot's calls, read from its source
//! (`lib/telegramServer.js`, `lib/routes/bot/*`):
//!
//! - `sendMessage`: the request body becomes the stored message (so `text`
//!   is the HTML the bot sent, with `parse_mode`), under a `messageId` from
//!   one counter shared by every chat and update. Its answer carries the
//!   body back as the message, with `date` in milliseconds.
//! - `editMessageText`, `editMessageReplyMarkup`: the request body is merged
//!   into the stored message; no edit history and no `edit_date` are kept,
//!   only the latest state (what a user sees). An `editMessageText` without
//!   `reply_markup` leaves the old keyboard in place (Telegram removes it);
//!   an `editMessageReplyMarkup` without an `inline_keyboard` is dropped;
//!   an edit of an unknown message, or one that changes nothing, is not
//!   refused (Telegram: 400 "message to edit not found" / "message is not
//!   modified").
//! - `answerCallbackQuery`: not stored; what a click's answer said cannot
//!   be seen here.
//! - `sendPhoto` and every other method it lacks: HTTP 500 with
//!   `{"message": "API method '…' is not supported…"}`, nothing stored.
//! - `getUpdates`: every unread update at once, marked read as it is
//!   handed out; `offset`, `timeout` and `allowed_updates` are ignored.
//! - No rate limits: nothing ever answers 429 with `retry_after`, and there
//!   is no setting or endpoint to make it.
//!
//! Where its answers break the Bot API in ways a typed client (teloxide)
//! cannot read, `server.mjs` makes them conform (`BOT_API_AS_IS=1` in the
//! test's environment runs the emulator exactly as published):
//!
//! - a callback query's update lacks `chat_instance` (the bot would read
//!   the click as an unknown update and ignore it); the client's is
//!   forwarded;
//! - the two edits answer `result: null` (teloxide: an unreadable answer,
//!   so an applied edit counts as failed); they answer the edited message;
//! - `answerCallbackQuery` answers `result: null`; it answers `true`.
//!
//! Skips (returns `None` from [`BotApi::start_or_skip`]) without
//! `e2e/bot-api/node_modules/telegram-test-api`, unless
//! `PAGESMITH_REQUIRE_BOT_API` is set (`scripts/test` installs it with
//! `ensure_bot_api`, which sets it).

use std::{
    collections::VecDeque,
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    process::{Child, ChildStdin, Command},
    sync::oneshot,
    time::Instant,
};
use worker::buttons::{Action, ButtonData};

/// Set (by `scripts/test`) when the emulator must run, not skip.
pub const REQUIRE_VAR: &str = "PAGESMITH_REQUIRE_BOT_API";

/// How long the emulator may take to start listening and to answer.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Between two reads of a chat while waiting for something in it.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Lines of the emulator's output kept for failure messages.
const KEPT_LINES: usize = 400;
/// Lines of it shown in a failure message.
const SHOWN_LINES: usize = 80;

/// The folder with `package.json` and `server.mjs`.
pub fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bot-api")
}

/// The emulator's output, newest last, bounded.
#[derive(Clone, Default)]
struct Output(Arc<Mutex<VecDeque<String>>>);

impl Output {
    fn push(&self, line: String) {
        let mut lines = self.0.lock().expect("not poisoned");
        if lines.len() == KEPT_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn tail(&self, count: usize) -> String {
        let lines = self.0.lock().expect("not poisoned");
        let skip = lines.len().saturating_sub(count);
        lines
            .iter()
            .skip(skip)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Copies a child's stream into `output`, the emulator's request log
/// shortened to `POST /url body` and without the polls (the bot's
/// `getUpdates` every second, the test's `getUpdatesHistory` every 100 ms),
/// which would crowd out the rest. The first `READY <url>` line goes to
/// `ready`.
fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    name: &'static str,
    output: Output,
    mut ready: Option<oneshot::Sender<String>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("READY ")
                && let Some(ready) = ready.take()
            {
                let _ = ready.send(url.trim().to_owned());
            }
            match line.split_once("TelegramServer:request Request: ") {
                Some((time, request)) => {
                    if let Some(request) = request_line(request) {
                        output.push(format!("[{name}] {time}{request}"));
                    }
                }
                None => output.push(format!("[{name}] {line}")),
            }
        }
    });
}

/// One request of the emulator's log (`{"method", "url", "body", ...}`) as
/// `POST /url body`; `None` for the polls.
fn request_line(logged: &str) -> Option<String> {
    let Ok(request) = serde_json::from_str::<Value>(logged) else {
        return Some(logged.to_owned());
    };
    let url = request["url"].as_str().unwrap_or_default();
    let method = url.rsplit('/').next().unwrap_or_default();
    if method.eq_ignore_ascii_case("getUpdates") || method == "getUpdatesHistory" {
        return None;
    }
    let body = request["body"].to_string();
    let body: String = body.chars().take(600).collect();
    Some(format!(
        "{} {url} {body}",
        request["method"].as_str().unwrap_or_default()
    ))
}

/// The emulator, running until dropped (the child is killed then; it also
/// exits by itself when its stdin, held here, closes).
pub struct BotApi {
    url: String,
    token: String,
    http: reqwest::Client,
    output: Output,
    _child: Child,
    _stdin: ChildStdin,
}

impl BotApi {
    /// The emulator for `token`, or `None` (skip) when it is not
    /// installed and the run does not demand it.
    pub async fn start_or_skip(token: &str) -> Option<Self> {
        let installed = dir()
            .join("node_modules")
            .join("telegram-test-api")
            .is_dir();
        if !installed {
            assert!(
                std::env::var_os(REQUIRE_VAR).is_none(),
                "{REQUIRE_VAR} is set but {} has no node_modules/telegram-test-api \
                 (run `source scripts/lib.sh && ensure_bot_api`)",
                dir().display()
            );
            eprintln!(
                "SKIPPED: telegram-test-api is not installed in e2e/bot-api \
                 (source scripts/lib.sh && ensure_bot_api)"
            );
            return None;
        }
        Some(Self::start(token).await)
    }

    /// Starts `node server.mjs` on a free port and waits until it answers.
    pub async fn start(token: &str) -> Self {
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir())
            .env("DEBUG", "TelegramServer:*")
            .env("DEBUG_COLORS", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs e2e/bot-api/server.mjs");
        let output = Output::default();
        let (ready, url) = oneshot::channel();
        capture(
            child.stdout.take().expect("piped stdout"),
            "stdout",
            output.clone(),
            Some(ready),
        );
        capture(
            child.stderr.take().expect("piped stderr"),
            "stderr",
            output.clone(),
            None,
        );
        let stdin = child.stdin.take().expect("piped stdin");
        let url = match tokio::time::timeout(START_TIMEOUT, url).await {
            Ok(Ok(url)) => url,
            _ => {
                let status = child.try_wait().ok().flatten();
                // The reader may still be copying the last lines.
                tokio::time::sleep(Duration::from_millis(200)).await;
                panic!(
                    "the Bot API emulator did not start within {START_TIMEOUT:?} (exit: {status:?}):\n{}",
                    output.tail(SHOWN_LINES)
                );
            }
        };
        let api = Self {
            url,
            token: token.to_owned(),
            http: reqwest::Client::new(),
            output,
            _child: child,
            _stdin: stdin,
        };
        api.wait_until_it_answers().await;
        api
    }

    async fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let probe = format!("{}/bot{}/getMe", self.url, self.token);
        loop {
            let answer = self.http.get(&probe).send().await;
            if let Ok(response) = answer
                && response.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the Bot API emulator at {} did not answer getMe within {START_TIMEOUT:?}:\n{}",
                self.url,
                self.output()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The Bot API root, for `TELEGRAM_API_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The last lines the emulator wrote (its request log, errors), for
    /// failure messages.
    pub fn output(&self) -> String {
        self.output.tail(SHOWN_LINES)
    }

    /// `user` in their private chat with the bot (chat id = user id).
    pub fn chat(&self, user: User) -> Chat<'_> {
        Chat { api: self, user }
    }

    /// POSTs `body` to one of the emulator's client endpoints; panics
    /// unless it answers `{"ok": true}`.
    async fn post(&self, path: &str, body: &Value) -> Value {
        let url = format!("{}{path}", self.url);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the Bot API emulator did not answer {path}: {e}\n{}",
                    self.output()
                )
            });
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status.is_success() && answer["ok"] == true,
            "{path} answered {status}: {answer}\nrequest: {body}\n{}",
            self.output()
        );
        answer
    }

    /// Every message the bot sent to `chat_id` that the emulator stored, as
    /// it stands now (edits applied), oldest first.
    pub async fn messages(&self, chat_id: i64) -> Vec<BotMessage> {
        let history = self
            .post("/getUpdatesHistory", &json!({"token": self.token}))
            .await;
        let mut messages: Vec<BotMessage> = history["result"]
            .as_array()
            .expect("a history")
            .iter()
            .filter_map(BotMessage::from_record)
            .filter(|m| m.chat_id == chat_id)
            .collect();
        messages.sort_by_key(|m| m.message_id);
        messages
    }

    /// The bot's numeric id: the part of the token before `:`.
    fn bot_id(&self) -> i64 {
        self.token
            .split(':')
            .next()
            .and_then(|id| id.parse().ok())
            .unwrap_or(1)
    }
}

/// A Telegram user, in a private chat with the bot.
#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub first_name: String,
    pub last_name: Option<String>,
}

impl User {
    pub fn new(id: i64, first_name: &str, last_name: Option<&str>) -> Self {
        Self {
            id,
            first_name: first_name.to_owned(),
            last_name: last_name.map(str::to_owned),
        }
    }

    /// What Telegram shows of them: first and last name.
    pub fn full_name(&self) -> String {
        match &self.last_name {
            Some(last) => format!("{} {last}", self.first_name),
            None => self.first_name.clone(),
        }
    }

    fn json(&self) -> Value {
        let mut user = json!({"id": self.id, "is_bot": false, "first_name": self.first_name});
        if let Some(last) = &self.last_name {
            user["last_name"] = json!(last);
        }
        user
    }

    fn private_chat(&self) -> Value {
        let mut chat = json!({"id": self.id, "type": "private", "first_name": self.first_name});
        if let Some(last) = &self.last_name {
            chat["last_name"] = json!(last);
        }
        chat
    }
}

/// One user's chat with the bot: what they send, what they see.
pub struct Chat<'a> {
    api: &'a BotApi,
    pub user: User,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

impl Chat<'_> {
    pub fn id(&self) -> i64 {
        self.user.id
    }

    fn message(&self, text: &str) -> Value {
        json!({
            "botToken": self.api.token,
            "from": self.user.json(),
            "chat": self.user.private_chat(),
            "date": now(),
            "text": text,
        })
    }

    /// The user sends `text`.
    pub async fn send_text(&self, text: &str) {
        self.api.post("/sendMessage", &self.message(text)).await;
    }

    /// The user sends a command, `/status` or `/new a bakery site`: a
    /// message whose first word is a `bot_command` entity.
    pub async fn send_command(&self, text: &str) {
        assert!(text.starts_with('/'), "a command starts with /: {text}");
        let word = text.split_whitespace().next().unwrap_or(text);
        let mut message = self.message(text);
        message["entities"] = json!([{
            "type": "bot_command",
            "offset": 0,
            "length": word.encode_utf16().count(),
        }]);
        self.api.post("/sendCommand", &message).await;
    }

    /// The user presses the inline button carrying `callback_data` under
    /// `message`.
    pub async fn press(&self, message: &BotMessage, callback_data: &str) {
        assert!(
            message
                .buttons
                .iter()
                .flatten()
                .any(|b| b.callback_data.as_deref() == Some(callback_data)),
            "message {} has no button {callback_data}: {message:#?}",
            message.message_id
        );
        let query = json!({
            "botToken": self.api.token,
            "from": self.user.json(),
            "message": {
                "message_id": message.message_id,
                "date": now(),
                "chat": self.user.private_chat(),
                "from": {"id": self.api.bot_id(), "is_bot": true, "first_name": "Bot"},
                "text": message.plain(),
            },
            "chat_instance": format!("chat-{}", self.id()),
            "data": callback_data,
        });
        self.api.post("/sendCallback", &query).await;
    }

    /// The bot's messages in this chat as they stand now, oldest first.
    pub async fn messages(&self) -> Vec<BotMessage> {
        self.api.messages(self.id()).await
    }

    /// The id of the newest message here (0 for none): what came after
    /// it is the answer to what the user does next.
    pub async fn last_message_id(&self) -> i64 {
        self.messages()
            .await
            .last()
            .map_or(0, |message| message.message_id)
    }

    /// Waits until a message here satisfies `wanted` (as it stands: an
    /// edit that makes it match counts), and returns it; panics after
    /// `timeout` with the chat and the emulator's log, naming `what`.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&BotMessage) -> bool,
    ) -> BotMessage {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages().await;
            if let Some(found) = messages.iter().find(|m| wanted(m)) {
                return found.clone();
            }
            if Instant::now() >= deadline {
                panic!(
                    "{} did not see {what} within {timeout:?}.\nTheir chat:\n{}\nThe Bot API emulator's log:\n{}",
                    self.user.full_name(),
                    transcript(&messages),
                    self.api.output()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

/// A chat, one message a paragraph, for failure messages.
pub fn transcript(messages: &[BotMessage]) -> String {
    if messages.is_empty() {
        return "(no messages)".to_owned();
    }
    messages
        .iter()
        .map(|m| {
            let buttons = m
                .buttons
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|b| format!("[{}]", b.text))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect::<Vec<_>>()
                .join(" / ");
            format!("#{}: {}\n    buttons: {buttons}", m.message_id, m.plain())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// An inline button as the bot set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub text: String,
    pub callback_data: Option<String>,
}

/// A message the bot sent, as it stands (edits applied).
#[derive(Debug, Clone)]
pub struct BotMessage {
    pub message_id: i64,
    pub chat_id: i64,
    /// As the bot sent it (HTML with `parse_mode: HTML`).
    pub text: String,
    pub parse_mode: Option<String>,
    /// The inline keyboard, row by row; empty without one.
    pub buttons: Vec<Vec<Button>>,
    /// The emulator's record of it.
    pub raw: Value,
}

impl BotMessage {
    /// A bot message from a `getUpdatesHistory` record; `None` for the
    /// users' updates (a bot message's body has `chat_id`, a user's
    /// message has `chat`, a click has `callbackQuery`).
    fn from_record(record: &Value) -> Option<Self> {
        let message = record.get("message")?;
        let chat_id = as_i64(message.get("chat_id")?)?;
        let buttons = message["reply_markup"]["inline_keyboard"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|row| {
                        row.as_array()
                            .map(|row| {
                                row.iter()
                                    .map(|b| Button {
                                        text: b["text"].as_str().unwrap_or_default().to_owned(),
                                        callback_data: b["callback_data"]
                                            .as_str()
                                            .map(str::to_owned),
                                    })
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .filter(|row: &Vec<Button>| !row.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            message_id: as_i64(record.get("messageId")?)?,
            chat_id,
            text: message["text"]
                .as_str()
                .or_else(|| message["caption"].as_str())
                .unwrap_or_default()
                .to_owned(),
            parse_mode: message["parse_mode"].as_str().map(str::to_owned),
            buttons,
            raw: record.clone(),
        })
    }

    /// The text as the user reads it: with `parse_mode: HTML`, tags
    /// removed and entities decoded.
    pub fn plain(&self) -> String {
        match self.parse_mode.as_deref() {
            Some(mode) if mode.eq_ignore_ascii_case("html") => html_to_text(&self.text),
            _ => self.text.clone(),
        }
    }

    /// Every button's label, row by row.
    pub fn labels(&self) -> Vec<String> {
        self.buttons
            .iter()
            .flatten()
            .map(|b| b.text.clone())
            .collect()
    }

    /// What the buttons carry, read by the worker's own reader (buttons
    /// whose data it cannot read are left out).
    pub fn button_data(&self) -> Vec<ButtonData> {
        self.buttons
            .iter()
            .flatten()
            .filter_map(|b| ButtonData::parse(b.callback_data.as_deref()?))
            .collect()
    }

    /// The actions the buttons offer, in order.
    pub fn actions(&self) -> Vec<Action> {
        self.button_data().iter().map(|d| d.action).collect()
    }

    /// The data of the button offering `action`.
    pub fn data_for(&self, action: Action) -> Option<ButtonData> {
        self.button_data().into_iter().find(|d| d.action == action)
    }
}

fn as_i64(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

/// Telegram's HTML as text: tags dropped, the entities Telegram accepts
/// (`&lt;` `&gt;` `&amp;` `&quot;` and numeric ones) decoded.
pub fn html_to_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(i) = rest.find(['<', '&']) {
        text.push_str(&rest[..i]);
        rest = &rest[i..];
        if rest.starts_with('<') {
            match rest.find('>') {
                Some(end) => rest = &rest[end + 1..],
                None => {
                    text.push_str(rest);
                    rest = "";
                }
            }
            continue;
        }
        let entity = rest.find(';').filter(|&end| end <= 10).map(|end| {
            let decoded = match &rest[1..end] {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                numeric => numeric
                    .strip_prefix("#x")
                    .or_else(|| numeric.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| numeric.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            (decoded, end)
        });
        match entity {
            Some((Some(c), end)) => {
                text.push(c);
                rest = &rest[end + 1..];
            }
            _ => {
                text.push('&');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_reads_as_the_user_sees_it() {
        assert_eq!(
            html_to_text("✅ <b>Crumb &amp; Co</b> — <code>&lt;x&gt;</code> &#39;a&#x27; & b"),
            "✅ Crumb & Co — <x> 'a' & b"
        );
        assert_eq!(html_to_text("a <b"), "a <b");
    }

    #[test]
    fn a_bot_message_record_is_read_and_a_users_update_is_not() {
        let record = json!({
            "time": 1, "botToken": "1:t", "updateId": 3, "messageId": 7, "isRead": false,
            "message": {
                "chat_id": 42, "text": "<b>Hi</b>", "parse_mode": "HTML",
                "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "status:x"}], []]}
            }
        });
        let message = BotMessage::from_record(&record).unwrap();
        assert_eq!(message.message_id, 7);
        assert_eq!(message.chat_id, 42);
        assert_eq!(message.plain(), "Hi");
        assert_eq!(message.labels(), ["A"]);
        assert!(message.button_data().is_empty(), "not a version id");

        let users = json!({
            "time": 1, "botToken": "1:t", "updateId": 1, "messageId": 1, "isRead": true,
            "message": {"chat": {"id": 42, "type": "private"}, "text": "hi"}
        });
        assert!(BotMessage::from_record(&users).is_none());
        let click = json!({"time": 1, "botToken": "1:t", "updateId": 2, "messageId": 1,
            "callbackQuery": {"data": "x"}, "callbackId": 1});
        assert!(BotMessage::from_record(&click).is_none());
    }
}
