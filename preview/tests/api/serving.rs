//! How files are served: types, directory indexes and redirects, ETags and
//! 304s, compression, and the sanitized tree behind the safe view.

use std::{io::Read, time::Duration};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{BIG_TEXT, sample_site, spawn_preview};

#[tokio::test]
async fn files_are_served_with_their_media_types() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    for (path, media_type) in [
        ("index.html", "text/html; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("data.csv", "text/csv; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
    ] {
        let response = app.get(&version.live(path)).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], media_type, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
    }
    let csv = app
        .get(&version.live("data.csv"))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv, "name,qty\napples,3\npears,5\n");
}

#[tokio::test]
async fn directories_serve_their_index_and_bare_paths_redirect_to_them() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;

    let root = app.get(&format!("/p/{}", version.token)).await;
    assert_eq!(root.status(), 301);
    assert_eq!(root.headers()["location"], format!("/p/{}/", version.token));
    assert_eq!(root.headers()["x-content-type-options"], "nosniff");

    let index = app.get(&version.live("")).await;
    assert_eq!(index.status(), 200);
    assert!(
        index
            .text()
            .await
            .unwrap()
            .contains("<h1 id=\"title\">Sample</h1>")
    );

    let docs = app.get(&version.live("docs")).await;
    assert_eq!(docs.status(), 301);
    assert_eq!(docs.headers()["location"], version.live("docs/"));
    let docs = app.get(&version.live("docs/")).await.text().await.unwrap();
    assert!(docs.contains("docs home"), "{docs}");
}

#[tokio::test]
async fn the_safe_view_serves_the_sanitized_tree() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    let safe = app.get(&version.safe("index.html")).await;
    assert_eq!(safe.status(), 200);
    assert_eq!(
        safe.headers()["etag"],
        format!(
            "\"{}-safe-{}\"",
            version.sha256("index.html"),
            &version.bundle[..16]
        )
    );
    let html = safe.text().await.unwrap();
    assert!(
        !html.contains("<script") && !html.contains("onerror"),
        "{html}"
    );
    assert!(
        html.contains("<body class=\"home\">")
            && html.contains("<link rel=\"stylesheet\" href=\"style.css\">"),
        "{html}"
    );
    // Non-HTML files are the same bytes in both views.
    let css = app.get(&version.safe("style.css")).await;
    assert_eq!(
        css.headers()["etag"],
        format!("\"{}\"", version.sha256("style.css"))
    );
}

#[tokio::test]
async fn a_matching_etag_gets_304_with_the_same_policies() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    let first = app.get(&version.live("app.js")).await;
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", version.sha256("app.js")));

    let again = app
        .get_with(&version.live("app.js"), &[("if-none-match", &etag)])
        .await;
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(
        again.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox ")
    );
    assert!(again.bytes().await.unwrap().is_empty());

    let stale = app
        .get_with(&version.live("app.js"), &[("if-none-match", "\"0000\"")])
        .await;
    assert_eq!(stale.status(), 200);
}

#[tokio::test]
async fn responses_are_compressed_when_the_client_accepts_it() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    for (encoding, magic) in [("gzip", &[0x1f_u8, 0x8b][..]), ("br", &[][..])] {
        let response = app
            .get_with(&version.live("big.txt"), &[("accept-encoding", encoding)])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], encoding);
        assert!(
            response.headers()["vary"]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
                .contains("accept-encoding")
        );
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(
            etag,
            format!("W/\"{}\"", version.sha256("big.txt")),
            "a compressed body's ETag is weak"
        );
        let body = response.bytes().await.unwrap();
        assert!(
            body.len() < BIG_TEXT.len() / 4,
            "{encoding}: {} bytes",
            body.len()
        );
        assert!(body.starts_with(magic));
        // The weak tag still revalidates.
        let again = app
            .get_with(
                &version.live("big.txt"),
                &[("accept-encoding", encoding), ("if-none-match", &etag)],
            )
            .await;
        assert_eq!(again.status(), 304);
    }
    let plain = app.get(&version.live("big.txt")).await;
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), BIG_TEXT);
}

#[tokio::test]
async fn large_files_are_streamed_whole() {
    let app = spawn_preview().await;
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let version = app.create_version(&[("blob.wasm", &big)]).await;
    let response = app.get(&version.live("blob.wasm")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-length"],
        big.len().to_string().as_str()
    );
    assert_eq!(response.bytes().await.unwrap(), big);
}

#[tokio::test]
async fn cached_large_files_go_out_whole_from_disk_then_from_memory() {
    let app = spawn_preview().await;
    // 200 KB of image bytes (never compressed, whatever the client
    // accepts), under the 1 MiB limit for the memory cache, and a small
    // page beside them.
    let video: Vec<u8> = (0..200 * 1024).map(|i| (i * 13 % 256) as u8).collect();
    let version = app
        .create_version(&[
            ("index.html", b"<p>hi</p>".as_slice()),
            ("photo.png", &video),
        ])
        .await;
    let reads = [
        ("first read, from disk", version.live("photo.png")),
        ("second read, from the cache", version.live("photo.png")),
        ("the safe view", version.safe("photo.png")),
    ];
    for (round, path) in &reads {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{round}");
        assert_eq!(
            response.headers()["content-length"],
            video.len().to_string().as_str(),
            "{round}"
        );
        assert!(
            response.bytes().await.unwrap() == video,
            "{round}: byte-exact"
        );
    }
    let page = app.get(&version.live("index.html")).await;
    assert_eq!(page.text().await.unwrap(), "<p>hi</p>");
    // Every time from the bundle file, as nginx would: this fails should a
    // hyper release stop writing the body's own buffer (see `zero_copy`).
    app.assert_sent_with_sendfile(reads.len(), video.len());
    app.assert_no_offer_left();
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let counted = format!(
        "pagesmith_preview_sendfile_bytes_total {}",
        app.sendfile.bytes_sent_from_files()
    );
    assert!(metrics.contains(&counted), "{counted} in {metrics}");
}

#[tokio::test]
async fn a_large_file_over_http2_is_whole_and_leaves_no_offer() {
    let app = spawn_preview().await;
    let photo: Vec<u8> = (0..300 * 1024).map(|i| (i * 17 % 256) as u8).collect();
    let version = app.create_version(&[("photo.png", &photo)]).await;
    // HTTP/2 without TLS, as the server also speaks it: each body goes out
    // in the protocol's own frames, so none is offered for `sendfile`.
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    for _ in 0..2 {
        let response = client
            .get(app.url(&version.live("photo.png")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        assert_eq!(response.status(), 200);
        assert!(response.bytes().await.unwrap() == photo, "byte-exact");
    }
    app.assert_no_offer_left();
}

#[tokio::test]
async fn a_large_file_compressed_on_the_way_out_is_not_sent_from_its_file() {
    let app = spawn_preview().await;
    // Not text, so the route leaves it to the compression layer.
    let wasm: Vec<u8> = b"(module)"
        .iter()
        .cycle()
        .take(200 * 1024)
        .copied()
        .collect();
    let version = app.create_version(&[("app.wasm", &wasm)]).await;
    for _ in 0..2 {
        let response = app
            .get_with(&version.live("app.wasm"), &[("accept-encoding", "gzip")])
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        let gzipped = response.bytes().await.unwrap();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzipped[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert!(unzipped == wasm, "the compressed body is the file");
    }
    assert_eq!(
        app.sendfile.bytes_sent_from_files(),
        0,
        "nothing by sendfile"
    );
    app.assert_no_offer_left();
}

#[tokio::test]
async fn pipelined_requests_each_get_their_own_bytes() {
    let app = spawn_preview().await;
    let photo: Vec<u8> = (0..300 * 1024).map(|i| (i * 31 % 256) as u8).collect();
    let version = app
        .create_version(&[
            ("index.html", b"<p>hi</p>".as_slice()),
            ("photo.png", &photo),
        ])
        .await;
    let (photo_path, page_path) = (version.live("photo.png"), version.live("index.html"));
    // All four at once on one connection: a large file, its HEAD (a head
    // that announces the length but has no body), a page, the file again.
    let requests = [
        ("GET", &photo_path),
        ("HEAD", &photo_path),
        ("GET", &page_path),
        ("GET", &photo_path),
    ];
    let mut raw = String::new();
    for (i, (method, path)) in requests.iter().enumerate() {
        let close = if i == requests.len() - 1 {
            "connection: close\r\n"
        } else {
            ""
        };
        raw.push_str(&format!(
            "{method} {path} HTTP/1.1\r\nhost: t\r\n{close}\r\n"
        ));
    }
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut got))
        .await
        .expect("the server answers all four and closes")
        .unwrap();

    let mut rest = got.as_slice();
    let mut bodies = Vec::new();
    for (method, _) in requests {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head")
            + 4;
        let head = String::from_utf8_lossy(&rest[..end]).to_lowercase();
        assert!(head.starts_with("http/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .expect("a content-length")
            .trim()
            .parse()
            .unwrap();
        let body_len = if method == "HEAD" { 0 } else { length };
        bodies.push(rest[end..end + body_len].to_vec());
        rest = &rest[end + body_len..];
    }
    assert!(rest.is_empty(), "nothing after the four responses");
    assert!(bodies[0] == photo, "first GET: the file, byte-exact");
    assert!(bodies[1].is_empty(), "HEAD: no body");
    assert_eq!(bodies[2], b"<p>hi</p>");
    assert!(bodies[3] == photo, "second GET: the file, byte-exact");
    app.assert_sent_with_sendfile(2, photo.len());
    app.assert_no_offer_left();
}

#[tokio::test]
async fn no_response_sets_a_cookie() {
    let app = spawn_preview().await;
    let version = app.create_version(&sample_site()).await;
    for path in [
        version.live(""),
        version.safe(""),
        version.live("nope"),
        "/health".into(),
        "/metrics".into(),
        "/".into(),
    ] {
        let response = app.get(&path).await;
        assert!(response.headers().get("set-cookie").is_none(), "{path}");
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "{path}"
        );
    }
}
