//! The full header set of each kind of response, as snapshots: a change to
//! any policy shows up in review.

use std::collections::BTreeMap;

use crate::helpers::{sample_site, spawn_preview};

/// Headers as a sorted map; `date` changes every second, and the request
/// id (generated, as the request carried none) with every request.
fn header_map(response: &reqwest::Response) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("<binary>").to_owned()))
        .collect();
    assert!(map.remove("date").is_some(), "every response is dated");
    let id = map
        .get_mut("x-request-id")
        .expect("every response has a request id");
    assert_eq!(id.len(), 36, "a generated UUID: {id}");
    *id = "[generated]".into();
    map.insert("status".into(), response.status().as_u16().to_string());
    map
}

#[tokio::test]
async fn a_live_page_carries_the_sandboxing_policy_and_cors() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    let response = app.get(&version.live("index.html")).await;
    let headers = header_map(&response);
    assert_eq!(
        headers["etag"],
        format!("\"{}\"", version.sha256("index.html"))
    );
    insta::assert_json_snapshot!(headers);
}

#[tokio::test]
async fn a_safe_page_carries_a_script_free_policy() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    let response = app.get(&version.safe("index.html")).await;
    let headers = header_map(&response);
    assert!(!headers.contains_key("access-control-allow-origin"));
    insta::assert_json_snapshot!(headers);
}

#[tokio::test]
async fn a_not_found_page_carries_the_same_protections() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    let response = app.get(&version.live("nope.html")).await;
    let headers = header_map(&response);
    insta::assert_json_snapshot!(headers);
    let body = response.text().await.unwrap();
    assert!(body.contains("<h1>Not found</h1>"), "{body}");
}

#[tokio::test]
async fn the_frame_ancestors_and_cdn_settings_reach_the_policy() {
    let app = crate::helpers::spawn_preview_with(crate::helpers::Options {
        env: vec![
            (
                "PREVIEW_FRAME_ANCESTORS",
                "https://review.example.com".into(),
            ),
            ("PREVIEW_CDN_SOURCES", "https://cdn.jsdelivr.net".into()),
        ],
        ..Default::default()
    })
    .await;
    let version = app.create_version(&sample_site()).await;
    let response = app.get(&version.live("")).await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://review.example.com"),
        "{csp}"
    );
    assert!(
        csp.contains("script-src 'self' 'unsafe-inline' 'unsafe-eval' https://cdn.jsdelivr.net;"),
        "{csp}"
    );
    assert!(
        csp.contains("connect-src 'self' https: https://cdn.jsdelivr.net;"),
        "{csp}"
    );
}
