//! The preview server's settings, read from the environment (see
//! `.env.example`). It needs PostgreSQL and the bundles on disk, not
//! RabbitMQ, so it reads the shared variables it uses one by one instead of
//! `CommonSettings` (which requires `AMQP_URL`).

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use pagesmith::{
    bundle::StoreSettings,
    config::{ConfigError, Env},
    telemetry::LogFormat,
};
use secrecy::SecretString;
use url::Url;

/// Everything `preview` reads at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: PostgreSQL connection string.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS` (default 16).
    pub database_max_connections: u32,
    /// `DATA_DIR` (default `./data`): bundles are under `DATA_DIR/bundles`
    /// (or, with an object store, the local copies of them).
    pub data_dir: PathBuf,
    /// `BUNDLE_STORE_URL` and `BUNDLE_CACHE_MB`: where bundles are read.
    pub bundle_store: StoreSettings,
    /// `LOCAL_PUBLISH_DIR` (default `DATA_DIR`): the local publisher's
    /// repositories and pages, served on `PAGES_ADDR`.
    pub local_publish_dir: PathBuf,
    /// `LOG_FORMAT` (default `pretty`).
    pub log_format: LogFormat,
    /// `PREVIEW_ADDR` (default `127.0.0.1:8081`).
    pub addr: SocketAddr,
    /// `PAGES_ADDR` (default `127.0.0.1:8082`): where the local publisher's
    /// sites and repositories are served, on an origin of their own.
    pub pages_addr: SocketAddr,
    /// `PREVIEW_FRAME_ANCESTORS`: origins allowed to frame previews (the
    /// reviewer's), space-separated; none by default (`frame-ancestors 'none'`).
    pub frame_ancestors: Vec<String>,
    /// `PREVIEW_CDN_SOURCES` (default `https:`): CSP sources live pages may
    /// load scripts, styles, fonts and media from, space-separated.
    pub cdn_sources: Vec<String>,
    /// `PREVIEW_TOKEN_CACHE_MS` (default 3000): how long a token's version
    /// is remembered, and so how late a rejection may take effect.
    pub token_cache: Duration,
    /// `PREVIEW_FILE_CACHE_MB` (default 64): memory for small files.
    pub file_cache_bytes: u64,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::read(Env::from_process())
    }

    /// Reads from any variable source (tests pass a map).
    pub fn read(mut env: Env) -> Result<Self, ConfigError> {
        let database_url = env.required_secret("DATABASE_URL");
        let database_max_connections = env.parse_or("DATABASE_MAX_CONNECTIONS", 16u32);
        let data_dir = env.parse_or("DATA_DIR", PathBuf::from("./data"));
        let bundle_store = StoreSettings::read(&mut env, &data_dir);
        let local_publish_dir = env.parse_or("LOCAL_PUBLISH_DIR", data_dir.clone());
        let log_format = env.parse_or("LOG_FORMAT", LogFormat::Pretty);
        let addr = env.parse_or("PREVIEW_ADDR", SocketAddr::from(([127, 0, 0, 1], 8081)));
        let pages_addr = env.parse_or("PAGES_ADDR", SocketAddr::from(([127, 0, 0, 1], 8082)));
        let frame_ancestors = origins(&mut env, "PREVIEW_FRAME_ANCESTORS", "");
        let cdn_sources = sources(&mut env, "PREVIEW_CDN_SOURCES", "https:");
        let token_cache = Duration::from_millis(env.parse_or("PREVIEW_TOKEN_CACHE_MS", 3000));
        let file_cache_mb: u64 = env.parse_or("PREVIEW_FILE_CACHE_MB", 64);
        env.finish()?;
        Ok(Self {
            database_url,
            database_max_connections,
            data_dir,
            bundle_store,
            local_publish_dir,
            log_format,
            addr,
            pages_addr,
            frame_ancestors,
            cdn_sources,
            token_cache,
            file_cache_bytes: file_cache_mb * 1024 * 1024,
        })
    }
}

/// Space-separated origins (`https://review.example.com`), each checked
/// and written back as `scheme://host[:port]`.
fn origins(env: &mut Env, name: &str, default: &str) -> Vec<String> {
    let raw = env.optional(name).unwrap_or_else(|| default.to_owned());
    let mut out = Vec::new();
    for item in raw.split_whitespace() {
        match Url::parse(item) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.path() == "/" => {
                out.push(url.origin().ascii_serialization());
            }
            _ => env.reject(
                name,
                format!("`{item}` is not an origin like https://review.example.com"),
            ),
        }
    }
    out
}

/// Space-separated CSP source expressions: a scheme (`https:`) or an
/// origin, optionally with a path (`https://cdn.jsdelivr.net`).
fn sources(env: &mut Env, name: &str, default: &str) -> Vec<String> {
    let raw = env.optional(name).unwrap_or_else(|| default.to_owned());
    let mut out = Vec::new();
    for item in raw.split_whitespace() {
        let scheme_only = item.ends_with(':')
            && item[..item.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        let url = Url::parse(item).ok().filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.query().is_none() && u.fragment().is_none()
        });
        // A CSP source list is split on spaces and ';' ends the directive:
        // neither (nor a quote, comma or non-ASCII) may hide in a source.
        let clean =
            item.chars().all(|c| c.is_ascii_graphic()) && !item.contains([';', ',', '\'', '"']);
        match (scheme_only || url.is_some()) && clean {
            true => out.push(item.to_owned()),
            false => env.reject(
                name,
                format!("`{item}` is not a CSP source like https: or https://cdn.example.com"),
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Vec<(&'static str, &'static str)> {
        vec![("DATABASE_URL", "postgres://localhost/p")]
    }

    #[test]
    fn minimal_environment_gets_documented_defaults() {
        let s = Settings::read(Env::from_vars(base())).unwrap();
        assert_eq!(s.addr.to_string(), "127.0.0.1:8081");
        assert_eq!(s.pages_addr.to_string(), "127.0.0.1:8082");
        assert!(s.frame_ancestors.is_empty());
        assert_eq!(s.cdn_sources, ["https:"]);
        assert_eq!(s.token_cache, Duration::from_secs(3));
        assert_eq!(s.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn origins_and_sources_are_normalized() {
        let mut vars = base();
        vars.push((
            "PREVIEW_FRAME_ANCESTORS",
            "https://Review.Example.com/ http://127.0.0.1:9000",
        ));
        vars.push((
            "PREVIEW_CDN_SOURCES",
            "https://cdn.jsdelivr.net http://127.0.0.1:5555",
        ));
        let s = Settings::read(Env::from_vars(vars)).unwrap();
        assert_eq!(
            s.frame_ancestors,
            ["https://review.example.com", "http://127.0.0.1:9000"]
        );
        assert_eq!(
            s.cdn_sources,
            ["https://cdn.jsdelivr.net", "http://127.0.0.1:5555"]
        );
    }

    #[test]
    fn every_bad_variable_is_named() {
        let vars = vec![
            ("PREVIEW_ADDR", "localhost"),
            ("PAGES_ADDR", "8082"),
            (
                "PREVIEW_FRAME_ANCESTORS",
                "https://ok.example javascript:alert(1)",
            ),
            ("PREVIEW_CDN_SOURCES", "https://a.example;script-src *"),
            ("PREVIEW_TOKEN_CACHE_MS", "soon"),
        ];
        let err = Settings::read(Env::from_vars(vars)).unwrap_err();
        let names: Vec<_> = err.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "DATABASE_URL",
                "PREVIEW_ADDR",
                "PAGES_ADDR",
                "PREVIEW_FRAME_ANCESTORS",
                "PREVIEW_CDN_SOURCES",
                "PREVIEW_CDN_SOURCES",
                "PREVIEW_TOKEN_CACHE_MS"
            ]
        );
        assert!(err.to_string().contains("javascript:alert(1)"), "{err}");
    }
}
