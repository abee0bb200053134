//! The policies as a real browser enforces them: headless Chromium loads
//! previews from the real server, with a fake CDN and framing pages on
//! other localhost ports (other origins).

use std::{net::SocketAddr, time::Duration};

use crate::{
    chrome::{self, Browser},
    helpers::{Options, TestPreview, spawn_preview_with},
};

const CDN_SCRIPT: &str = "window.fromCdn = true; \
    document.addEventListener('DOMContentLoaded', () => { document.getElementById('cdn').textContent = 'cdn ran'; });";

/// A preview whose CSP allows the fake CDN and one framing origin.
async fn preview_with(cdn: SocketAddr, framer: Option<SocketAddr>) -> TestPreview {
    let mut env = vec![("PREVIEW_CDN_SOURCES", format!("http://{cdn}"))];
    if let Some(framer) = framer {
        env.push(("PREVIEW_FRAME_ANCESTORS", format!("http://{framer}")));
    }
    spawn_preview_with(Options {
        env,
        ..Default::default()
    })
    .await
}

async fn fake_cdn() -> SocketAddr {
    chrome::serve(vec![("/lib.js", "text/javascript", CDN_SCRIPT.to_owned())]).await
}

#[tokio::test]
async fn a_live_page_runs_its_scripts_loads_the_cdn_and_fetches_its_own_files() {
    let Some(browser) = chrome::start().await else {
        return;
    };
    let cdn = fake_cdn().await;
    let app = preview_with(cdn, None).await;
    let page = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"><title>Live</title>
<script src="http://{cdn}/lib.js"></script></head><body>
<p id="inline">static</p><p id="cdn">no cdn</p><p id="app">no app</p><p id="data">no data</p><p id="origin"></p><p id="photo">no photo</p>
<script>document.getElementById('inline').textContent = 'inline ran';
document.getElementById('origin').textContent = 'origin ' + self.origin;</script>
<script src="app.js"></script>
<script>fetch('data.csv').then(r => r.text())
  .then(t => {{ document.getElementById('data').textContent = 'rows ' + t.trim().split('\n').length; }})
  .catch(e => {{ document.getElementById('data').textContent = 'fetch failed: ' + e; }});
fetch('photo.png').then(r => r.arrayBuffer()).then(b => {{
  let h = 0; for (const x of new Uint8Array(b)) h = (Math.imul(h, 31) + x) >>> 0;
  document.getElementById('photo').textContent = 'photo ' + b.byteLength + ' ' + h; }});</script>
</body></html>"#
    );
    // Large enough to go out with `sendfile`, and an image, which no layer
    // compresses whatever the browser accepts.
    let photo: Vec<u8> = (0..200 * 1024).map(|i| (i * 13 % 256) as u8).collect();
    let hash = photo
        .iter()
        .fold(0u32, |h, &x| h.wrapping_mul(31).wrapping_add(u32::from(x)));
    let version = app
        .create_version(&[
            ("index.html", page.as_bytes()),
            (
                "app.js",
                b"document.getElementById('app').textContent = 'app ran';",
            ),
            ("data.csv", b"name,qty\napples,3\npears,5\n"),
            ("photo.png", &photo),
        ])
        .await;
    browser
        .client
        .goto(&app.url(&version.live("")))
        .await
        .unwrap();
    browser.wait_for_text("inline", "inline ran").await;
    browser.wait_for_text("app", "app ran").await;
    browser.wait_for_text("cdn", "cdn ran").await;
    // The sandbox holds: the page's origin is opaque, so fetch('data.csv')
    // is a cross-origin request that works only thanks to ACAO: *.
    browser.wait_for_text("origin", "origin null").await;
    browser.wait_for_text("data", "rows 3").await;
    // The browser got the image's bytes exactly, sent from the bundle file.
    browser
        .wait_for_text("photo", &format!("photo {} {hash}", photo.len()))
        .await;
    app.assert_sent_with_sendfile(1, photo.len());
}

#[tokio::test]
async fn a_live_page_cannot_use_cookies_or_storage() {
    let Some(browser) = chrome::start().await else {
        return;
    };
    let app = preview_with(fake_cdn().await, None).await;
    let page: &[u8] = br#"<!DOCTYPE html><p id="out">not run</p><script>
const seen = [];
try { document.cookie = 'stolen=1'; seen.push('cookie ' + JSON.stringify(document.cookie)); }
catch (e) { seen.push('cookie ' + e.name); }
try { localStorage.setItem('k', 'v'); seen.push('localStorage ok'); }
catch (e) { seen.push('localStorage ' + e.name); }
try { sessionStorage.setItem('k', 'v'); seen.push('sessionStorage ok'); }
catch (e) { seen.push('sessionStorage ' + e.name); }
document.getElementById('out').textContent = seen.join(', ');
</script>"#;
    let version = app.create_version(&[("index.html", page)]).await;
    browser
        .client
        .goto(&app.url(&version.live("")))
        .await
        .unwrap();
    browser
        .wait_for_text(
            "out",
            "cookie SecurityError, localStorage SecurityError, sessionStorage SecurityError",
        )
        .await;
}

#[tokio::test]
async fn a_safe_page_runs_neither_scripts_nor_handlers() {
    let Some(browser) = chrome::start().await else {
        return;
    };
    let app = preview_with(fake_cdn().await, None).await;
    let page: &[u8] = br#"<!DOCTYPE html><html><head><title>Safe</title></head><body>
<p id="out">untouched</p>
<img id="img" src="missing.png" onerror="document.getElementById('out').textContent = 'handler ran'">
<script>document.getElementById('out').textContent = 'script ran';</script>
</body></html>"#;
    let sanitized = app.create_version(&[("index.html", page)]).await;
    // The same page with the raw HTML as its safe view, as if the sanitizer
    // had missed everything: the CSP alone must hold.
    let tampered = app
        .create_version_sanitized(&[("index.html", page), ("other.txt", b"x")], false)
        .await;

    for version in [&sanitized, &tampered] {
        browser
            .client
            .goto(&app.url(&version.safe("")))
            .await
            .unwrap();
        browser.wait_for_text("out", "untouched").await;
        // Give a blocked handler every chance to run: the image has failed
        // once `complete` is true.
        testkit::eventually("the image to fail", Duration::from_secs(10), || async {
            (browser
                .eval("return document.getElementById('img').complete")
                .await
                == true)
                .then_some(())
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(browser.text_of("out").await.as_deref(), Some("untouched"));
        assert_eq!(browser.client.title().await.unwrap(), "Safe");
    }
}

/// A page on `origin` that frames `src` and records what the frame says.
fn framing_page(src: &str) -> String {
    format!(
        r#"<!DOCTYPE html><p id="got">nothing</p><iframe id="f" src="{src}"></iframe>
<script>window.addEventListener('message', e => {{ document.getElementById('got').textContent = String(e.data); }});</script>"#
    )
}

#[tokio::test]
async fn only_the_configured_origin_may_frame_a_live_page() {
    let Some(browser) = chrome::start().await else {
        return;
    };
    // The allowed framer's port must be known before the preview starts,
    // and its page must name the preview: reserve it, then serve.
    let allowed_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let allowed = allowed_listener.local_addr().unwrap();
    drop(allowed_listener);
    let app = preview_with(fake_cdn().await, Some(allowed)).await;
    let page: &[u8] = br#"<!DOCTYPE html><p id="inside">framed page</p>
<script>parent.postMessage('preview loaded', '*');</script>"#;
    let version = app.create_version(&[("index.html", page)]).await;
    let src = app.url(&version.live(""));

    let allowed_server = axum::Router::new().route(
        "/",
        axum::routing::get({
            let html = framing_page(&src);
            move || async move { axum::response::Html(html) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(allowed).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, allowed_server).await });
    let other = chrome::serve(vec![("/", "text/html", framing_page(&src))]).await;

    browser
        .client
        .goto(&format!("http://{allowed}/"))
        .await
        .unwrap();
    browser.wait_for_text("got", "preview loaded").await;
    assert_eq!(frame_text(&browser).await, "framed page");

    browser
        .client
        .goto(&format!("http://{other}/"))
        .await
        .unwrap();
    // The frame's load event fires for the blocked frame too; after it, and
    // a grace period, the preview must not have run or rendered.
    testkit::eventually("the frame to settle", Duration::from_secs(10), || async {
        let loaded = browser
            .eval("const f = document.getElementById('f'); return !!f && f.contentWindow !== null && performance.getEntriesByType('resource').length > 0")
            .await;
        (loaded == true).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(browser.text_of("got").await.as_deref(), Some("nothing"));
    assert_ne!(frame_text(&browser).await, "framed page");
}

/// The visible text inside the page's first frame.
async fn frame_text(browser: &Browser) -> String {
    browser.client.enter_frame(0).await.unwrap();
    let text = browser
        .eval("return document.body ? document.body.innerText.trim() : ''")
        .await;
    browser.client.enter_parent_frame().await.unwrap();
    text.as_str().unwrap_or_default().to_owned()
}
