//! Turning a Telegram update into the job it asks for, or into nothing.

use pagesmith::{
    db::updates::{NewJob, UpdateOutcome, UpdateRecord},
    domain::{JobPayload, job::TelegramCallback, job::TelegramCommand, job::TelegramPrompt},
};
use teloxide_core::types::{Message, Update, UpdateKind};
use uuid::Uuid;

use crate::group_commit::{IngestError, Ingestor};

mod chatter;

/// The command job a message becomes when it is chatter (see [`chatter`]):
/// the worker answers it with how to describe a site.
pub const GUIDE: &str = "guide";

/// Commits one update's record (dedupe row, and its job and outbox row if
/// it has one) and counts the outcome. The one path every update takes,
/// whether Telegram posted it to the webhook or the poller fetched it.
pub async fn accept(
    ingestor: &Ingestor,
    record: UpdateRecord,
) -> Result<UpdateOutcome, IngestError> {
    let label = if record.job.is_some() {
        "job"
    } else {
        "ignored"
    };
    let outcome = ingestor.submit(record).await?;
    let label = match outcome {
        UpdateOutcome::Recorded => label,
        UpdateOutcome::Duplicate => "duplicate",
    };
    metrics::counter!("pagesmith_updates_total", "outcome" => label).increment(1);
    Ok(outcome)
}

/// The record of an update we could not read at all (Telegram changed its
/// format): kept as ignored under its id, so it is neither retried forever
/// nor mistaken for something else later.
pub fn unreadable(update_id: i64, request_id: Option<String>) -> UpdateRecord {
    UpdateRecord {
        update_id,
        kind: "unreadable".to_owned(),
        job: None,
        request_id,
    }
}

/// Decides what an update is. Text becomes a prompt, or a [`GUIDE`] command
/// when it is chatter (a greeting, thanks, emoji, too short); `/command` a
/// command (`/revise <text>` a prompt that changes the latest project,
/// `/new <text>` a prompt that starts a new one); a button click a
/// callback; everything else is recorded as ignored.
pub fn record_for(update: &Update, request_id: Option<String>) -> UpdateRecord {
    let (kind, job) = match &update.kind {
        UpdateKind::Message(message) => ("message", job_for_message(message)),
        UpdateKind::CallbackQuery(query) => {
            let job = query.data.as_ref().map(|data| NewJob {
                id: Uuid::new_v4(),
                chat_id: query.message.as_ref().map(|m| m.chat().id.0),
                user_id: Some(query.from.id.0 as i64),
                payload: JobPayload::Callback(TelegramCallback {
                    query_id: storable(&query.id.0),
                    user_id: query.from.id.0 as i64,
                    chat_id: query.message.as_ref().map(|m| m.chat().id.0),
                    message_id: query.message.as_ref().map(|m| m.id().0),
                    data: storable(data),
                    user_name: Some(storable(&query.from.full_name()))
                        .filter(|n| !n.trim().is_empty()),
                }),
            });
            ("callback_query", job)
        }
        other => (kind_name(other), None),
    };
    UpdateRecord {
        update_id: i64::from(update.id.0),
        kind: kind.to_owned(),
        job,
        request_id,
    }
}

fn job_for_message(message: &Message) -> Option<NewJob> {
    let text = storable(message.text()?.trim());
    if text.is_empty() {
        return None;
    }
    // Channel posts and anonymous admins have no sender; there is nobody to
    // answer or to authorise, so they are ignored.
    let from = message.from.as_ref()?;
    let user_id = from.id.0 as i64;
    let user_name = Some(storable(&from.full_name())).filter(|n| !n.trim().is_empty());
    let chat_id = message.chat.id.0;
    let message_id = message.id.0;

    let reply_to = message.reply_to_message();
    let reply_to_message_id = reply_to.map(|m| m.id.0);
    let replies_to_bot = reply_to
        .and_then(|m| m.from.as_ref())
        .is_some_and(|sender| sender.is_bot);
    let prompt = |text, reply_to_message_id, revise| {
        JobPayload::Prompt(TelegramPrompt {
            chat_id,
            user_id,
            message_id,
            text,
            reply_to_message_id,
            revise,
            user_name,
        })
    };
    let command = |name, args| {
        JobPayload::Command(TelegramCommand {
            chat_id,
            user_id,
            message_id,
            name,
            args,
        })
    };
    let payload = match parse_command(&text) {
        // A site of its own whatever the text, even sent as a reply.
        Some((name, args)) if name == "new" && !args.is_empty() => prompt(args, None, false),
        Some((name, args)) if name == "revise" && !args.is_empty() => {
            prompt(args, reply_to_message_id, true)
        }
        Some((name, args)) => command(name, args),
        // The worker answers how to describe a site (and mentions /new).
        None if chatter::is_chatter(&text, replies_to_bot) => {
            command(GUIDE.to_owned(), String::new())
        }
        None => prompt(text, reply_to_message_id, false),
    };
    Some(NewJob {
        id: Uuid::new_v4(),
        chat_id: Some(chat_id),
        user_id: Some(user_id),
        payload,
    })
}

/// PostgreSQL cannot store NUL in `jsonb`, so an update carrying one could
/// never be recorded: it would be answered 500 and retried by Telegram for a
/// day. Telegram itself never sends NUL; a forged or broken update gets
/// U+FFFD in its place, the usual mark of an unusable character.
fn storable(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// `("status", "")` from `/status`, `("revise", "bigger logo")` from
/// `/revise@pagesmith_bot bigger logo`. `None` when the text is no command.
pub fn parse_command(text: &str) -> Option<(String, String)> {
    let rest = text.strip_prefix('/')?;
    let (head, args) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let name = head.split('@').next().unwrap_or(head);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    Some((name.to_ascii_lowercase(), args.trim().to_owned()))
}

/// Telegram's name for an update type we do not act on.
fn kind_name(kind: &UpdateKind) -> &'static str {
    match kind {
        UpdateKind::Message(_) => "message",
        UpdateKind::EditedMessage(_) => "edited_message",
        UpdateKind::ChannelPost(_) => "channel_post",
        UpdateKind::EditedChannelPost(_) => "edited_channel_post",
        UpdateKind::CallbackQuery(_) => "callback_query",
        UpdateKind::InlineQuery(_) => "inline_query",
        UpdateKind::ChosenInlineResult(_) => "chosen_inline_result",
        UpdateKind::MyChatMember(_) => "my_chat_member",
        UpdateKind::ChatMember(_) => "chat_member",
        UpdateKind::ChatJoinRequest(_) => "chat_join_request",
        UpdateKind::Poll(_) => "poll",
        UpdateKind::PollAnswer(_) => "poll_answer",
        UpdateKind::Error(_) => "unknown",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// From text, as the webhook reads it: teloxide's update reader needs
    /// borrowed keys, which a `serde_json::Value` cannot lend.
    fn parse_update(json: serde_json::Value) -> Update {
        serde_json::from_str(&json.to_string()).unwrap()
    }

    #[test]
    fn nul_characters_become_replacement_characters_so_the_update_can_be_stored() {
        let update = parse_update(serde_json::json!({
            "update_id": 1,
            "message": {
                "message_id": 1, "date": 1_700_000_000,
                "chat": {"id": 10, "type": "private", "first_name": "A"},
                "from": {"id": 10, "is_bot": false, "first_name": "A\0da"},
                "text": "A tea\0 page for my shop"
            }
        }));
        let job = record_for(&update, None).job.unwrap();
        let JobPayload::Prompt(prompt) = job.payload else {
            panic!("a prompt")
        };
        assert_eq!(prompt.text, "A tea\u{FFFD} page for my shop");
        assert_eq!(prompt.user_name.as_deref(), Some("A\u{FFFD}da"));

        let click = parse_update(serde_json::json!({
            "update_id": 2,
            "callback_query": {
                "id": "q\0", "chat_instance": "c", "data": "approve:\0",
                "from": {"id": 10, "is_bot": false, "first_name": "A"}
            }
        }));
        let JobPayload::Callback(click) = record_for(&click, None).job.unwrap().payload else {
            panic!("a click")
        };
        assert_eq!(
            (click.query_id.as_str(), click.data.as_str()),
            ("q\u{FFFD}", "approve:\u{FFFD}")
        );
    }

    #[test]
    fn commands_are_split_from_their_arguments() {
        assert_eq!(parse_command("/status"), Some(("status".into(), "".into())));
        assert_eq!(
            parse_command("/Revise@pagesmith_bot  make it blue "),
            Some(("revise".into(), "make it blue".into()))
        );
        assert_eq!(parse_command("hello"), None);
        assert_eq!(parse_command("/"), None);
        assert_eq!(parse_command("/path/to/file"), None);
    }
}
