//! Commands and review-button clicks.

use pagesmith::domain::{
    JobPayload,
    job::{TelegramCallback, TelegramCommand},
};
use worker::process::process;

use crate::helpers::{CHAT, Step, TestWorker, USER, good_site, spawn};

async fn command(w: &TestWorker, name: &str) -> String {
    command_as(w, USER, name, "").await
}

/// Runs `/name args` sent by `user` and returns the bot's answer.
pub async fn command_as(w: &TestWorker, user: i64, name: &str, args: &str) -> String {
    let job = w
        .insert_job(JobPayload::Command(TelegramCommand {
            chat_id: CHAT,
            user_id: user,
            message_id: 9,
            name: name.into(),
            args: args.into(),
        }))
        .await;
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "done");
    let calls = w.telegram_calls().await;
    calls.last().unwrap().1["text"].as_str().unwrap().to_owned()
}

pub async fn click(w: &TestWorker, user: i64, data: &str) -> (String, bool) {
    let job = w
        .insert_job(JobPayload::Callback(TelegramCallback {
            query_id: format!("q-{}", uuid::Uuid::new_v4()),
            user_id: user,
            chat_id: Some(CHAT),
            message_id: Some(crate::helpers::STATUS_MESSAGE),
            data: data.into(),
            user_name: Some("Ada Lovelace".into()),
        }))
        .await;
    process(&w.env, job).await.unwrap();
    let calls = w.telegram_calls().await;
    let answer = calls
        .iter()
        .rev()
        .find(|(m, _)| m == "answercallbackquery")
        .expect("the click is answered");
    (
        answer.1["text"].as_str().unwrap().to_owned(),
        answer.1["show_alert"].as_bool().unwrap_or(false),
    )
}

#[tokio::test]
async fn help_start_and_unknown_commands_are_answered() {
    let w = spawn(vec![], vec![], &[]).await;
    assert!(command(&w, "help").await.contains("/status"));
    assert!(command(&w, "start").await.starts_with("👋"));
    assert!(
        command(&w, "frobnicate")
            .await
            .contains("I don't know <code>/frobnicate</code>")
    );
}

#[tokio::test]
async fn status_lists_the_users_recent_sites_with_their_links() {
    let w = spawn(vec![Step::Files(good_site("Bakery"))], vec![], &[]).await;
    assert!(command(&w, "status").await.contains("no sites yet"));
    let job = w.prompt("My bakery site", None).await;
    process(&w.env, job).await.unwrap();
    let token = w.version_of(job).await.preview_token;
    let status = command(&w, "status").await;
    assert!(
        // Named by its page's title (the prompt gives no name).
        status.contains("<b>Bakery</b>") && status.contains("ready for review"),
        "{status}"
    );
    assert!(status.contains(&format!("https://preview.test/p/{token}/")));
}

async fn ready_site(w: &TestWorker) -> (uuid::Uuid, uuid::Uuid) {
    let job = w.prompt("A site", None).await;
    process(&w.env, job).await.unwrap();
    (job, w.version_of(job).await.id)
}

#[tokio::test]
async fn approving_moves_the_job_on_once_however_often_it_is_clicked() {
    let w = spawn(vec![Step::Files(good_site("A"))], vec![], &[]).await;
    let (job, version) = ready_site(&w).await;
    let (first, alert) = click(&w, USER, &format!("approve:{version}")).await;
    assert!(first.contains("Approved version 1") && !alert, "{first}");
    assert_eq!(w.state(job).await, "approved");
    let (second, _) = click(&w, USER, &format!("approve:{version}")).await;
    assert!(second.contains("already being published"), "{second}");
    assert_eq!(
        w.count(&format!(
            "SELECT count(*) FROM outbox WHERE job_id = '{job}'"
        ))
        .await,
        1,
        "one publish, however many clicks"
    );
}

#[tokio::test]
async fn a_stranger_is_refused_politely_and_nothing_changes() {
    let w = spawn(vec![Step::Files(good_site("A"))], vec![], &[]).await;
    let (job, version) = ready_site(&w).await;
    let (answer, alert) = click(&w, 31337, &format!("approve:{version}")).await;
    assert!(
        answer.starts_with("Sorry, only the person who asked") && alert,
        "{answer}"
    );
    assert_eq!(w.state(job).await, "preview_ready");
}

#[tokio::test]
async fn a_listed_reviewer_may_act() {
    let w = spawn(
        vec![Step::Files(good_site("A"))],
        vec![],
        &[("REVIEWER_USER_IDS", "31337, 42")],
    )
    .await;
    let (job, version) = ready_site(&w).await;
    click(&w, 31337, &format!("reject:{version}")).await;
    assert_eq!(w.state(job).await, "rejected");
    let state: String = sqlx::query_scalar("SELECT state FROM versions WHERE id = $1")
        .bind(version)
        .fetch_one(&w.db.pool)
        .await
        .unwrap();
    assert_eq!(state, "rejected", "its preview stops being served");
}

#[tokio::test]
async fn a_stale_version_cannot_be_approved() {
    let w = spawn(
        vec![Step::Files(good_site("A")), Step::Files(good_site("B"))],
        vec![],
        &[],
    )
    .await;
    let (job1, version1) = ready_site(&w).await;
    let round2 = w
        .prompt("Change it", Some(crate::helpers::STATUS_MESSAGE))
        .await;
    process(&w.env, round2).await.unwrap();
    let (answer, alert) = click(&w, USER, &format!("approve:{version1}")).await;
    assert!(
        answer.contains("replaced by a newer one") && alert,
        "{answer}"
    );
    assert_eq!(w.state(job1).await, "preview_ready");
}

#[tokio::test]
async fn tampered_button_data_changes_nothing() {
    let w = spawn(vec![Step::Files(good_site("A"))], vec![], &[]).await;
    let (job, version) = ready_site(&w).await;
    for data in [
        "approve:not-a-uuid",
        &format!("publish:{version}"),
        &format!("approve:{}", uuid::Uuid::new_v4()),
    ] {
        let (_, alert) = click(&w, USER, data).await;
        assert!(alert, "{data} is refused");
    }
    assert_eq!(w.state(job).await, "preview_ready");
}

#[tokio::test]
async fn request_changes_asks_for_a_reply_that_starts_the_next_round() {
    let w = spawn(
        vec![Step::Files(good_site("A")), Step::Files(good_site("B"))],
        vec![],
        &[],
    )
    .await;
    let (_, version) = ready_site(&w).await;
    let (answer, _) = click(&w, USER, &format!("revise:{version}")).await;
    assert_eq!(answer, "Tell me what to change.");
    let calls = w.telegram_calls().await;
    let question = calls
        .iter()
        .rev()
        .find(|(m, _)| m == "sendmessage")
        .unwrap();
    assert!(
        question.1["text"]
            .as_str()
            .unwrap()
            .contains("What should change")
    );
    // (The fake returns the same message id for every send; the reply
    // resolves to the same project either way.)
    let round2 = w
        .prompt("Bigger logo", Some(crate::helpers::STATUS_MESSAGE))
        .await;
    process(&w.env, round2).await.unwrap();
    assert_eq!(w.version_of(round2).await.number, 2);
}

#[tokio::test]
async fn after_publishing_both_chats_get_the_links_and_status_shows_them() {
    const REVIEWERS: i64 = -100_200;
    let w = spawn(
        vec![Step::Files(good_site("Bakery"))],
        vec![],
        &[("REVIEWER_CHAT_ID", "-100200")],
    )
    .await;
    let (job, version) = ready_site(&w).await;
    click(&w, USER, &format!("approve:{version}")).await;
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "published");
    let (repo_url, pages_url): (String, String) =
        sqlx::query_as("SELECT repo_url, pages_url FROM publishes WHERE job_id = $1")
            .bind(job)
            .fetch_one(&w.db.pool)
            .await
            .unwrap();

    let mut announced: Vec<i64> = w
        .telegram_calls()
        .await
        .into_iter()
        .filter(|(method, body)| {
            method.eq_ignore_ascii_case("sendMessage")
                && body["text"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("is published")
        })
        .map(|(_, body)| body["chat_id"].as_i64().unwrap())
        .collect();
    // Each chat once; chats are served side by side, in no set order.
    announced.sort_unstable();
    assert_eq!(
        announced,
        [REVIEWERS, CHAT],
        "the requester and the reviewers"
    );
    let (_, text) = w
        .telegram_calls()
        .await
        .into_iter()
        .find(|(_, b)| {
            b["text"]
                .as_str()
                .unwrap_or_default()
                .contains("is published")
        })
        .unwrap();
    let text = text["text"].as_str().unwrap();
    assert!(
        text.contains(&repo_url) && text.contains(&pages_url),
        "{text}"
    );

    // A redelivery announces nothing twice.
    process(&w.env, job).await.unwrap();
    let again = w
        .telegram_calls()
        .await
        .into_iter()
        .filter(|(_, b)| {
            b["text"]
                .as_str()
                .unwrap_or_default()
                .contains("is published")
        })
        .count();
    assert_eq!(again, 2);

    let status = command(&w, "status").await;
    assert!(status.contains("published"), "{status}");
    assert!(
        status.contains(&pages_url) && status.contains(&repo_url),
        "{status}"
    );
}
