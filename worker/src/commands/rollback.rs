//! `/rollback <n>`: brings version n back as a new version of the same site.
//!
//! The command prepares a generation job whose generated files are exactly
//! version n's, already committed (as a finished generation would be), and
//! queues it. The normal pipeline then checks and bundles it into a new
//! version with the usual ready message and buttons, and approving that
//! version publishes a new commit to the same repository.

use pagesmith::{
    db::{self, generations::Generation},
    domain::{
        JobPayload,
        job::{TelegramCommand, TelegramPrompt},
    },
};
use uuid::Uuid;

use super::{NO_SITE, chat_project};
use crate::{
    environment::Environment,
    error::JobError,
    generator::{GeneratedFile, origin::Origin},
    stages::bundle::read_files,
    telegram::escape,
};

const USAGE: &str = "Tell me which version to bring back, e.g. <code>/rollback 2</code>. \
                     /history lists the versions.";

pub async fn run(env: &Environment, command: &TelegramCommand) -> Result<String, JobError> {
    let args = command.args.trim();
    if args.is_empty() {
        return Ok(USAGE.to_owned());
    }
    let Some(number) = args.parse::<i32>().ok().filter(|n| *n > 0) else {
        return Ok(format!(
            "<code>{}</code> is not a version number. {USAGE}",
            escape(args)
        ));
    };
    let Some(project) = chat_project(env, command).await? else {
        return Ok(NO_SITE.to_owned());
    };
    let authorized = env
        .settings
        .may_decide(project.owner_user_id, command.user_id);
    if !authorized {
        tracing::info!(user = command.user_id, project.id = %project.id, "unauthorized rollback refused");
        return Ok(
            "Sorry, only the person who asked for this site or a reviewer can roll it back."
                .to_owned(),
        );
    }
    let latest = db::versions::latest(&env.pool, project.id).await?;
    let newest = latest.as_ref().map_or(0, |v| v.number);
    let Some(version) = db::versions::by_number(&env.pool, project.id, number).await? else {
        return Ok(format!(
            "<b>{}</b> has no version {number}; its versions are 1 to {newest}. \
             /history lists them.",
            escape(&project.title)
        ));
    };
    if number == newest {
        return Ok(format!(
            "Version {number} is already the latest version of <b>{}</b>.",
            escape(&project.title)
        ));
    }
    let files = read_files(env, &version)
        .await?
        .into_iter()
        .map(|f| {
            String::from_utf8(f.bytes).map(|content| GeneratedFile {
                path: f.path.to_string(),
                content,
            })
        })
        .collect::<Result<Vec<_>, _>>();
    let Ok(files) = files else {
        return Ok(format!(
            "Version {number} has a binary file I cannot bring back; please describe the change instead."
        ));
    };

    let job_id = Uuid::new_v4();
    let round = newest + 1;
    let payload = JobPayload::Prompt(TelegramPrompt {
        chat_id: command.chat_id,
        user_id: command.user_id,
        message_id: command.message_id,
        text: format!("Roll back to version {number}"),
        reply_to_message_id: None,
        revise: true,
        user_name: None,
    });
    let generation = Generation {
        generator: Origin::Rollback(number).to_string(),
        raw_output: None,
        files,
        // Version n's files already passed through the checks once; a
        // rollback restores them as they were, without a repair round.
        repair_rounds: 0,
        derived_checks: Some(Vec::new()),
    };
    let mut tx = env.pool.begin().await?;
    db::jobs::insert_prepared(&mut tx, job_id, &payload, project.id, round).await?;
    db::generations::save(&mut tx, job_id, &generation).await?;
    tx.commit().await?;
    tracing::info!(job.id = %job_id, project.id = %project.id, number, "rollback queued");
    Ok(format!(
        "⏪ Bringing back version {number} of <b>{}</b> as version {round}. \
         Its preview and buttons follow in a moment; approve it to publish.",
        escape(&project.title)
    ))
}
