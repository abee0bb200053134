//! Every policy the preview server sends, in one place, computed once at
//! start-up as ready header values.
//!
//! Live pages run their own JavaScript, so they are isolated rather than
//! trusted: the CSP `sandbox` gives them an opaque origin (no cookies, no
//! storage shared with anything), and the rest of the policy lets them do
//! what generated sites do — inline code, CDN scripts and styles, `fetch()`
//! of their own files and of https APIs — and nothing that would let them
//! pass as another page (`base-uri`, `frame-ancestors`, `form-action`).

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use crate::settings::Settings;

/// Features no preview needs; denied so a page cannot ask the reviewer.
const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
    display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
    hid=(), idle-detection=(), magnetometer=(), microphone=(), midi=(), payment=(), \
    picture-in-picture=(), publickey-credentials-get=(), screen-wake-lock=(), serial=(), \
    usb=(), xr-spatial-tracking=()";

/// The policy of the server's own pages (errors, health, metrics): nothing
/// but their inline style. The pages origin's repository pages use it too.
pub(crate) const OWN_PAGES_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

/// Header values for each kind of response.
#[derive(Debug, Clone)]
pub struct Policies {
    live_csp: HeaderValue,
    safe_csp: HeaderValue,
    own_csp: HeaderValue,
}

impl Policies {
    pub fn new(settings: &Settings) -> Self {
        Self {
            live_csp: value(&live_csp(settings)),
            safe_csp: value(&safe_csp(settings)),
            own_csp: HeaderValue::from_static(OWN_PAGES_CSP),
        }
    }

    /// The CSP of a live page.
    pub fn live_csp(&self) -> &HeaderValue {
        &self.live_csp
    }

    /// The CSP of a safe page.
    pub fn safe_csp(&self) -> &HeaderValue {
        &self.safe_csp
    }

    /// Sets the headers every response carries; a response without a CSP
    /// (an error page, health, metrics) gets the strictest one. Removes any
    /// `Set-Cookie`, which nothing here should ever send.
    pub fn apply_common(&self, headers: &mut HeaderMap) {
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        );
        headers.insert(
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        );
        headers.remove(header::SET_COOKIE);
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            headers.insert(header::CONTENT_SECURITY_POLICY, self.own_csp.clone());
        }
    }
}

/// `frame-ancestors` from `PREVIEW_FRAME_ANCESTORS`.
fn frame_ancestors(settings: &Settings) -> String {
    match settings.frame_ancestors.is_empty() {
        true => "'none'".to_owned(),
        false => settings.frame_ancestors.join(" "),
    }
}

/// The live view's policy.
pub fn live_csp(settings: &Settings) -> String {
    let cdn = settings.cdn_sources.join(" ");
    // fetch() of https APIs is what generated sites do, whatever the CDN list.
    let connect = match settings.cdn_sources.iter().any(|s| s == "https:") {
        true => cdn.clone(),
        false => format!("https: {cdn}"),
    };
    let ancestors = frame_ancestors(settings);
    // 'unsafe-eval' adds nothing to a page that may already run any inline
    // script, and some CDN libraries (Alpine, Vue's full build) need it.
    format!(
        "sandbox allow-scripts allow-forms allow-modals allow-popups; \
         default-src 'self' {cdn}; \
         script-src 'self' 'unsafe-inline' 'unsafe-eval' {cdn}; \
         style-src 'self' 'unsafe-inline' {cdn}; \
         img-src 'self' data: blob: {cdn}; \
         font-src 'self' data: {cdn}; \
         media-src 'self' data: blob: {cdn}; \
         connect-src 'self' {connect}; \
         worker-src 'self' blob:; \
         object-src 'none'; \
         form-action 'self'; \
         base-uri 'none'; \
         frame-ancestors {ancestors}"
    )
}

/// The safe view's policy: no script at all, and no sandbox escape to
/// ask for one.
pub fn safe_csp(settings: &Settings) -> String {
    let cdn = settings.cdn_sources.join(" ");
    let ancestors = frame_ancestors(settings);
    format!(
        "sandbox allow-popups; \
         default-src 'none'; \
         script-src 'none'; \
         style-src 'self' 'unsafe-inline' {cdn}; \
         img-src 'self' data: {cdn}; \
         font-src 'self' data: {cdn}; \
         media-src 'self' data: {cdn}; \
         object-src 'none'; \
         form-action 'none'; \
         base-uri 'none'; \
         frame-ancestors {ancestors}"
    )
}

fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).expect("settings allow only header-safe sources")
}
