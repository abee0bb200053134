//! `data:` URIs (RFC 2397), the form attachments arrive in.
//!
//! The decoder is strict where leniency would hide corruption (bad base64, a
//! stray `%`) and lenient where real senders differ harmlessly (whitespace in
//! base64, missing padding, upper-case `;BASE64`).

use base64::{
    Engine, alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
};

/// A decoded data URI: its media type and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataUri {
    /// The essence, lower-cased: `image/png`. `text/plain` when omitted.
    pub media_type: String,
    /// The bytes, exactly as encoded.
    pub data: Vec<u8>,
}

/// Why a data URI was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataUriError {
    #[error("must start with `data:`")]
    NotDataUri,
    #[error("has no `,` separating the media type from the data")]
    MissingComma,
    #[error("has a malformed media type `{0}`")]
    BadMediaType(String),
    #[error("has invalid base64 data: {0}")]
    BadBase64(String),
    #[error("has invalid percent-encoding at byte {0}")]
    BadPercentEncoding(usize),
    #[error("declares `{declared}` but its bytes are {actual}")]
    TypeMismatch {
        declared: String,
        actual: &'static str,
    },
}

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl DataUri {
    /// Parses and decodes `data:[<media type>][;base64],<data>`.
    pub fn parse(uri: &str) -> Result<Self, DataUriError> {
        let rest = strip_prefix_ignore_case(uri.trim(), "data:").ok_or(DataUriError::NotDataUri)?;
        let (header, payload) = rest.split_once(',').ok_or(DataUriError::MissingComma)?;

        let mut params: Vec<&str> = header.split(';').map(str::trim).collect();
        let is_base64 = params
            .last()
            .is_some_and(|p| p.eq_ignore_ascii_case("base64"));
        if is_base64 {
            params.pop();
        }
        let essence = params.first().copied().unwrap_or("");
        let media_type = if essence.is_empty() {
            "text/plain".to_owned()
        } else {
            validate_media_type(essence)?
        };
        for param in params.iter().skip(1) {
            let valid = param
                .split_once('=')
                .is_some_and(|(k, v)| is_token(k) && !v.is_empty());
            if !valid {
                return Err(DataUriError::BadMediaType(header.to_owned()));
            }
        }

        let unescaped = percent_decode_strict(payload.as_bytes())?;
        let data = if is_base64 {
            let compact: Vec<u8> = unescaped
                .into_iter()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            BASE64
                .decode(&compact)
                .map_err(|e| DataUriError::BadBase64(e.to_string()))?
        } else {
            unescaped
        };
        Ok(Self { media_type, data })
    }

    /// Refuses bytes whose recognisable signature contradicts the declared
    /// type (a "PNG" that is really a PDF, say). Types we cannot recognise
    /// from their bytes pass.
    pub fn check_declared_type(&self) -> Result<(), DataUriError> {
        let declared = self.media_type.as_str();
        let sniffed = sniff(&self.data);
        let claims_sniffable = declared == WEBP || SIGNATURES.iter().any(|(t, _)| *t == declared);
        match sniffed {
            Some(actual)
                if actual != declared && (claims_sniffable || declared.starts_with("text/")) =>
            {
                Err(DataUriError::TypeMismatch {
                    declared: declared.to_owned(),
                    actual,
                })
            }
            None if claims_sniffable => Err(DataUriError::TypeMismatch {
                declared: declared.to_owned(),
                actual: "not of that type",
            }),
            _ => Ok(()),
        }
    }
}

/// Magic numbers of the binary formats we can tell apart.
const SIGNATURES: &[(&str, &[u8])] = &[
    ("image/png", b"\x89PNG\r\n\x1a\n"),
    ("image/jpeg", b"\xff\xd8\xff"),
    ("image/gif", b"GIF8"),
    ("application/pdf", b"%PDF-"),
    ("application/zip", b"PK\x03\x04"),
];

/// WebP has no fixed prefix (`RIFF`, a length, then `WEBP`), so it is
/// recognised apart from [`SIGNATURES`].
const WEBP: &str = "image/webp";

fn sniff(data: &[u8]) -> Option<&'static str> {
    if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        return Some(WEBP);
    }
    SIGNATURES
        .iter()
        .find(|(_, magic)| data.starts_with(magic))
        .map(|(t, _)| *t)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
}

fn validate_media_type(essence: &str) -> Result<String, DataUriError> {
    match essence.split_once('/') {
        Some((ty, sub)) if is_token(ty) && is_token(sub) => Ok(essence.to_ascii_lowercase()),
        _ => Err(DataUriError::BadMediaType(essence.to_owned())),
    }
}

/// Percent-decodes, refusing a `%` not followed by two hex digits (the
/// `percent-encoding` crate passes those through, which would hide damage).
fn percent_decode_strict(input: &[u8]) -> Result<Vec<u8>, DataUriError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input
                .get(i + 1..i + 3)
                .ok_or(DataUriError::BadPercentEncoding(i))?;
            let hi = (hex[0] as char).to_digit(16);
            let lo = (hex[1] as char).to_digit(16);
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => return Err(DataUriError::BadPercentEncoding(i)),
            }
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decodes_base64_and_percent_encoded_data() {
        let uri = DataUri::parse("data:text/csv;base64,YSxiCjEsMgo=").unwrap();
        assert_eq!(uri.media_type, "text/csv");
        assert_eq!(uri.data, b"a,b\n1,2\n");

        let uri = DataUri::parse("data:,Hello%2C%20World%21").unwrap();
        assert_eq!(uri.media_type, "text/plain");
        assert_eq!(uri.data, b"Hello, World!");

        let uri = DataUri::parse("DATA:text/plain;charset=utf-8;BASE64,aGk").unwrap();
        assert_eq!(
            uri.data, b"hi",
            "missing padding and upper case are accepted"
        );
    }

    #[test]
    fn refuses_malformed_uris_with_a_reason() {
        assert_eq!(
            DataUri::parse("http://x/y.png"),
            Err(DataUriError::NotDataUri)
        );
        assert_eq!(
            DataUri::parse("data:text/plain"),
            Err(DataUriError::MissingComma)
        );
        assert!(matches!(
            DataUri::parse("data:text/plain;base64,@@@"),
            Err(DataUriError::BadBase64(_))
        ));
        assert_eq!(
            DataUri::parse("data:,50%"),
            Err(DataUriError::BadPercentEncoding(2))
        );
        assert_eq!(
            DataUri::parse("data:,%zz"),
            Err(DataUriError::BadPercentEncoding(0))
        );
        assert!(matches!(
            DataUri::parse("data:image,abc"),
            Err(DataUriError::BadMediaType(_))
        ));
        assert!(matches!(
            DataUri::parse("data:text/plain;charset,abc"),
            Err(DataUriError::BadMediaType(_))
        ));
    }

    #[test]
    fn a_declared_type_must_match_recognisable_bytes() {
        let png = DataUri {
            media_type: "image/png".into(),
            data: b"\x89PNG\r\n\x1a\nrest".to_vec(),
        };
        assert_eq!(png.check_declared_type(), Ok(()));

        let fake_png = DataUri {
            media_type: "image/png".into(),
            data: b"%PDF-1.7".to_vec(),
        };
        assert!(matches!(
            fake_png.check_declared_type(),
            Err(DataUriError::TypeMismatch {
                actual: "application/pdf",
                ..
            })
        ));

        let text_png = DataUri {
            media_type: "image/png".into(),
            data: b"just text".to_vec(),
        };
        assert!(text_png.check_declared_type().is_err());

        let csv = DataUri {
            media_type: "text/csv".into(),
            data: b"a,b".to_vec(),
        };
        assert_eq!(csv.check_declared_type(), Ok(()));
    }

    #[test]
    fn a_webp_claim_is_checked_like_the_other_recognisable_types() {
        let webp = |data: &[u8]| DataUri {
            media_type: "image/webp".into(),
            data: data.to_vec(),
        };
        assert_eq!(
            webp(b"RIFF\x1a\x00\x00\x00WEBPVP8 ").check_declared_type(),
            Ok(())
        );
        assert!(matches!(
            webp(b"hello world").check_declared_type(),
            Err(DataUriError::TypeMismatch {
                actual: "not of that type",
                ..
            })
        ));
        assert!(matches!(
            webp(b"\x89PNG\r\n\x1a\n").check_declared_type(),
            Err(DataUriError::TypeMismatch {
                actual: "image/png",
                ..
            })
        ));
    }

    proptest! {
        #[test]
        fn any_bytes_survive_a_base64_round_trip(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
            let uri = DataUri::parse(&format!("data:application/octet-stream;base64,{encoded}")).unwrap();
            prop_assert_eq!(uri.data, data);
        }

        #[test]
        fn any_bytes_survive_a_percent_encoding_round_trip(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let encoded = percent_encoding::percent_encode(&data, percent_encoding::NON_ALPHANUMERIC).to_string();
            let uri = DataUri::parse(&format!("data:application/octet-stream,{encoded}")).unwrap();
            prop_assert_eq!(uri.data, data);
        }

        #[test]
        fn the_decoder_never_panics(input in ".{0,300}") {
            let _ = DataUri::parse(&input);
            let _ = DataUri::parse(&format!("data:{input}"));
        }
    }
}
