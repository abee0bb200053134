//! Jobs: what the worker is asked to do, and where each job stands.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

text_enum! {
    /// What a job does.
    JobKind {
        /// Write a site (a new project or a new round of one) and, once
        /// approved, publish it: one job from prompt to Pages, queued again
        /// by the approval.
        Generate = "generate",
        /// Answer a bot command such as `/status`.
        Command = "command",
        /// Act on a click on an inline button.
        Callback = "callback",
    }
}

text_enum! {
    /// Which door a job came through.
    Source {
        Telegram = "telegram",
        App = "app",
    }
}

text_enum! {
    /// Where a job stands. Generation jobs move
    /// queued → generating → checking → preview_ready → approved → publishing
    /// → published; commands and clicks go queued → done. Any job may end
    /// failed; generation jobs may also end rejected or expired.
    JobState {
        Queued = "queued",
        Generating = "generating",
        Checking = "checking",
        PreviewReady = "preview_ready",
        Approved = "approved",
        Publishing = "publishing",
        Published = "published",
        Done = "done",
        Failed = "failed",
        Rejected = "rejected",
        Expired = "expired",
    }
}

impl JobState {
    /// No further work happens to a job in a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Published | Self::Done | Self::Failed | Self::Rejected | Self::Expired
        )
    }
}

text_enum! {
    /// The work queue a job is published to. Clicks and commands have their
    /// own queue so that they are answered within Telegram's ~150 s window
    /// even while every generation slot is busy with a slow LLM. `/app`
    /// tasks have theirs so that they never queue behind prompts in the
    /// broker; the worker's slots put the nearest deadline first.
    WorkQueue {
        Jobs = "jobs",
        Interactive = "interactive",
        Deadline = "deadline",
    }
}

impl JobKind {
    /// The queue jobs of this kind go to.
    pub fn queue(self) -> WorkQueue {
        match self {
            Self::Generate => WorkQueue::Jobs,
            Self::Command | Self::Callback => WorkQueue::Interactive,
        }
    }
}

/// What was asked, stored with the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobPayload {
    /// A description of a site, or of a change to one, sent in a chat.
    Prompt(TelegramPrompt),
    /// A bot command such as `/status`.
    Command(TelegramCommand),
    /// A click on an inline button.
    Callback(TelegramCallback),
    /// An evaluator's task brief; the details live in `app_requests`.
    App,
}

impl JobPayload {
    pub fn kind(&self) -> JobKind {
        match self {
            Self::Prompt(_) | Self::App => JobKind::Generate,
            Self::Command(_) => JobKind::Command,
            Self::Callback(_) => JobKind::Callback,
        }
    }
}

/// Text describing a site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramPrompt {
    pub chat_id: i64,
    pub user_id: i64,
    pub message_id: i32,
    pub text: String,
    /// Set when the text replies to one of the bot's messages: it then asks
    /// for a change to that message's project.
    pub reply_to_message_id: Option<i32>,
    /// Set for `/revise <text>`: a change to the chat's latest project.
    #[serde(default)]
    pub revise: bool,
    /// The sender's name as Telegram shows it, for the site's LICENSE.
    #[serde(default)]
    pub user_name: Option<String>,
}

/// A bot command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramCommand {
    pub chat_id: i64,
    pub user_id: i64,
    pub message_id: i32,
    /// The command without its slash or `@botname`, lower-cased: `status`.
    pub name: String,
    /// Whatever followed the command, trimmed.
    pub args: String,
}

/// A click on an inline button.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelegramCallback {
    /// Must be answered with `answerCallbackQuery`.
    pub query_id: String,
    pub user_id: i64,
    pub chat_id: Option<i64>,
    pub message_id: Option<i32>,
    /// The button's `callback_data`, untrusted.
    pub data: String,
    /// Who clicked, as Telegram names them (for "Approved by Ada").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// The message body published to RabbitMQ for a job. The job itself lives in
/// PostgreSQL; the message only says which job to look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: uuid::Uuid,
    pub kind: JobKind,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_through_their_names() {
        for state in JobState::ALL {
            assert_eq!(state.as_str().parse::<JobState>(), Ok(*state));
        }
        assert!("bogus".parse::<JobState>().is_err());
    }

    #[test]
    fn payloads_serialize_with_a_type_tag() {
        let payload = JobPayload::Command(TelegramCommand {
            chat_id: 1,
            user_id: 2,
            message_id: 3,
            name: "status".into(),
            args: String::new(),
        });
        let json = serde_json::to_value(&payload).unwrap();
        assert_eq!(json["type"], "command");
        assert_eq!(serde_json::from_value::<JobPayload>(json).unwrap(), payload);
        assert_eq!(payload.kind().queue(), WorkQueue::Interactive);
        assert_eq!(JobPayload::App.kind().queue(), WorkQueue::Jobs);
    }
}
