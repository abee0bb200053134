//! Properties of the validators untrusted input meets first, at scale:
//! the data-URI decoder, the site-path rules for attachment and manifest
//! names, and the `/app` field validator.
//!
//! The unit tests beside each type hold the examples and a few quick
//! properties; these go further, with inputs built to reach the corner
//! cases (encodings senders really vary, paths made of hostile pieces, JSON
//! of any shape). Each property runs 10,000 cases by default (fewer for the
//! costlier ones); long byte strings come from a seeded generator rather
//! than element by element, which keeps that many cases to seconds in a
//! debug build. For a longer hunt set `PROPTEST_CASES`, which replaces every
//! count here:
//!
//! ```sh
//! PROPTEST_CASES=1000000 cargo nextest run -p pagesmith --test input_props
//! ```

use std::{
    collections::HashSet,
    path::{Component, Path, PathBuf},
};

use base64::Engine;
use pagesmith::domain::{
    AppRequest, AppRequestLimits, DataUri, DataUriError, SitePath, net::is_private_host,
};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// `PROPTEST_CASES` when set, else `default`.
fn cases(default: u32) -> ProptestConfig {
    ProptestConfig::with_cases(testkit::proptest_cases(default))
}

/// `len` bytes from `seed` (SplitMix64): cheap to make at any length, and
/// a failure still shrinks to a short length and a small seed.
fn seeded_bytes(max_len: usize) -> impl Strategy<Value = Vec<u8>> {
    (any::<u64>(), 0..=max_len).prop_map(|(mut state, len)| {
        (0..len)
            .map(|_| {
                state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut z = state;
                z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                (z ^ (z >> 31)) as u8
            })
            .collect()
    })
}

/// Text over `alphabet`, made like [`seeded_bytes`].
fn seeded_text(alphabet: &'static str, max_len: usize) -> impl Strategy<Value = String> {
    let chars: Vec<char> = alphabet.chars().collect();
    seeded_bytes(max_len).prop_map(move |bytes| {
        bytes
            .iter()
            .map(|b| chars[*b as usize % chars.len()])
            .collect()
    })
}

// ---------------------------------------------------------------- data URIs

/// Pieces a data URI is made of. Strings assembled from them reach every
/// branch of the decoder, not just "missing `data:`".
const URI_PIECES: &[&str] = &[
    "data:",
    "DATA:",
    ",",
    ";",
    ";base64",
    ";BASE64",
    "image/png",
    "text/plain",
    "charset=utf-8",
    "=",
    "%",
    "%4",
    "%4a",
    "%C3%A9",
    "%zz",
    "aGk",
    "iVBORw0KGgo=",
    "QQ==",
    "@",
    " \t\r\n",
    "+/",
    "\u{e9}",
    "\u{1f600}",
];

fn data_uri_like() -> impl Strategy<Value = String> {
    (seeded_bytes(16), any::<char>()).prop_map(|(picks, odd)| {
        let mut uri: String = picks
            .iter()
            .map(|p| URI_PIECES[*p as usize % URI_PIECES.len()])
            .collect();
        // And one character from anywhere, somewhere.
        let at = (0..=uri.len())
            .filter(|i| uri.is_char_boundary(*i))
            .nth(picks.first().map_or(0, |p| *p as usize) % (uri.chars().count() + 1))
            .unwrap_or(0);
        uri.insert(at, odd);
        uri
    })
}

/// A media type as senders write it, in any mix of cases.
fn media_type() -> impl Strategy<Value = String> {
    let essences = vec![
        "image/png",
        "image/svg+xml",
        "text/csv",
        "text/plain",
        "application/json",
        "application/octet-stream",
        "application/vnd.ms-excel",
        "font/woff2",
        "x-custom/x.y-z",
    ];
    (prop::sample::select(essences), any::<u32>()).prop_map(|(essence, mask)| {
        essence
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if mask >> (i % 32) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect()
    })
}

/// Wraps base64 text the way mail and HTTP libraries do: line breaks every
/// `width` characters, optionally without the trailing padding.
fn wrapped_base64(data: &[u8], width: usize, strip_padding: bool, newline: &str) -> String {
    let mut text = base64::engine::general_purpose::STANDARD.encode(data);
    if strip_padding {
        text = text.trim_end_matches('=').to_owned();
    }
    text.as_bytes()
        .chunks(width)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect::<Vec<_>>()
        .join(newline)
}

/// Percent-encodes `data`, choosing per byte whether to encode a byte that
/// may stand as itself, and whether the hex digits are upper or lower case.
/// Bit `i % 64` of `encode` and `upper` decide for byte `i`.
fn partly_percent_encoded(data: &[u8], encode: u64, upper: u64) -> String {
    let mut out = String::new();
    for (i, &b) in data.iter().enumerate() {
        let may_stand = b.is_ascii_graphic() && b != b'%';
        let bit = |mask: u64| mask >> (i % 64) & 1 == 1;
        if may_stand && !bit(encode) {
            out.push(b as char);
        } else if bit(upper) {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The signatures the decoder recognises, one per declared type.
const SIGNED: &[(&str, &[u8])] = &[
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF89a"),
    ("application/pdf", b"%PDF-1.7"),
    ("application/zip", b"PK\x03\x04"),
    ("image/webp", b"RIFF\x10\x00\x00\x00WEBP"),
];

proptest! {
    #![proptest_config(cases(10_000))]

    /// Never panics, and what it accepts is well-formed: a lower-case
    /// `type/subtype` essence, and never more bytes than the text held (so
    /// the body limit also bounds every attachment).
    #[test]
    fn the_decoder_never_panics_and_accepts_only_well_formed_uris(input in data_uri_like()) {
        if let Ok(uri) = DataUri::parse(&input) {
            prop_assert!(uri.media_type.contains('/'));
            prop_assert_eq!(uri.media_type.to_ascii_lowercase(), uri.media_type.clone());
            prop_assert!(uri.data.len() <= input.len());
            let _ = uri.check_declared_type();
        }
    }

    /// What senders vary harmlessly (line-wrapped base64, missing padding,
    /// `;BASE64`, parameters, an upper-case media type) decodes to the
    /// exact bytes.
    #[test]
    fn base64_round_trips_through_what_senders_vary(
        data in seeded_bytes(2048),
        essence in media_type(),
        width in 1usize..120,
        strip_padding in any::<bool>(),
        newline in prop::sample::select(vec!["", "\n", "\r\n", " "]),
        marker in prop::sample::select(vec![";base64", ";BASE64", ";Base64"]),
        charset in prop::option::of(prop::sample::select(vec!["utf-8", "US-ASCII", "iso-8859-1"])),
    ) {
        let params = charset.map(|c| format!(";charset={c}")).unwrap_or_default();
        let uri = format!(
            "data:{essence}{params}{marker},{}",
            wrapped_base64(&data, width, strip_padding, newline)
        );
        let decoded = DataUri::parse(&uri).map_err(|e| TestCaseError::fail(format!("{uri}: {e}")))?;
        prop_assert_eq!(decoded.data, data);
        prop_assert_eq!(decoded.media_type, essence.to_ascii_lowercase());
    }

    /// Any mix of literal and percent-encoded bytes, in either hex case,
    /// decodes to the exact bytes.
    #[test]
    fn percent_encoding_round_trips_however_much_is_encoded(
        data in seeded_bytes(1024),
        encode in any::<u64>(),
        upper in any::<u64>(),
    ) {
        let uri = format!("data:application/octet-stream,{}", partly_percent_encoded(&data, encode, upper));
        prop_assert_eq!(DataUri::parse(&uri).unwrap().data, data);
    }

    /// One damaged escape anywhere (a `%` without two hex digits after it)
    /// refuses the whole URI, naming the byte, instead of passing it
    /// through as the lenient decoders do.
    #[test]
    fn a_broken_percent_escape_is_refused_where_it_is(
        data in seeded_text("abcXYZ0189 ,.", 200),
        at in any::<prop::sample::Index>(),
        tail in prop::sample::select(vec!["", "g", "4", "4z", "%", "zz"]),
    ) {
        let cut = at.index(data.len() + 1);
        let payload = format!("{}%{tail}", &data[..cut]);
        let uri = format!("data:,{payload}");
        prop_assert_eq!(DataUri::parse(&uri), Err(DataUriError::BadPercentEncoding(cut)));
    }

    /// Bytes with a recognisable signature are accepted under their own type
    /// and refused under any other recognisable or text type; a recognisable
    /// type declared over other bytes is refused.
    #[test]
    fn declared_types_must_match_recognisable_bytes(
        actual in 0..SIGNED.len(),
        declared in 0..SIGNED.len(),
        rest in seeded_bytes(64),
        text in seeded_text(" !%-.0189AFGIKPRWZafz~", 64),
    ) {
        let (actual_type, magic) = SIGNED[actual];
        let (declared_type, _) = SIGNED[declared];
        let bytes = [magic, &rest].concat();
        let uri = |t: &str, data: &[u8]| DataUri { media_type: t.to_owned(), data: data.to_vec() };
        prop_assert_eq!(uri(actual_type, &bytes).check_declared_type(), Ok(()));
        prop_assert_eq!(uri(declared_type, &bytes).check_declared_type().is_ok(), actual == declared);
        prop_assert!(uri("text/plain", &bytes).check_declared_type().is_err());
        // Printable text can only begin like the ASCII signatures.
        if !["GIF8", "%PDF-", "PK", "RIFF"].iter().any(|p| text.starts_with(p)) {
            prop_assert!(uri(declared_type, text.as_bytes()).check_declared_type().is_err());
        }
    }
}

// ---------------------------------------------------------------- site paths

/// Path pieces an attacker would try: traversal, absolute and drive forms,
/// Windows device names, hidden names, separators of every kind, and
/// look-alike Unicode.
fn hostile_component() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => seeded_text("abcXYZ019_-.", 12).prop_filter("not empty", |s| !s.is_empty()),
        1 => prop::sample::select(vec![
            "", ".", "..", "...", " ", "~", ".git", ".env", ".nojekyll", "con", "CON.txt", "nul",
            "Aux.md", "com1", "LPT9.log", "C:", "c:x", "a:b", "name.", "name ", " name", "\\",
            "..\\..", "\0", "\n", "\u{7f}", "%2e%2e", "%00", "a?b", "a#b", "a*b", "<x>", "\"q\"",
            "a|b", "\u{202e}gnp.js", "\u{ff0f}", "\u{2024}\u{2024}", "\u{2215}", "naïve.txt",
        ])
        .prop_map(str::to_owned),
        1 => prop::collection::vec(any::<char>(), 0..6).prop_map(|c| c.into_iter().collect()),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "",
            "/",
            "./",
            "\\",
            "//",
            "C:/",
            "\\\\server\\share\\",
        ]),
        prop::collection::vec(
            (
                hostile_component(),
                prop::sample::select(vec!["/", "/", "//", "\\", "/./"]),
            ),
            1..8,
        ),
    )
        .prop_map(|(prefix, parts)| {
            let mut path = prefix.to_owned();
            for (i, (part, sep)) in parts.iter().enumerate() {
                if i > 0 {
                    path.push_str(sep);
                }
                path.push_str(part);
            }
            path
        })
}

/// Joins without touching the disk and resolves `.`/`..` lexically, the
/// way a naive writer would; a safe path stays under `base` even then.
fn join_lexically(base: &Path, relative: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => out = PathBuf::from(component.as_os_str()),
        }
    }
    out
}

const RESERVED: &[&str] = &[
    "con", "prn", "aux", "nul", "com1", "com2", "com3", "com4", "com5", "com6", "com7", "com8",
    "com9", "lpt1", "lpt2", "lpt3", "lpt4", "lpt5", "lpt6", "lpt7", "lpt8", "lpt9",
];

proptest! {
    #![proptest_config(cases(10_000))]

    /// Whatever is accepted is a relative path with no `..`, no backslash,
    /// no NUL or control character, no drive colon, no hidden or Windows
    /// device component, within the length limit; it is stable under
    /// parsing again, and joined to a base directory it stays inside it.
    #[test]
    fn accepted_paths_are_safe_everywhere_they_are_written(raw in hostile_path()) {
        let Ok(path) = SitePath::parse(&raw) else { return Ok(()) };
        let s = path.as_str();
        prop_assert!(!s.is_empty() && s.len() <= SitePath::MAX_LEN);
        prop_assert!(!s.starts_with('/') && !s.contains(':'), "{s:?}");
        prop_assert!(!s.contains('\\') && !s.chars().any(char::is_control), "{s:?}");
        for component in s.split('/') {
            prop_assert!(!component.is_empty() && component != "." && component != "..", "{s:?}");
            prop_assert!(!component.starts_with('.') || s == ".nojekyll", "{s:?}");
            let stem = component.split('.').next().unwrap_or_default().to_ascii_lowercase();
            prop_assert!(!RESERVED.contains(&stem.as_str()), "{s:?}");
        }
        prop_assert_eq!(SitePath::parse(s), Ok(path.clone()));

        let base = Path::new("/srv/bundles/abc");
        let joined = join_lexically(base, s);
        prop_assert!(joined.starts_with(base) && joined != base, "{s:?} -> {joined:?}");
        prop_assert!(Path::new(s).components().all(|c| matches!(c, Component::Normal(_))), "{s:?}");
    }

    /// Total over any text made of separators, dots, controls, reserved
    /// and multi-byte characters.
    #[test]
    fn the_path_validator_never_panics(
        raw in seeded_text("/\\.:%?#*<>| \0\n\t\u{7f}aZ09~-_conCON\u{e9}\u{202e}\u{ff0f}\u{10ffff}", 240),
    ) {
        // What it accepts is relative, has no `..` or `\\`, and reads back
        // as itself.
        if let Ok(path) = SitePath::parse(&raw) {
            let s = path.as_str();
            prop_assert!(!s.is_empty() && !s.starts_with('/') && !s.contains('\\'), "{s:?}");
            prop_assert!(s.split('/').all(|part| !part.is_empty() && part != "." && part != ".."), "{s:?}");
            prop_assert_eq!(SitePath::parse(s).ok(), Some(path.clone()));
        }
    }
}

// ---------------------------------------------------------------- /app fields

/// The fields `AppRequest::parse` reads, and a valid value of each.
fn valid_body() -> Map<String, Value> {
    let body = json!({
        "email": "student@example.com",
        "secret": "s",
        "task": "task-1",
        "round": 1,
        "nonce": "n-1",
        "brief": "Make a page.",
        "checks": ["Repo has MIT license"],
        "evaluation_url": "https://example.com/notify",
        "attachments": [{"name": "a.txt", "url": "data:,hello"}]
    });
    body.as_object().expect("an object").clone()
}

const FIELDS: &[&str] = &[
    "email",
    "task",
    "round",
    "nonce",
    "brief",
    "checks",
    "evaluation_url",
    "attachments",
];

/// JSON of any shape, with strings that are sometimes almost right.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0i64..1_100).prop_map(Value::from),
        prop::collection::vec(any::<char>(), 0..8)
            .prop_map(|c| Value::String(c.into_iter().collect())),
        prop::sample::select(vec![
            "",
            " ",
            "a@b.c",
            "student@example.com",
            "http://127.0.0.1/",
            "https://example.com/x",
            "ftp://x",
            "data:,x",
            "data:image/png;base64,iVBORw0KGgo=",
            "../x",
            "a.txt",
            "\0",
            "line\nbreak",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec!["name", "url", "email", "round"])
                        .prop_map(str::to_owned),
                    "[a-z]{1,6}",
                ],
                inner,
                0..4,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether `key` is the path of `field` or of something inside it
/// (`checks[2]`, `attachments[0].url`).
fn belongs_to(key: &str, field: &str) -> bool {
    key.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('['))
}

fn limits(allow_private_callbacks: bool) -> AppRequestLimits {
    AppRequestLimits {
        max_attachment_bytes: 1024,
        max_attachments: 5,
        allow_private_callbacks,
    }
}

/// What every accepted request satisfies, whatever it was built from.
fn check_accepted(request: &AppRequest, limits: &AppRequestLimits) -> Result<(), TestCaseError> {
    prop_assert!((1..=1000).contains(&request.round));
    for text in [
        &request.email,
        &request.task,
        &request.nonce,
        &request.brief,
    ] {
        prop_assert!(!text.is_empty() && !text.contains('\0'));
    }
    prop_assert!(matches!(request.evaluation_url.scheme(), "http" | "https"));
    let host = request.evaluation_url.host().expect("a host");
    prop_assert!(limits.allow_private_callbacks || !is_private_host(&host));
    prop_assert!(request.attachments.len() <= limits.max_attachments);
    let mut names = HashSet::new();
    for attachment in &request.attachments {
        prop_assert!(attachment.data.len() <= limits.max_attachment_bytes);
        prop_assert!(names.insert(attachment.name.as_str().to_lowercase()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(2_000))]

    /// A body of any shape never panics the validator; what it refuses is
    /// refused by field paths the sender sent or must send (the route
    /// answers every such refusal 422 with these names), and what it
    /// accepts meets every rule.
    #[test]
    fn any_json_object_is_validated_without_panicking(
        fields in prop::collection::btree_map(
            prop_oneof![prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned), "[a-z]{1,8}"],
            any_json(),
            0..12,
        ),
        allow_private in any::<bool>(),
    ) {
        let body: Map<String, Value> = fields.into_iter().collect();
        let limits = limits(allow_private);
        match AppRequest::parse(&body, &limits) {
            Ok(request) => check_accepted(&request, &limits)?,
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for (key, problem) in &errors.0 {
                    prop_assert!(FIELDS.iter().any(|f| belongs_to(key, f)), "unexpected key {key}");
                    prop_assert!(!problem.is_empty());
                }
            }
        }
    }

    /// Replacing one field of a valid request with anything is either
    /// accepted or refused under that field's name alone: the sender is
    /// always told which field to fix. Unknown fields are never a problem.
    #[test]
    fn a_bad_value_is_blamed_on_its_own_field(
        field in prop::sample::select(FIELDS.to_vec()),
        value in any_json(),
        extra in "[a-z_]{1,10}",
        extra_value in any_json(),
    ) {
        let mut body = valid_body();
        prop_assert!(AppRequest::parse(&body, &limits(false)).is_ok());
        body.insert(field.to_owned(), value);
        if !FIELDS.contains(&extra.as_str()) && extra != "secret" {
            body.insert(extra, extra_value);
        }
        match AppRequest::parse(&body, &limits(false)) {
            Ok(request) => check_accepted(&request, &limits(false))?,
            Err(errors) => {
                let keys: Vec<&String> = errors.0.keys().collect();
                prop_assert!(keys.iter().all(|k| belongs_to(k, field)), "{field}: {keys:?}");
            }
        }
    }
}
