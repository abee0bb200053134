//! Compressed responses made once per file: bundles are immutable, so a
//! file's gzip and brotli forms are computed on first request (off the
//! async threads) and kept beside it, instead of compressing every
//! response as it goes out.

use std::io::Write;

use axum::http::{HeaderMap, HeaderValue, header};
use bytes::Bytes;
use tower_http::compression::{
    Predicate,
    predicate::{And, NotForContentType, SizeAbove},
};

/// Smaller bodies gain too little to be worth a `Content-Encoding`.
pub const MIN_SIZE: usize = 1024;

/// [`compressible`]'s type, named so that the layer stack's can be.
pub type Compressible = And<
    And<
        And<And<And<SizeAbove, NotForContentType>, NotForContentType>, NotForContentType>,
        NotForContentType,
    >,
    NotForContentType,
>;

/// What both origins' compression layer compresses as it goes out: bodies
/// larger than [`MIN_SIZE`], except what is compressed already (images, woff
/// fonts, git's objects) or must stream unbuffered (SSE, gRPC).
pub fn compressible() -> Compressible {
    SizeAbove::new(MIN_SIZE as u16)
        .and(NotForContentType::IMAGES)
        .and(NotForContentType::const_new("font/woff"))
        .and(NotForContentType::const_new("application/x-git"))
        .and(NotForContentType::SSE)
        .and(NotForContentType::GRPC)
}

/// The content codings offered, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    Brotli,
    Gzip,
}

impl Coding {
    pub fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::Brotli => "br",
            Self::Gzip => "gzip",
        })
    }

    /// `bytes` in this coding (blocking, CPU-bound).
    pub fn encode(self, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        match self {
            Self::Brotli => {
                let mut out = Vec::with_capacity(bytes.len() / 3);
                // Quality 9 of 11: nearly the smallest output, at a small
                // fraction of the time of 11; paid once per file.
                let params = brotli::enc::BrotliEncoderParams {
                    quality: 9,
                    lgwin: 22,
                    ..Default::default()
                };
                brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
                Ok(out)
            }
            Self::Gzip => {
                let mut encoder = flate2::write::GzEncoder::new(
                    Vec::with_capacity(bytes.len() / 3),
                    flate2::Compression::best(),
                );
                encoder.write_all(bytes)?;
                encoder.finish()
            }
        }
    }
}

/// The best coding the request accepts (`Accept-Encoding`, honouring
/// `q=0`), if any.
pub fn preferred(headers: &HeaderMap) -> Option<Coding> {
    let accept = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    let mut brotli = false;
    let mut gzip = false;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if refused {
            continue;
        }
        if name.eq_ignore_ascii_case("br") {
            brotli = true;
        } else if name.eq_ignore_ascii_case("gzip") || name == "*" {
            gzip = true;
        }
    }
    match (brotli, gzip) {
        (true, _) => Some(Coding::Brotli),
        (false, true) => Some(Coding::Gzip),
        _ => None,
    }
}

/// `bytes` encoded, or `None` when that is not smaller.
pub fn smaller(coding: Coding, bytes: &Bytes) -> Option<Bytes> {
    match coding.encode(bytes) {
        Ok(encoded) if encoded.len() < bytes.len() => Some(Bytes::from(encoded)),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "could not compress a file; sending it as is");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn brotli_is_preferred_and_q_zero_refuses() {
        assert_eq!(
            preferred(&accept("gzip, deflate, br, zstd")),
            Some(Coding::Brotli)
        );
        assert_eq!(preferred(&accept("gzip")), Some(Coding::Gzip));
        assert_eq!(preferred(&accept("br;q=0, gzip;q=0.5")), Some(Coding::Gzip));
        assert_eq!(preferred(&accept("*")), Some(Coding::Gzip));
        assert_eq!(preferred(&accept("identity")), None);
        assert_eq!(preferred(&accept("gzip;q=0")), None);
        assert_eq!(preferred(&HeaderMap::new()), None);
    }

    #[test]
    fn encodings_round_trip() {
        let text = Bytes::from("hello preview ".repeat(200));
        let gz = smaller(Coding::Gzip, &text).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back)
            .unwrap();
        assert_eq!(back, text);
        let br = smaller(Coding::Brotli, &text).unwrap();
        let mut back = Vec::new();
        brotli::BrotliDecompress(&mut &br[..], &mut back).unwrap();
        assert_eq!(back, text);
        // Incompressible input is left alone.
        assert_eq!(smaller(Coding::Gzip, &Bytes::from_static(b"x")), None);
    }
}
