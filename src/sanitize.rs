//! The script-free "safe view" of generated HTML.
//!
//! First cut: ammonia's default cleaner, which is safe but drops document
//! structure, classes and styles. The preview work replaces it with a
//! sanitizer that keeps them.

/// Returns `html` without anything that can run: scripts, event handlers,
/// `javascript:` URLs, frames, objects, `<base>` and `<meta http-equiv=refresh>`.
pub fn safe_html(html: &str) -> String {
    ammonia::clean(html)
}
