//! Gzip, both ways: chunks Fluent Bit compresses (`compress gzip`), and
//! Firehose records this proxy compresses (`firehose.gzip`).

use std::io::{Read, Write};

/// The decompressed body would exceed the limit (a gzip bomb, or just too big).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub limit: usize,
}

/// One gzip member at the fast level: records are compressed on the
/// delivery path, where CPU counts more than a few percent of size.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Decompresses every member (Fluent Bit may send several), reading at most
/// `limit` bytes of output. Corrupt gzip is not an error: it comes back as
/// `Ok(None)` so the caller can dead-letter the raw bytes.
pub fn decompress_limited(body: &[u8], limit: usize) -> Result<Option<Vec<u8>>, TooLarge> {
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(body).take(limit as u64 + 1);
    match reader.read_to_end(&mut out) {
        Ok(_) if out.len() > limit => Err(TooLarge { limit }),
        Ok(_) => Ok(Some(out)),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_member_limits_and_corruption() {
        let mut body = compress(b"{\"log\":\"a\"}\n");
        body.extend(compress(b"{\"log\":\"b\"}\n"));
        assert_eq!(
            decompress_limited(&body, 1 << 20).unwrap().unwrap(),
            b"{\"log\":\"a\"}\n{\"log\":\"b\"}\n"
        );
        // A bomb: 64 MiB of zeros is a few KiB compressed; refused at the limit.
        let bomb = compress(&vec![0u8; 64 << 20]);
        assert!(bomb.len() < 1 << 20);
        assert_eq!(decompress_limited(&bomb, 8 << 20), Err(TooLarge { limit: 8 << 20 }));
        // Exactly at the limit is fine.
        assert_eq!(
            decompress_limited(&compress(&[b'x'; 100]), 100).unwrap().unwrap().len(),
            100
        );
        // Corrupt: the caller dead-letters the raw body.
        assert_eq!(decompress_limited(b"\x1f\x8bnot gzip at all", 1 << 20), Ok(None));
    }
}
