//! Scenario 5b: GitHub answers secondary rate limits (403 with
//! `retry-after`) to the repository creation and to the commit. The worker
//! publishes through the real GitHub client (octocrab) against the fake
//! GitHub from `testkit`; the job waits as told, retries, and ends with one
//! repository, one publish commit and one callback.

use std::time::Duration;

use testkit::github::{FakeGithub, TOKEN, message};
use tokio::time::Instant;
use wiremock::{
    Mock,
    matchers::{method, path_regex},
};

use crate::{
    Suite,
    ledger::{self, Accepted},
    report::Row,
    system::{Options, System},
};

const SECONDARY: &str =
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";

pub async fn run(suite: &Suite) -> anyhow::Result<Row> {
    let started = Instant::now();
    let github = FakeGithub::start().await;
    for (verb, at) in [
        ("POST", r"^/user/repos$"),
        ("POST", r"^/repos/octo/[^/]+/git/commits$"),
    ] {
        Mock::given(method(verb))
            .and(path_regex(at))
            .respond_with(message(403, SECONDARY).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .with_priority(5)
            .mount(&github.api)
            .await;
    }
    let options = Options {
        worker_env: vec![
            ("PUBLISHER".into(), "github".into()),
            ("GITHUB_TOKEN".into(), TOKEN.into()),
            ("GITHUB_OWNER".into(), "octo".into()),
            ("GITHUB_API_URL".into(), github.api.uri()),
            // The fake serves no pages: the callback goes at the cut-off.
            ("PAGES_CUTOFF_SECS".into(), "5".into()),
        ],
        ..Options::default()
    };
    let system = System::start(suite, "github", options).await?;
    let accepted = Accepted {
        app: vec![system.submit_app("github-limited").await?],
        updates: Vec::new(),
    };
    let mut tally = ledger::settle_and_count(&system, &accepted, Duration::from_secs(120)).await?;

    let requests = github.api.received_requests().await.unwrap_or_default();
    let posts_to = |suffix: &str| {
        requests
            .iter()
            .filter(|r| r.method.as_str() == "POST" && r.url.path().ends_with(suffix))
            .count()
    };
    let (creates, commits) = (posts_to("/user/repos"), posts_to("/git/commits"));
    // The commit: one refused, one accepted. The repository: refused,
    // created, then (on the retry after the commit's refusal) found taken
    // and adopted, since the publisher keeps nothing between attempts.
    // Main holds the repository's first commit plus exactly one publish.
    let history = commits_on_main(&github);
    if creates < 2 || commits != 2 || history != 2 {
        tally.problems.push(format!(
            "GitHub saw {creates} repository creations (at least 2: one refused) and {commits} \
             commit posts (2: one refused, one accepted), and main holds {history} commits \
             (2: the initial one and the publish)"
        ));
    }
    Ok(Row {
        scenario: "5b. GitHub secondary rate limits",
        load: "1 `/app` request, published to the fake GitHub through octocrab".into(),
        faults: format!(
            "403 secondary rate limit (retry-after 1) on the repository creation and on the \
             commit; GitHub saw {creates} creation posts (refused, created, taken → adopted), \
             {commits} commit posts (refused, accepted); main holds {history} commits (initial + \
             the publish)"
        ),
        tally,
        took: started.elapsed(),
    })
}

/// Commits reachable from `main` by first parents.
fn commits_on_main(github: &FakeGithub) -> usize {
    let state = github.state.lock().expect("not poisoned");
    let mut count = 0;
    let mut next = state.main.clone();
    while let Some(sha) = next {
        count += 1;
        next = state
            .commits
            .get(&sha)
            .and_then(|c| c.parents.first().cloned());
    }
    count
}
