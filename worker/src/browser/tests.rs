use std::time::Duration;

use super::*;

#[test]
fn png_sizes_come_from_the_header_and_other_bytes_are_refused() {
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend(1280u32.to_be_bytes());
    png.extend(800u32.to_be_bytes());
    assert_eq!(png_size(&png), Some((1280, 800)));
    assert_eq!(png_size(b"GIF89a........................"), None);
    assert_eq!(png_size(&png[..20]), None);
}

/// A stand-in preview answering `status` for every page.
async fn preview(status: u16) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(status).set_body_string("<h1>a page</h1>"))
        .mount(&server)
        .await;
    server
}

fn missing_browser() -> Browser {
    Browser::new(
        "/nonexistent/chromium".into(),
        Timeouts {
            run: Duration::from_secs(5),
            ..Timeouts::default()
        },
    )
}

#[tokio::test]
async fn a_missing_browser_is_a_launch_error_naming_it() {
    let served = preview(200).await;
    let err = missing_browser()
        .screenshots(&served.uri())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BrowserError::Launch { browser, .. } if browser == "/nonexistent/chromium"),
        "{err}"
    );
    let err = missing_browser()
        .check_site(&[], &["true".into()], None)
        .await
        .unwrap_err();
    assert!(matches!(&err, BrowserError::Launch { .. }), "{err}");
}

#[tokio::test]
async fn a_page_the_preview_does_not_serve_is_not_captured() {
    let failing = preview(502).await;
    // Were the browser started, this would be a launch error.
    let browser = missing_browser();
    let err = browser.screenshots(&failing.uri()).await.unwrap_err();
    assert!(
        matches!(&err, BrowserError::Preview(why) if why.contains("502")),
        "{err}"
    );

    let gone = format!("http://{}/p/token/", failing.address());
    drop(failing);
    let err = browser.screenshots(&gone).await.unwrap_err();
    assert!(matches!(&err, BrowserError::Preview(_)), "{err}");
    assert!(
        !err.to_string().contains("token"),
        "no preview token in logs: {err}"
    );
}
