use pagesmith::{bundle::BundleFile, domain::SitePath};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

use super::*;

fn site() -> Vec<BundleFile> {
    [
        ("index.html", "<h1>home</h1>"),
        ("app.js", "console.log(1)"),
        ("docs/index.html", "<h1>docs</h1>"),
    ]
    .into_iter()
    .map(|(path, body)| BundleFile {
        path: SitePath::parse(path).unwrap(),
        bytes: body.as_bytes().to_vec(),
    })
    .collect()
}

fn through(guard: &Guard) -> reqwest::Client {
    reqwest::Client::builder()
        .proxy(reqwest::Proxy::all(format!("http://{}", guard.addr())).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A loopback server that must never be reached.
async fn internal_service() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("secret"))
        .expect(0)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn the_site_is_served_under_its_folder_as_pages_serves_it() {
    let guard = Guard::start(&site(), Vec::new()).await.unwrap();
    let client = through(&guard);
    let get = |path: &str| client.get(format!("http://{SITE_HOST}{path}")).send();

    let front = get("/site/").await.unwrap();
    assert_eq!(front.status(), 200);
    assert!(
        front.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(front.text().await.unwrap(), "<h1>home</h1>");
    let script = get("/site/app.js").await.unwrap();
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert_eq!(
        get("/site/docs/").await.unwrap().text().await.unwrap(),
        "<h1>docs</h1>"
    );
    let folder = get("/site/docs").await.unwrap();
    assert_eq!(folder.status(), 301);
    assert_eq!(folder.headers()["location"], "/site/docs/");
    assert_eq!(get("/site/missing.json").await.unwrap().status(), 404);
    // Outside the project folder, as `/style.css` on a project site.
    assert_eq!(get("/app.js").await.unwrap().status(), 404);
    assert!(guard.blocked().is_empty());
}

#[tokio::test]
async fn requests_to_loopback_are_refused_and_never_reach_the_service() {
    let service = internal_service().await;
    let guard = Guard::start(&site(), Vec::new()).await.unwrap();
    let client = through(&guard);

    let by_address = client
        .get(format!("{}/health", service.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(by_address.status(), 403);
    assert!(
        by_address
            .text()
            .await
            .unwrap()
            .contains("internal address")
    );

    // A name that resolves to loopback is refused after resolution.
    let by_name = format!("http://localhost:{}/metrics", service.address().port());
    assert_eq!(client.get(&by_name).send().await.unwrap().status(), 403);

    let blocked = guard.blocked();
    assert_eq!(blocked.len(), 2, "{blocked:?}");
    assert!(blocked[0].contains("/health") && blocked[0].contains("127.0.0.1"));
    assert!(blocked[1].contains("localhost"));
    // `.expect(0)` is verified when the service drops.
}

#[tokio::test]
async fn a_tunnel_to_loopback_is_refused() {
    let service = internal_service().await;
    let guard = Guard::start(&site(), Vec::new()).await.unwrap();
    // https goes through CONNECT: reqwest opens a tunnel to the target.
    let err = through(&guard)
        .get(format!("https://{}/", service.address()))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect() || err.is_request(), "{err:?}");
    assert_eq!(guard.blocked().len(), 1, "{:?}", guard.blocked());
}

#[tokio::test]
async fn an_allowed_authority_is_let_through() {
    let service = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("preview"))
        .expect(1)
        .mount(&service)
        .await;
    let guard = Guard::start(&[], vec![service.address().to_string()])
        .await
        .unwrap();
    let answer = through(&guard)
        .get(format!("{}/p/token/", service.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.text().await.unwrap(), "preview");
    assert!(guard.blocked().is_empty());
}
