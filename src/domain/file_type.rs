//! The static file types a generated site may contain, and their media
//! types. Anything else (executables, server code, archives) is refused.

use super::SitePath;

/// Extension (lower case) → media type, for every allowed type.
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("map", "application/json"),
    ("webmanifest", "application/manifest+json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("tsv", "text/tab-separated-values; charset=utf-8"),
    ("xml", "application/xml"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("pdf", "application/pdf"),
    ("wasm", "application/wasm"),
];

/// Files without an extension that a repository or Pages site normally has.
const BARE_NAMES: &[&str] = &["LICENSE", "CNAME", ".nojekyll"];

/// The media type of an allowed file, or `None` if the type is not allowed.
pub fn media_type(path: &SitePath) -> Option<&'static str> {
    match path.extension() {
        Some(ext) => TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t),
        None => BARE_NAMES
            .contains(&path.file_name())
            .then_some("text/plain; charset=utf-8"),
    }
}

/// Whether the type is text we may read, show and scan.
pub fn is_text(path: &SitePath) -> bool {
    media_type(path).is_some_and(|t| {
        t.starts_with("text/")
            || t.starts_with("application/json")
            || t.starts_with("application/manifest")
            || t == "application/xml"
            || t == "image/svg+xml"
    })
}

/// Whether the file is an HTML document.
pub fn is_html(path: &SitePath) -> bool {
    matches!(path.extension().as_deref(), Some("html" | "htm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> SitePath {
        SitePath::parse(s).unwrap()
    }

    #[test]
    fn static_types_are_allowed_and_typed() {
        assert_eq!(
            media_type(&path("index.html")),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(media_type(&path("a/b/Logo.PNG")), Some("image/png"));
        assert_eq!(
            media_type(&path("LICENSE")),
            Some("text/plain; charset=utf-8")
        );
        assert!(is_text(&path("data.csv")) && is_text(&path("icon.svg")));
        assert!(!is_text(&path("logo.png")));
    }

    #[test]
    fn other_types_are_refused() {
        for p in [
            "server.php",
            "run.sh",
            "app.exe",
            "site.zip",
            "Makefile",
            "x.py",
        ] {
            assert_eq!(media_type(&path(p)), None, "{p}");
        }
    }
}
