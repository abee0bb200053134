//! The browser's only way out: a small HTTP proxy that every request of the
//! page goes through (Chromium runs with `--proxy-server` and
//! `--proxy-bypass-list=<-loopback>`, so not even loopback bypasses it).
//!
//! - Requests to [`SITE_HOST`] are the site under check, answered from
//!   memory under [`SITE_PREFIX`], the way GitHub Pages serves a project
//!   site: a normal origin, no sandbox, `index.html` for folders.
//! - Anything else is resolved here and refused when any of its addresses is
//!   loopback, private, link-local or otherwise internal ([`is_private_ip`]),
//!   unless it is one of the few `host:port`s the caller allowed (the preview,
//!   for screenshots). The connection then goes to the address that was
//!   checked, so a name that resolves differently a second time (DNS
//!   rebinding) cannot slip through.
//!
//! Untrusted JavaScript runs in that browser; the worker's host can reach
//! PostgreSQL, RabbitMQ and the metrics port. The guard is what keeps it out.

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{Method, Request, Response, StatusCode, body::Incoming, service::service_fn};
use hyper_util::rt::TokioIo;
use pagesmith::{bundle::BundleFile, domain::net::is_private_ip};
use tokio::net::{TcpListener, TcpStream};

/// The host name the site under check is served from. `.localhost` names
/// never reach DNS, and Chromium treats them as a secure context, as it does
/// GitHub Pages' `https:` (so `crypto.subtle`, service workers and the like
/// behave as they will in production).
pub const SITE_HOST: &str = "site.pagesmith.localhost";

/// The folder the site is served under, as GitHub Pages serves a project
/// site under `/<repository>/`: a link to `/style.css` breaks here as it
/// breaks there.
pub const SITE_PREFIX: &str = "/site/";

/// The URL of the site's front page.
pub fn site_url() -> String {
    format!("http://{SITE_HOST}{SITE_PREFIX}")
}

/// How long resolving and connecting to an outside host may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a connection or tunnel lives: longer than any page run, so
/// one a page leaves open (an upstream that never answers) still ends.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// Refusals kept for the report.
const MAX_BLOCKED: usize = 50;

type Body = BoxBody<Bytes, hyper::Error>;

/// Why a request does not go out.
enum Denied {
    /// It would reach an internal address: refused and recorded.
    Internal(String),
    /// The host does not resolve: nothing to refuse.
    Unreachable(String),
}

/// A running guard; it stops when dropped.
pub struct Guard {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

struct Shared {
    site: HashMap<String, Bytes>,
    allowed: Vec<String>,
    blocked: Mutex<Vec<String>>,
}

impl Guard {
    /// Starts a guard on a free loopback port serving `site` (which may be
    /// empty) and letting through only public addresses and `allowed`
    /// authorities (`host:port`, as in a URL).
    pub async fn start(site: &[BundleFile], allowed: Vec<String>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            site: site
                .iter()
                .map(|f| (f.path.to_string(), Bytes::from(f.bytes.clone())))
                .collect(),
            allowed: allowed
                .into_iter()
                .map(|a| a.to_ascii_lowercase())
                .collect(),
            blocked: Mutex::default(),
        });
        let server = tokio::spawn(accept(listener, shared.clone()));
        Ok(Self {
            addr,
            shared,
            server,
        })
    }

    /// The proxy's address, for `--proxy-server`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request refused so far, as "`url`: why".
    pub fn blocked(&self) -> Vec<String> {
        self.shared
            .blocked
            .lock()
            .map(|b| b.clone())
            .unwrap_or_default()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: do not spin.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(shared.clone(), req));
            let connection = hyper::server::conn::http1::Builder::new()
                .preserve_header_case(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
        });
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    if req.method() == Method::CONNECT {
        return Ok(tunnel(&shared, req).await);
    }
    let Some(host) = req.uri().host().map(str::to_ascii_lowercase) else {
        return Ok(text(
            StatusCode::BAD_REQUEST,
            "a proxy request needs an absolute URL",
        ));
    };
    if host == SITE_HOST {
        return Ok(shared.serve_site(req.uri().path()));
    }
    let port = req.uri().port_u16().unwrap_or(80);
    let url = req.uri().to_string();
    match shared.admit(&host, port).await {
        Ok(target) => Ok(forward(target, req).await),
        Err(denied) => Ok(shared.deny(&url, denied)),
    }
}

/// `CONNECT host:port` (https and wss): checked like any other request,
/// then the bytes are passed through untouched.
async fn tunnel(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let Some(authority) = req.uri().authority().cloned() else {
        return text(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let host = authority.host().to_ascii_lowercase();
    let port = authority.port_u16().unwrap_or(443);
    let target = match shared.admit(&host, port).await {
        Ok(target) => target,
        Err(denied) => return shared.deny(&format!("https://{authority}/"), denied),
    };
    let upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return text(StatusCode::BAD_GATEWAY, &format!("{authority}: {e}")),
        Err(_) => {
            return text(
                StatusCode::GATEWAY_TIMEOUT,
                &format!("{authority}: timed out"),
            );
        }
    };
    tokio::spawn(async move {
        if let Ok(upgraded) = hyper::upgrade::on(req).await {
            let mut upstream = upstream;
            let mut client = TokioIo::new(upgraded);
            let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, copy).await;
        }
    });
    Response::new(empty())
}

/// A plain `http:` request to an admitted host, sent on in origin form.
async fn forward(target: SocketAddr, mut req: Request<Incoming>) -> Response<Body> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(target)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => return text(StatusCode::BAD_GATEWAY, &e.to_string()),
        Err(_) => return text(StatusCode::GATEWAY_TIMEOUT, "timed out"),
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await
    else {
        return text(StatusCode::BAD_GATEWAY, "handshake failed");
    };
    tokio::spawn(connection);
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse()
        .unwrap_or_default();
    *req.uri_mut() = path;
    req.headers_mut().remove("proxy-connection");
    match tokio::time::timeout(CONNECTION_LIFETIME, sender.send_request(req)).await {
        Ok(Ok(response)) => response.map(BodyExt::boxed),
        Ok(Err(e)) => text(StatusCode::BAD_GATEWAY, &e.to_string()),
        Err(_) => text(StatusCode::GATEWAY_TIMEOUT, "no answer"),
    }
}

impl Shared {
    /// The address to connect to for `host:port`, or why not.
    async fn admit(&self, host: &str, port: u16) -> Result<SocketAddr, Denied> {
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let lookup = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host((bare, port)));
        let addrs: Vec<SocketAddr> = match lookup.await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => return Err(Denied::Unreachable(format!("cannot resolve {bare}: {e}"))),
            Err(_) => return Err(Denied::Unreachable(format!("resolving {bare} timed out"))),
        };
        let first = *addrs
            .first()
            .ok_or_else(|| Denied::Unreachable(format!("{bare} has no address")))?;
        if self.allowed.contains(&format!("{host}:{port}")) {
            return Ok(first);
        }
        match addrs.iter().find(|a| is_private_ip(a.ip())) {
            Some(internal) => Err(Denied::Internal(format!(
                "{} is an internal address",
                internal.ip()
            ))),
            None => Ok(first),
        }
    }

    /// Answers a denied request: 403 and a record for a refusal, 502 for a
    /// host that cannot be reached (as any proxy would).
    fn deny(&self, url: &str, denied: Denied) -> Response<Body> {
        match denied {
            Denied::Internal(why) => self.refuse(url, &why),
            Denied::Unreachable(why) => text(StatusCode::BAD_GATEWAY, &why),
        }
    }

    fn refuse(&self, url: &str, why: &str) -> Response<Body> {
        tracing::info!(%url, %why, "the page's request was blocked");
        if let Ok(mut blocked) = self.blocked.lock()
            && blocked.len() < MAX_BLOCKED
        {
            blocked.push(format!("{}: {why}", crate::text::shorten(url, 200)));
        }
        text(
            StatusCode::FORBIDDEN,
            &format!("blocked by pagesmith: {why}"),
        )
    }

    fn serve_site(&self, path: &str) -> Response<Body> {
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let Some(inside) = decoded.strip_prefix(SITE_PREFIX) else {
            return text(StatusCode::NOT_FOUND, "File not found");
        };
        let wanted = if inside.is_empty() || inside.ends_with('/') {
            format!("{inside}index.html")
        } else {
            inside.to_owned()
        };
        if let Some(bytes) = self.site.get(&wanted) {
            let media_type = pagesmith::domain::SitePath::parse(&wanted)
                .ok()
                .and_then(|p| pagesmith::domain::file_type::media_type(&p))
                .unwrap_or("application/octet-stream");
            return Response::builder()
                .header("content-type", media_type)
                .header("cache-control", "no-store")
                .body(full(bytes.clone()))
                .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "bad header"));
        }
        // A folder asked for without its slash: GitHub Pages redirects.
        if self.site.contains_key(&format!("{wanted}/index.html")) {
            return Response::builder()
                .status(StatusCode::MOVED_PERMANENTLY)
                .header("location", format!("{path}/"))
                .body(empty())
                .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "bad header"));
        }
        text(StatusCode::NOT_FOUND, "File not found")
    }
}

fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

fn empty() -> Body {
    full(Bytes::new())
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(full(Bytes::from(body.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests;
