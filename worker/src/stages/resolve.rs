//! Working out what a generation job is about: its project, its round, and
//! everything the generator needs to know.

use std::sync::Arc;

use pagesmith::{
    bundle::BundleFile,
    db::{
        self,
        app::AppRequestRecord,
        jobs::Job,
        projects::{NewProject, Project},
    },
    domain::{JobPayload, SitePath, Source, file_type, job::TelegramPrompt},
};
use uuid::Uuid;

use crate::{
    context::Context,
    environment::Environment,
    error::JobError,
    generator::{Attachment, GeneratedFile, SiteRequest, origin::Origin},
};

pub async fn context(env: &Environment, job: Job) -> Result<Context, JobError> {
    match job.payload.clone() {
        JobPayload::App => app_context(env, job).await,
        JobPayload::Prompt(prompt) => prompt_context(env, job, prompt).await,
        other => Err(JobError::permanent(
            format!("a generation job carries a {:?} payload", other.kind()),
            crate::texts::OUR_FAULT,
        )),
    }
}

async fn app_context(env: &Environment, job: Job) -> Result<Context, JobError> {
    let request = db::app::request_for_job(&env.pool, job.id)
        .await?
        .ok_or_else(|| {
            JobError::permanent("the /app job has no request row", crate::texts::OUR_FAULT)
        })?;
    if request.round > 1 {
        wait_for_earlier_rounds(env, &request).await?;
    }
    let mut tx = env.pool.begin().await?;
    let project_id = db::projects::insert_or_get(
        &mut tx,
        &NewProject {
            id: Uuid::new_v4(),
            source: Source::App,
            task: Some(request.task.clone()),
            chat_id: None,
            owner_user_id: None,
            owner_name: request.email.clone(),
            title: request.task.clone(),
            brief: request.brief.clone(),
        },
    )
    .await?;
    db::jobs::set_project(&mut tx, job.id, project_id, request.round).await?;
    tx.commit().await?;

    let attachments = db::app::attachments(&env.pool, job.id)
        .await?
        .into_iter()
        .filter_map(|a| {
            // Names were validated at the door; a row that fails now is skipped, not trusted.
            SitePath::parse(&a.name).ok().map(|name| Attachment {
                name,
                media_type: a.media_type,
                data: Arc::new(a.data),
            })
        })
        .collect();
    let checks: Vec<String> = serde_json::from_value(request.checks.clone()).unwrap_or_default();
    let project = load_project(env, project_id).await?;
    let (previous_files, carried) = previous(env, project_id, request.round > 1).await?;
    let request_for_generator = SiteRequest {
        brief: request.brief.clone(),
        checks,
        attachments,
        round: request.round,
        change_request: (request.round > 1).then(|| request.brief.clone()),
        previous_files,
        owner: request.email.clone(),
    };
    Ok(Context {
        round: request.round,
        job,
        project,
        request: request_for_generator,
        carried,
        app: Some(request),
        chat_id: None,
    })
}

/// Round N revises what round N-1 published, so it waits for it.
async fn wait_for_earlier_rounds(
    env: &Environment,
    request: &AppRequestRecord,
) -> Result<(), JobError> {
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app_requests a JOIN jobs j ON j.id = a.job_id
         WHERE a.task = $1 AND a.round < $2
           AND j.state NOT IN ('published', 'done', 'failed', 'rejected', 'expired')",
    )
    .bind(&request.task)
    .bind(request.round)
    .fetch_one(&env.pool)
    .await?;
    if pending > 0 {
        return Err(JobError::Deferred {
            reason: format!(
                "round {} waits for an earlier round of `{}`",
                request.round, request.task
            ),
            delay: std::time::Duration::from_secs(5),
        });
    }
    Ok(())
}

async fn prompt_context(
    env: &Environment,
    job: Job,
    prompt: TelegramPrompt,
) -> Result<Context, JobError> {
    let project_id = match job.project_id {
        Some(id) => id,
        None => {
            let existing = target_project(env, &prompt).await?;
            let id = match existing {
                Some(project) => project.id,
                None => new_telegram_project(env, &prompt).await?,
            };
            let round = match db::versions::latest(&env.pool, id).await? {
                Some(v) => v.number + 1,
                None => 1,
            };
            let mut tx = env.pool.begin().await?;
            db::jobs::set_project(&mut tx, job.id, id, round).await?;
            tx.commit().await?;
            id
        }
    };
    let project = load_project(env, project_id).await?;
    let latest = db::versions::latest(&env.pool, project_id).await?;
    let is_revision = latest.as_ref().is_some_and(|v| v.job_id != job.id);
    let round = job
        .round
        .unwrap_or_else(|| latest.as_ref().map_or(1, |v| v.number + 1));
    // A rollback's generation is the whole earlier site: nothing is carried.
    let rollback = db::generations::load::<GeneratedFile>(&env.pool, job.id)
        .await?
        .is_some_and(|g| Origin::is_rollback(&g.generator));
    let (previous_files, carried) = previous(env, project_id, is_revision && !rollback).await?;
    let request = SiteRequest {
        brief: project.brief.clone(),
        checks: Vec::new(),
        attachments: Vec::new(),
        round,
        change_request: is_revision.then(|| prompt.text.clone()),
        previous_files,
        owner: project.owner_name.clone(),
    };
    Ok(Context {
        round,
        chat_id: Some(prompt.chat_id),
        job,
        project,
        request,
        carried,
        app: None,
    })
}

/// The project a prompt changes: the one whose message it replies to, or
/// for `/revise` the chat's latest. `None` means a new project.
async fn target_project(
    env: &Environment,
    prompt: &TelegramPrompt,
) -> Result<Option<Project>, JobError> {
    if let Some(reply_to) = prompt.reply_to_message_id
        && let Some(message) = db::chat::find(&env.pool, prompt.chat_id, reply_to).await?
    {
        return Ok(Some(load_project(env, message.project_id).await?));
    }
    if prompt.revise {
        return match db::projects::latest_in_chat(&env.pool, prompt.chat_id).await? {
            Some(project) => Ok(Some(project)),
            None => Err(JobError::permanent(
                "/revise without a project",
                crate::texts::NOTHING_TO_REVISE,
            )),
        };
    }
    Ok(None)
}

async fn new_telegram_project(
    env: &Environment,
    prompt: &TelegramPrompt,
) -> Result<Uuid, JobError> {
    let mut tx = env.pool.begin().await?;
    let id = db::projects::insert_or_get(
        &mut tx,
        &NewProject {
            id: Uuid::new_v4(),
            source: Source::Telegram,
            task: None,
            chat_id: Some(prompt.chat_id),
            owner_user_id: Some(prompt.user_id),
            owner_name: prompt
                .user_name
                .clone()
                .unwrap_or_else(|| format!("Telegram user {}", prompt.user_id)),
            title: title_from(&prompt.text),
            brief: prompt.text.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// A site's name until its first generation names it: the name the prompt
/// gives, else its first line, cut at a word boundary to the name's length.
pub fn title_from(text: &str) -> String {
    if let Some(name) = crate::site_name::from_brief(text) {
        return name;
    }
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("My site")
        .trim();
    crate::text::shorten(line, crate::site_name::MAX_NAME - 1)
}

async fn load_project(env: &Environment, id: Uuid) -> Result<Project, JobError> {
    db::projects::get(&env.pool, id).await?.ok_or_else(|| {
        JobError::permanent(format!("project {id} vanished"), crate::texts::SITE_GONE)
    })
}

/// The latest version's files, as text for the generator and as bytes to
/// carry into the new version.
async fn previous(
    env: &Environment,
    project_id: Uuid,
    wanted: bool,
) -> Result<(Vec<GeneratedFile>, Vec<BundleFile>), JobError> {
    if !wanted {
        return Ok((Vec::new(), Vec::new()));
    }
    let Some(latest) = db::versions::latest(&env.pool, project_id).await? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let files = super::bundle::read_files(env, &latest).await?;
    let text = files
        .iter()
        .filter(|f| file_type::is_text(&f.path))
        .filter_map(|f| {
            String::from_utf8(f.bytes.clone())
                .ok()
                .map(|content| GeneratedFile {
                    path: f.path.to_string(),
                    content,
                })
        })
        .collect();
    Ok((text, files))
}
