//! A chunk's body, from the request's headers and bytes to what is decoded:
//! the Content-Encoding undone (bounded), the format taken from the
//! Content-Type or sniffed.

use super::decode::{Decoded, Format, ParseFields, decode};
use crate::gzip::{TooLarge, decompress_limited};
use std::borrow::Cow;

#[derive(Debug)]
pub enum Body<'a> {
    /// Plain bytes of a known format.
    Plain { bytes: Cow<'a, [u8]>, format: Format },
    /// Bytes that could not be decoded (corrupt gzip, unknown encoding):
    /// all of it is a dead letter.
    Undecodable { raw: &'a [u8], why: &'static str },
}

impl<'a> Body<'a> {
    /// `raw` as received, with its `Content-Encoding` and `Content-Type`
    /// headers. Only a body decompressing past `max_decoded` is refused.
    pub fn read(
        raw: &'a [u8],
        content_encoding: Option<&str>,
        content_type: Option<&str>,
        max_decoded: usize,
    ) -> Result<Self, TooLarge> {
        let encoding = content_encoding.map(|e| e.trim().to_ascii_lowercase());
        let bytes = match encoding.as_deref() {
            None | Some("" | "identity") => Cow::Borrowed(raw),
            Some("gzip" | "x-gzip") => match decompress_limited(raw, max_decoded)? {
                Some(plain) => Cow::Owned(plain),
                None => {
                    return Ok(Self::Undecodable {
                        raw,
                        why: "the body does not decompress as gzip",
                    });
                }
            },
            Some(_) => {
                return Ok(Self::Undecodable {
                    raw,
                    why: "unsupported Content-Encoding",
                });
            }
        };
        let format = content_type
            .and_then(Format::from_content_type)
            .unwrap_or_else(|| Format::sniff(&bytes));
        Ok(Self::Plain { bytes, format })
    }

    /// The bytes the chunk is: decoded, or as received if they could not be.
    /// A retry of the chunk has the same; compression details cannot change them.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Self::Plain { bytes, .. } => bytes,
            Self::Undecodable { raw, .. } => raw,
        }
    }

    /// The records, or why there are none to read.
    pub fn records(&self, date_key: &str, parse_fields: &ParseFields<'_>) -> Result<Decoded, &'static str> {
        match self {
            Self::Plain { bytes, format } => Ok(decode(bytes, *format, date_key, parse_fields)),
            Self::Undecodable { why, .. } => Err(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_and_type_from_the_headers() {
        let gz = crate::gzip::compress(b"{\"log\":\"a\"}\n");
        let b = Body::read(&gz, Some(" GZIP "), None, 1 << 20).unwrap();
        assert!(
            matches!(
                &b,
                Body::Plain {
                    format: Format::JsonLines,
                    ..
                }
            ),
            "sniffed: {b:?}"
        );
        assert_eq!(b.bytes(), b"{\"log\":\"a\"}\n");
        let b = Body::read(b"[{}]", Some("identity"), Some("application/x-ndjson"), 10).unwrap();
        assert!(
            matches!(
                b,
                Body::Plain {
                    format: Format::JsonLines,
                    ..
                }
            ),
            "the header wins"
        );
        for (encoding, raw) in [(Some("br"), &b"xx"[..]), (Some("gzip"), b"\x1f\x8bjunk")] {
            let b = Body::read(raw, encoding, None, 1 << 20).unwrap();
            assert!(matches!(b, Body::Undecodable { .. }), "{encoding:?}");
            assert_eq!(b.bytes(), raw, "kept as received, for the dead letter");
            assert!(b.records("date", &ParseFields::Always).is_err());
        }
        let bomb = crate::gzip::compress(&vec![0u8; 1 << 20]);
        assert_eq!(
            Body::read(&bomb, Some("gzip"), None, 1000).unwrap_err(),
            TooLarge { limit: 1000 }
        );
    }
}
