//! Which versions are served: unknown tokens, rejected and expired ones,
//! the token cache, and what health and metrics say.

use std::time::Duration;

use pagesmith::domain::VersionState;

use crate::helpers::{Options, sample_site, spawn_preview, spawn_preview_with};

#[tokio::test]
async fn an_unknown_token_gets_404() {
    let app = spawn_preview().await;
    let _version = app.create_version(&sample_site()).await;
    let token = pagesmith::db::versions::new_preview_token();
    for path in [
        format!("/p/{token}/index.html"),
        format!("/s/{token}/"),
        "/p/short/index.html".into(),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("There is no preview at this address")
        );
    }
}

#[tokio::test]
async fn a_rejected_version_gets_410_in_both_views() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    assert_eq!(app.get(&version.live("")).await.status(), 200);
    app.set_state(&version, VersionState::Rejected).await;
    for path in [
        version.live(""),
        version.safe("index.html"),
        version.live("missing.txt"),
    ] {
        let response = app.get(&path).await;
        assert_eq!(response.status(), 410, "{path}");
        assert_eq!(response.headers()["x-robots-tag"], "noindex, nofollow");
        let page = response.text().await.unwrap();
        // What happened and what to do next, in plain words.
        assert!(page.contains("This preview has ended"), "{page}");
        assert!(page.contains("was rejected, or its preview link expired"));
        assert!(page.contains("Send /status to the bot"), "{page}");
    }
}

#[tokio::test]
async fn an_expired_version_gets_410() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    app.expire(&version).await;
    assert_eq!(app.get(&version.live("")).await.status(), 410);
    // `expired` as a state ends it too, whatever the date.
    let other = app.create_version(&[("index.html", b"<p>other</p>")]).await;
    app.set_state(&other, VersionState::Expired).await;
    assert_eq!(app.get(&other.safe("")).await.status(), 410);
}

#[tokio::test]
async fn a_rejection_takes_effect_within_the_token_cache_time() {
    let app = spawn_preview_with(Options {
        // Long enough that the second request below lands inside it even
        // on a loaded machine (at 300 ms it once did not).
        env: vec![("PREVIEW_TOKEN_CACHE_MS", "2000".into())],
        ..Default::default()
    })
    .await;
    let version = app.create_version(&sample_site()).await;
    assert_eq!(app.get(&version.live("")).await.status(), 200);
    app.set_state(&version, VersionState::Rejected).await;
    // Still remembered as active right after...
    assert_eq!(app.get(&version.live("")).await.status(), 200);
    // ...and gone once the cache entry is older than 2 s.
    testkit::eventually(
        "the rejection to be seen",
        Duration::from_secs(8),
        || async { (app.get(&version.live("")).await.status() == 410).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn health_names_postgres_when_it_is_away() {
    let app = spawn_preview_with(Options {
        proxy_database: true,
        ..Default::default()
    })
    .await;
    let ok = app.get("/health").await;
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok", "postgres": "ok"})
    );

    app.db_proxy.as_ref().unwrap().cut();
    let down = app.get("/health").await;
    assert_eq!(down.status(), 503);
    let body: serde_json::Value = down.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["postgres"]
            .as_str()
            .unwrap()
            .starts_with("unreachable"),
        "{body}"
    );

    // A token never seen cannot be looked up: 503, not 404 and not 500.
    let token = pagesmith::db::versions::new_preview_token();
    let response = app.get(&format!("/p/{token}/")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
}

#[tokio::test]
async fn metrics_count_requests_by_view_and_status() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    app.get(&version.live("")).await;
    app.get(&version.safe("nope")).await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains(r#"pagesmith_preview_http_requests_total{view="live",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"pagesmith_preview_http_requests_total{view="safe",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("pagesmith_preview_http_request_duration_seconds"),
        "{text}"
    );
}

#[tokio::test]
async fn a_version_seen_recently_is_still_served_while_postgres_is_away() {
    let app = spawn_preview_with(Options {
        proxy_database: true,
        ..Default::default()
    })
    .await;
    let version = app.create_version(&sample_site()).await;
    assert_eq!(app.get(&version.live("")).await.status(), 200);

    app.db_proxy.as_ref().unwrap().cut();
    // The token cache time (0 ms here) has passed, the lookup fails, and
    // the version remembered from a moment ago stands in.
    let response = app.get(&version.live("data.csv")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.unwrap(),
        "name,qty\napples,3\npears,5\n"
    );
}
