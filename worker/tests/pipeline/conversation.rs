//! What a chat user sees of their site: its name, and buttons that follow
//! the decisions taken on it.

use serde_json::Value;
use worker::{
    buttons::{Action, ButtonData},
    process::process,
};

use crate::{
    helpers::{STATUS_MESSAGE, Step, TestWorker, USER, good_site, spawn},
    interactive::click,
};

/// New messages get ids 501, 502, … (`spawn` has the fake give every
/// message 501), so two ready messages are two messages.
fn number_messages(w: &TestWorker) {
    w.telegram.number_messages_from(STATUS_MESSAGE.into());
}

/// The text of the last message sent or edited.
async fn last_text(w: &TestWorker) -> String {
    w.telegram_calls().await.last().unwrap().1["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The actions offered by the last keyboard set on a message (by an edit
/// of its text or of its buttons), and the labels.
async fn last_keyboard(w: &TestWorker) -> (Vec<Action>, Vec<String>) {
    let calls = w.telegram_calls().await;
    let markup = calls
        .iter()
        .rev()
        .find_map(|(method, body)| {
            (method == "editmessagereplymarkup" || method == "editmessagetext")
                .then(|| body["reply_markup"]["inline_keyboard"].clone())
                .filter(|k| !k.is_null())
        })
        .expect("a keyboard was set");
    let buttons: Vec<&Value> = markup
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .collect();
    (
        buttons
            .iter()
            .filter_map(|b| ButtonData::parse(b["callback_data"].as_str()?).map(|d| d.action))
            .collect(),
        buttons
            .iter()
            .map(|b| b["text"].as_str().unwrap().to_owned())
            .collect(),
    )
}

#[tokio::test]
async fn a_site_is_named_by_its_brief_not_by_the_truncated_prompt() {
    let w = spawn(vec![Step::Files(good_site("Home"))], vec![], &[]).await;
    let job = w
        .prompt(
            "A one-page site for a bakery called Crumb & Co with opening hours, a menu of breads and pastries, and a contact form",
            None,
        )
        .await;
    process(&w.env, job).await.unwrap();

    let title: String = sqlx::query_scalar(
        "SELECT p.title FROM projects p JOIN jobs j ON j.project_id = p.id WHERE j.id = $1",
    )
    .bind(job)
    .fetch_one(&w.db.pool)
    .await
    .unwrap();
    assert_eq!(title, "Crumb & Co");
    let ready = last_text(&w).await;
    assert!(
        ready.starts_with("✅ <b>Crumb &amp; Co</b> — version 1 is ready"),
        "{ready}"
    );

    // Approved and published: the repository is named after the site too.
    let version = w.version_of(job).await;
    click(
        &w,
        USER,
        &ButtonData {
            action: Action::Approve,
            version: version.id,
        }
        .encode(),
    )
    .await;
    process(&w.env, job).await.unwrap();
    let (repo_url, _) = w.published_commit(job).await;
    assert!(repo_url.contains("/crumb-co-"), "{repo_url}");
}

#[tokio::test]
async fn a_site_the_brief_does_not_name_is_named_by_its_page_title() {
    let w = spawn(vec![Step::Files(good_site("Tide Tally"))], vec![], &[]).await;
    let job = w
        .prompt(
            "a page where I can log tide heights each morning and see the weekly average",
            None,
        )
        .await;
    process(&w.env, job).await.unwrap();
    let ready = last_text(&w).await;
    assert!(ready.starts_with("✅ <b>Tide Tally</b>"), "{ready}");

    // A revision keeps the name, whatever its page is titled.
    let revision = w.prompt("make it blue", Some(STATUS_MESSAGE)).await;
    process(&w.env, revision).await.unwrap();
    let status = last_text(&w).await;
    assert!(status.contains("<b>Tide Tally</b> — version 2"), "{status}");
}

#[tokio::test]
async fn approving_leaves_a_label_saying_who_approved_and_no_buttons_to_repeat_it() {
    let w = spawn(vec![Step::Files(good_site("Bakery"))], vec![], &[]).await;
    let job = w.prompt("A bakery site", None).await;
    process(&w.env, job).await.unwrap();
    let version = w.version_of(job).await;
    let (actions, _) = last_keyboard(&w).await;
    assert_eq!(actions, [Action::Approve, Action::Revise, Action::Reject]);

    let approve = ButtonData {
        action: Action::Approve,
        version: version.id,
    }
    .encode();
    click(&w, USER, &approve).await;
    let (actions, labels) = last_keyboard(&w).await;
    assert_eq!(actions, [Action::Status]);
    assert_eq!(labels, ["✅ Approved by Ada Lovelace"]);

    // The label answers where the version stands and changes nothing.
    let status = ButtonData {
        action: Action::Status,
        version: version.id,
    }
    .encode();
    let (answer, _) = click(&w, USER, &status).await;
    assert!(answer.contains("approved"), "{answer}");
}

#[tokio::test]
async fn requesting_changes_and_rejecting_show_who_did_it() {
    let w = spawn(vec![Step::Files(good_site("Bakery"))], vec![], &[]).await;
    let job = w.prompt("A bakery site", None).await;
    process(&w.env, job).await.unwrap();
    let version = w.version_of(job).await;

    click(
        &w,
        USER,
        &ButtonData {
            action: Action::Revise,
            version: version.id,
        }
        .encode(),
    )
    .await;
    let (actions, labels) = last_keyboard(&w).await;
    assert_eq!(actions, [Action::Status, Action::Approve, Action::Reject]);
    assert_eq!(labels[0], "✏️ Changes requested by Ada Lovelace");

    click(
        &w,
        USER,
        &ButtonData {
            action: Action::Reject,
            version: version.id,
        }
        .encode(),
    )
    .await;
    let calls = w.telegram_calls().await;
    let rejected = calls
        .iter()
        .rev()
        .find(|(m, _)| m == "editmessagetext")
        .unwrap();
    assert!(
        rejected.1["text"]
            .as_str()
            .unwrap()
            .contains("rejected by Ada Lovelace"),
        "{}",
        rejected.1
    );
    assert!(rejected.1["reply_markup"].is_null(), "no buttons left");
}

#[tokio::test]
async fn a_newer_version_takes_the_buttons_off_the_older_ready_message() {
    let w = spawn(
        vec![
            Step::Files(good_site("Bakery")),
            Step::Files(good_site("Bakery")),
        ],
        vec![],
        &[],
    )
    .await;
    number_messages(&w);
    let first = w.prompt("A bakery site", None).await;
    process(&w.env, first).await.unwrap();
    let v1 = w.version_of(first).await;
    let revision = w.prompt("make it blue", Some(STATUS_MESSAGE)).await;
    process(&w.env, revision).await.unwrap();

    let calls = w.telegram_calls().await;
    let retired = calls
        .iter()
        .filter(|(m, _)| m == "editmessagereplymarkup")
        .map(|(_, body)| body["reply_markup"]["inline_keyboard"].to_string())
        .collect::<Vec<_>>();
    assert_eq!(retired.len(), 1, "{retired:?}");
    assert!(
        retired[0].contains("Replaced by version 2"),
        "{}",
        retired[0]
    );
    assert!(
        retired[0].contains(&format!("status:{}", v1.id)),
        "{}",
        retired[0]
    );
    assert!(!retired[0].contains("approve:"), "{}", retired[0]);
}

#[tokio::test]
async fn without_an_llm_the_ready_message_says_the_built_in_template_made_it() {
    let w = crate::helpers::spawn_real(&[("LLM_API_KEY", "")]).await;
    assert!(w.env.settings.llm.is_none());
    let job = w
        .prompt("A bakery called Crumb & Co with opening hours", None)
        .await;
    process(&w.env, job).await.unwrap();
    let ready = last_text(&w).await;
    assert!(ready.contains("built-in template"), "{ready}");
    assert!(ready.contains("<code>LLM_API_KEY</code>"), "{ready}");

    // With an LLM that wrote the site, nothing of the sort.
    let w = spawn(vec![Step::Files(good_site("Bakery"))], vec![], &[]).await;
    let job = w.prompt("A bakery site", None).await;
    process(&w.env, job).await.unwrap();
    let ready = last_text(&w).await;
    assert!(!ready.contains("built-in template"), "{ready}");
}
