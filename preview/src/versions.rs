//! Token → version lookups, remembered for a few seconds so the hot path
//! does not ask PostgreSQL on every request, yet a rejection takes effect
//! within `PREVIEW_TOKEN_CACHE_MS`.

use pagesmith::domain::VersionState;
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::HeaderValue;
use chrono::{DateTime, Utc};
use pagesmith::{
    bundle::{View, is_sha256_hex},
    db::versions,
    domain::{SitePath, file_type},
};
use sqlx::PgPool;

/// Lookups remembered at most (least recently used out first), so unknown
/// tokens sprayed at the server cannot grow memory without bound.
const MAX_ENTRIES: u64 = 10_000;

/// How long a remembered version may stand in while PostgreSQL is away.
const STALE_WHILE_DOWN: Duration = Duration::from_secs(300);

/// A version as the server serves it, built once per lookup.
#[derive(Debug)]
pub struct Site {
    /// Names the bundle directory; checked to be hex, so it can't be a path.
    pub bundle: String,
    servable_until: Option<DateTime<Utc>>,
    files: HashMap<String, FileMeta>,
}

/// What is known about a file before reading it.
#[derive(Debug)]
pub struct FileMeta {
    pub path: SitePath,
    /// Lower-case hex SHA-256 of the live file.
    pub sha256: String,
    pub size: u64,
    pub content_type: HeaderValue,
    /// Strong ETags of the file in each view: the live file's SHA-256, and
    /// for a sanitized HTML page that hash tagged with the bundle, whose
    /// safe tree never changes.
    live_etag: HeaderValue,
    safe_etag: HeaderValue,
}

impl FileMeta {
    /// The file's ETag in `view`.
    pub fn etag(&self, view: View) -> &HeaderValue {
        match view {
            View::Live => &self.live_etag,
            View::Safe => &self.safe_etag,
        }
    }
}

impl Site {
    fn from_version(v: versions::PreviewVersion) -> Self {
        let servable_until = (v.state == VersionState::Active).then_some(v.expires_at);
        let files = v
            .files
            .into_iter()
            .filter_map(|f| {
                let path = SitePath::parse(&f.path).ok()?;
                if path.as_str() != f.path || !is_sha256_hex(&f.sha256) {
                    return None;
                }
                let media = file_type::media_type(&path).unwrap_or("application/octet-stream");
                let live_etag = format!("\"{}\"", f.sha256);
                let safe_etag = match file_type::is_html(&path) {
                    true => format!("\"{}-safe-{}\"", f.sha256, &v.bundle[..16]),
                    false => live_etag.clone(),
                };
                let meta = FileMeta {
                    path,
                    sha256: f.sha256,
                    size: f.size,
                    content_type: HeaderValue::from_static(media),
                    live_etag: HeaderValue::from_str(&live_etag).ok()?,
                    safe_etag: HeaderValue::from_str(&safe_etag).ok()?,
                };
                Some((f.path, meta))
            })
            .collect();
        Self {
            bundle: v.bundle,
            servable_until,
            files,
        }
    }

    /// Whether its links still work at `now` (active and not expired).
    pub fn is_servable(&self, now: DateTime<Utc>) -> bool {
        self.servable_until.is_some_and(|until| now < until)
    }

    /// The file at `path`, if the version has one.
    pub fn file(&self, path: &str) -> Option<&FileMeta> {
        self.files.get(path)
    }

    /// Whether `dir/index.html` exists, so `dir` should redirect to `dir/`.
    pub fn has_index_under(&self, dir: &str) -> bool {
        self.files.contains_key(&format!("{dir}/index.html"))
    }
}

/// Whether `token` could be a preview token (URL-safe base64), so obvious
/// garbage never reaches the database.
pub fn is_token_shaped(token: &str) -> bool {
    (16..=64).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Clone)]
struct Entry {
    fetched: Instant,
    site: Option<Arc<Site>>,
}

/// The lookups: fresh for `ttl`, then kept (for standing in while the
/// database is away) until [`STALE_WHILE_DOWN`].
pub struct VersionCache {
    pool: PgPool,
    ttl: Duration,
    entries: moka::sync::Cache<Box<str>, Entry>,
}

impl VersionCache {
    pub fn new(pool: PgPool, ttl: Duration) -> Self {
        Self {
            pool,
            ttl,
            entries: moka::sync::Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(STALE_WHILE_DOWN.max(ttl))
                .build(),
        }
    }

    /// The version `token` opens, or `None` for an unknown token (also
    /// remembered, briefly). On a database error, a version seen in the last
    /// few minutes is served rather than none.
    pub async fn get(&self, token: &str) -> Result<Option<Arc<Site>>, sqlx::Error> {
        let cached = self.entries.get(token);
        if let Some(entry) = &cached
            && entry.fetched.elapsed() < self.ttl
        {
            return Ok(entry.site.clone());
        }
        // Boxed: the query's future is large, and every request's future
        // would otherwise carry (and move) its space.
        Box::pin(self.refresh(token, cached)).await
    }

    /// Looks `token` up in the database, falling back on `cached`.
    async fn refresh(
        &self,
        token: &str,
        cached: Option<Entry>,
    ) -> Result<Option<Arc<Site>>, sqlx::Error> {
        let found = match versions::find_by_token(&self.pool, token).await {
            Ok(found) => found,
            Err(e) => {
                return match cached {
                    Some(entry)
                        if entry.site.is_some() && entry.fetched.elapsed() < STALE_WHILE_DOWN =>
                    {
                        tracing::warn!(error = %e, "database unavailable; serving a remembered version");
                        Ok(entry.site)
                    }
                    _ => Err(e),
                };
            }
        };
        let site = found
            .filter(|v| is_hex_id(&v.bundle))
            .map(|v| Arc::new(Site::from_version(v)));
        self.entries.insert(
            token.into(),
            Entry {
                fetched: Instant::now(),
                site: site.clone(),
            },
        );
        Ok(site)
    }
}

/// A bundle id: the hex SHA-256 naming its directory.
fn is_hex_id(bundle: &str) -> bool {
    let ok = is_sha256_hex(bundle);
    if !ok {
        tracing::error!("a version names a bundle that is not a hex id; refusing to serve it");
    }
    ok
}
