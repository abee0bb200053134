//! `/history`, `/diff` and `/rollback` on a site with three versions.

use std::collections::BTreeMap;

use pagesmith::db::versions::Version;
use uuid::Uuid;
use worker::process::process;

use crate::{
    helpers::{STATUS_MESSAGE, Step, TestWorker, USER, good_site, spawn},
    interactive::{click, command_as},
};

fn with(mut site: Vec<(&'static str, String)>, extra: &[(&'static str, &str)]) -> Step {
    site.extend(extra.iter().map(|(p, c)| (*p, c.to_string())));
    Step::Files(site)
}

/// Version 1; version 2 adds about.txt; version 3 adds contact.txt and
/// changes one line of index.html.
async fn three_versions(extra: &[(&str, &str)]) -> (TestWorker, Vec<Version>) {
    let w = spawn(
        vec![
            Step::Files(good_site("A")),
            with(good_site("B"), &[("about.txt", "About\nUs\nMore\n")]),
            with(good_site("C"), &[("contact.txt", "Mail\nPhone\n")]),
        ],
        vec![],
        extra,
    )
    .await;
    let mut versions = Vec::new();
    for (text, reply) in [
        ("A site", None),
        ("Add about", Some(STATUS_MESSAGE)),
        ("Add contact", Some(STATUS_MESSAGE)),
    ] {
        let job = w.prompt(text, reply).await;
        process(&w.env, job).await.unwrap();
        versions.push(w.version_of(job).await);
    }
    assert!(
        w.llm.repairs.lock().unwrap().is_empty(),
        "every version passed its checks at once"
    );
    assert_eq!(
        versions.iter().map(|v| v.number).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    (w, versions)
}

/// A version's files as path → bytes, read from its bundle.
fn files_of(w: &TestWorker, v: &Version) -> BTreeMap<String, Vec<u8>> {
    v.files
        .iter()
        .map(|f| {
            let path = pagesmith::domain::SitePath::parse(&f.path).unwrap();
            (
                f.path.clone(),
                w.env.bundles.disk().read(&v.bundle, &path).unwrap(),
            )
        })
        .collect()
}

async fn newest_generation_job(w: &TestWorker) -> Uuid {
    sqlx::query_scalar(
        "SELECT id FROM jobs WHERE kind = 'generate' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&w.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn history_lists_every_version_with_its_link_and_score() {
    let (w, versions) = three_versions(&[]).await;
    let history = command_as(&w, USER, "history", "").await;
    for v in &versions {
        let passed = v.checks.iter().filter(|c| c.passed).count();
        assert!(
            history.contains(&format!("<b>v{}</b>", v.number)),
            "{history}"
        );
        assert!(
            history.contains(&format!("https://preview.test/p/{}/", v.preview_token)),
            "{history}"
        );
        // No browser in these tests: behaviour is said to be unchecked.
        assert!(
            history.contains(&format!(
                "llm:test-model, structure {passed}/{}, behaviour not checked",
                v.checks.len()
            )),
            "{history}"
        );
    }
    assert!(
        history.find("<b>v3</b>") < history.find("<b>v1</b>"),
        "newest first"
    );
    assert_eq!(history.matches("ready for review").count(), 3, "{history}");
}

#[tokio::test]
async fn diff_reports_added_and_changed_files_with_line_counts() {
    let (w, _) = three_versions(&[]).await;
    let diff = command_as(&w, USER, "diff", "").await;
    assert_eq!(
        diff,
        "🔀 <b>A site</b>: version 2 → version 3\n\n\
         ✏️ changed <code>index.html</code> (+1 −1 lines)\n\
         ➕ added <code>contact.txt</code> (+2 lines)"
    );
}

#[tokio::test]
async fn diff_and_history_with_too_few_versions_answer_kindly() {
    let w = spawn(vec![Step::Files(good_site("A"))], vec![], &[]).await;
    assert!(
        command_as(&w, USER, "diff", "")
            .await
            .contains("no sites yet")
    );
    assert!(
        command_as(&w, USER, "history", "")
            .await
            .contains("no sites yet")
    );
    let job = w.prompt("A site", None).await;
    process(&w.env, job).await.unwrap();
    let diff = command_as(&w, USER, "diff", "").await;
    assert!(diff.contains("has only 1 version so far"), "{diff}");
}

#[tokio::test]
async fn rollback_brings_back_version_one_and_publishes_its_exact_tree() {
    let (w, versions) = three_versions(&[]).await;
    let answer = command_as(&w, USER, "rollback", "1").await;
    assert!(
        answer.contains("Bringing back version 1") && answer.contains("as version 4"),
        "{answer}"
    );
    let job = newest_generation_job(&w).await;
    assert_eq!(
        w.count(&format!(
            "SELECT count(*) FROM outbox WHERE job_id = '{job}'"
        ))
        .await,
        1,
        "the rollback is queued like any job"
    );
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "preview_ready");
    let v4 = w.version_of(job).await;
    assert_eq!(v4.number, 4);
    assert_eq!(v4.generator, "rollback:v1");
    let expected = files_of(&w, &versions[0]);
    assert_eq!(
        files_of(&w, &v4),
        expected,
        "version 4 is version 1's files exactly"
    );
    let ready = w
        .telegram_calls()
        .await
        .into_iter()
        .rev()
        .find(|(_, b)| {
            b["text"]
                .as_str()
                .unwrap_or_default()
                .contains("version 4 is ready")
        })
        .expect("the usual ready message");
    assert!(
        ready.1["reply_markup"]
            .to_string()
            .contains(&format!("approve:{}", v4.id))
    );

    let diff = command_as(&w, USER, "diff", "").await;
    assert!(
        diff.contains("➖ removed <code>about.txt</code> (−3 lines)"),
        "{diff}"
    );
    assert!(
        diff.contains("➖ removed <code>contact.txt</code> (−2 lines)"),
        "{diff}"
    );

    let (approved, _) = click(&w, USER, &format!("approve:{}", v4.id)).await;
    assert!(approved.contains("Approved version 4"), "{approved}");
    process(&w.env, job).await.unwrap();
    assert_eq!(w.state(job).await, "published");
    let (repo_url, sha) = w.published_commit(job).await;
    assert_eq!(committed_tree(&w, &repo_url, &sha), expected);

    let history = command_as(&w, USER, "history", "").await;
    assert!(
        history.contains(&format!("published, commit <code>{}</code>", &sha[..7])),
        "{history}"
    );
    assert!(history.contains("rollback:v1"), "{history}");
}

/// Every file in the commit's tree, path → bytes.
fn committed_tree(w: &TestWorker, repo_url: &str, sha: &str) -> BTreeMap<String, Vec<u8>> {
    let name = repo_url
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".git");
    let repo =
        git2::Repository::open_bare(w.data_dir.path().join("repos").join(format!("{name}.git")))
            .unwrap();
    let tree = repo
        .find_commit(git2::Oid::from_str(sha).unwrap())
        .unwrap()
        .tree()
        .unwrap();
    let mut files = BTreeMap::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        if let Ok(blob) = entry.to_object(&repo).and_then(|o| o.peel_to_blob()) {
            files.insert(
                format!("{dir}{}", entry.name().unwrap()),
                blob.content().to_vec(),
            );
        }
        git2::TreeWalkResult::Ok
    })
    .unwrap();
    files
}

#[tokio::test]
async fn bad_rollback_requests_get_a_clear_answer_and_change_nothing() {
    let (w, _) = three_versions(&[]).await;
    let before = w
        .count("SELECT count(*) FROM jobs WHERE kind = 'generate'")
        .await;
    assert!(
        command_as(&w, USER, "rollback", "")
            .await
            .contains("Tell me which version")
    );
    let x = command_as(&w, USER, "rollback", "x").await;
    assert!(x.contains("<code>x</code> is not a version number"), "{x}");
    let far = command_as(&w, USER, "rollback", "99").await;
    assert!(
        far.contains("has no version 99; its versions are 1 to 3"),
        "{far}"
    );
    let latest = command_as(&w, USER, "rollback", "3").await;
    assert!(latest.contains("already the latest"), "{latest}");
    let stranger = command_as(&w, 31337, "rollback", "1").await;
    assert!(
        stranger.starts_with("Sorry, only the person who asked"),
        "{stranger}"
    );
    assert_eq!(
        w.count("SELECT count(*) FROM jobs WHERE kind = 'generate'")
            .await,
        before
    );
}

#[tokio::test]
async fn a_listed_reviewer_may_roll_back() {
    let (w, _) = three_versions(&[("REVIEWER_USER_IDS", "31337")]).await;
    let answer = command_as(&w, 31337, "rollback", "2").await;
    assert!(answer.contains("Bringing back version 2"), "{answer}");
}
