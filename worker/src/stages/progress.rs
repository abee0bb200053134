//! The job's status message (queued → writing → checking), kept up to date
//! by a task of its own, so no stage waits on Telegram.
//!
//! teloxide's `Throttle` paces sends to stay inside Telegram's limits (its
//! queue is released on a 250 ms tick), so an inline first send cost every
//! job about a quarter of a second before it could start generating. Here a
//! stage only queues the text; the task sends the first one and edits the
//! message for the rest, newest text first if several are waiting (the user
//! only needs to see where the job is now). The ready message is sent after
//! [`Progress::finish`] hands back the message id, so it still replaces the
//! status message, and still goes out before the job's delivery is acked.

use pagesmith::db;
use tokio::{sync::mpsc, task::JoinHandle};
use uuid::Uuid;

use super::resolve::Context;
use crate::{environment::Environment, telegram::escape};

/// A stage worth showing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Queued,
    Writing,
    Checking,
}

fn stage_text(stage: Stage, ctx: &Context) -> String {
    let what = if ctx.request.change_request.is_some() {
        format!(
            "version {} of <b>{}</b>",
            ctx.round,
            escape(&ctx.project.title)
        )
    } else {
        format!("<b>{}</b>", escape(&ctx.project.title))
    };
    match stage {
        Stage::Queued => format!("⏳ Got it! Your site {what} is queued."),
        Stage::Writing => format!("✍️ Writing {what}…\n\n▰▱▱ generating the pages"),
        Stage::Checking => format!("🔎 Checking {what}…\n\n▰▰▱ validating files and links"),
    }
}

/// A job's status message, updated in the background.
pub struct Progress {
    updates: Option<mpsc::UnboundedSender<String>>,
    task: Option<JoinHandle<Option<i32>>>,
}

impl Progress {
    /// Starts the updater; without a chat (an /app job), it does nothing.
    pub fn start(env: &Environment, ctx: &Context) -> Self {
        let Some(chat_id) = ctx.chat_id else {
            return Self {
                updates: None,
                task: None,
            };
        };
        let (updates, received) = mpsc::unbounded_channel();
        let task = tokio::spawn(keep_up(
            env.telegram.clone(),
            env.pool.clone(),
            Target {
                chat_id,
                job_id: ctx.job.id,
                project_id: ctx.project.id,
                message_id: ctx.job.status_message_id,
            },
            received,
        ));
        Self {
            updates: Some(updates),
            task: Some(task),
        }
    }

    /// Queues `stage` for the status message; returns at once.
    pub fn show(&self, stage: Stage, ctx: &Context) {
        if let Some(updates) = &self.updates {
            let _ = updates.send(stage_text(stage, ctx));
        }
    }

    /// Waits until every queued update went out (or failed, which is only
    /// logged), and puts the status message's id, if there is one, on the
    /// job for the ready message to replace.
    pub async fn finish(mut self, ctx: &mut Context) {
        self.updates = None;
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(message_id) => ctx.job.status_message_id = message_id,
                Err(e) => {
                    tracing::warn!(job.id = %ctx.job.id, error = %e, "the status updater failed")
                }
            }
        }
    }
}

struct Target {
    chat_id: i64,
    job_id: Uuid,
    project_id: Uuid,
    message_id: Option<i32>,
}

async fn keep_up(
    telegram: crate::telegram::Telegram,
    pool: sqlx::PgPool,
    mut target: Target,
    mut received: mpsc::UnboundedReceiver<String>,
) -> Option<i32> {
    while let Some(mut text) = received.recv().await {
        while let Ok(newer) = received.try_recv() {
            text = newer;
        }
        let job = target.job_id;
        match target.message_id {
            Some(message_id) => {
                if let Err(e) = telegram.edit(target.chat_id, message_id, &text, None).await {
                    tracing::warn!(job.id = %job, error = %e, "could not update the status message");
                }
            }
            None => match telegram.send(target.chat_id, &text, None).await {
                Ok(message_id) => {
                    target.message_id = Some(message_id);
                    let stored = async {
                        db::jobs::set_status_message(&pool, job, message_id).await?;
                        db::chat::record(
                            &pool,
                            target.chat_id,
                            message_id,
                            target.project_id,
                            None,
                            "status",
                        )
                        .await
                    };
                    if let Err(e) = stored.await {
                        tracing::warn!(job.id = %job, error = %e, "could not record the status message");
                    }
                }
                Err(e) => {
                    tracing::warn!(job.id = %job, error = %e, "could not send the status message")
                }
            },
        }
    }
    target.message_id
}
