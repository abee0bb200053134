//! Where a version's previews are: the live view (scripts run) and the
//! safe view (sanitized, no scripts), on the preview's origin.

use url::Url;

/// The live and safe preview URLs of a version.
pub fn preview_urls(base: &Url, token: &str) -> (String, String) {
    let base = base.as_str().trim_end_matches('/');
    (format!("{base}/p/{token}/"), format!("{base}/s/{token}/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_urls_join_the_base_cleanly() {
        let base = Url::parse("https://preview.example.net/").unwrap();
        assert_eq!(
            preview_urls(&base, "tok"),
            (
                "https://preview.example.net/p/tok/".into(),
                "https://preview.example.net/s/tok/".into()
            )
        );
    }
}
