//! Dead letters: what the proxy received but cannot deliver as a record.
//!
//! Each becomes a JSON line for the dead-letter Firehose stream (S3), never a
//! silent drop: `{"sink_proxy_error": why, "tag": …, "raw": the bytes}`, with
//! `raw_base64` instead of `raw` when the bytes are not UTF-8. A line too big
//! for one Firehose record is cut into ordered parts (`part`, `parts`) that
//! concatenate back to the original.

use base64::Engine;
use serde_json::{Map, Value};

/// Raw bytes per part: JSON escaping can make a byte six (`\u0000`) and base64
/// makes three bytes four, so a part's line stays far under a 1,000 KiB record.
pub const PART_BYTES: usize = 128 * 1024;

/// Why something became a dead letter (also the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// A record that does not parse, or is not an object.
    Unparseable,
    /// A body whose Content-Encoding cannot be decoded.
    Undecodable,
    /// A record whose line is over the Firehose record limit.
    Oversized,
    /// A CloudWatch event that waited in the spool until it was outside what
    /// CloudWatch Logs accepts (14 days back, 2 hours ahead).
    Expired,
}

impl Reason {
    pub const ALL: [Reason; 4] = [Self::Unparseable, Self::Undecodable, Self::Oversized, Self::Expired];

    pub fn name(self) -> &'static str {
        match self {
            Self::Unparseable => "unparseable",
            Self::Undecodable => "undecodable",
            Self::Oversized => "oversized",
            Self::Expired => "expired",
        }
    }
}

/// The dead-letter lines (without newline) for `raw`, in order: one line, or
/// several parts when `raw` is larger than [`PART_BYTES`].
pub fn lines(reason: Reason, error: &str, tag: &str, raw: &[u8]) -> Vec<Vec<u8>> {
    let text = std::str::from_utf8(raw).ok();
    let pieces: Vec<&[u8]> = match text {
        // Cut text at character boundaries so every part is valid UTF-8.
        Some(t) => split_str(t, PART_BYTES).into_iter().map(str::as_bytes).collect(),
        None => raw.chunks(PART_BYTES).collect(),
    };
    // Empty input still leaves a line: something arrived and was not a record.
    let pieces = if pieces.is_empty() { vec![&b""[..]] } else { pieces };
    let parts = pieces.len();
    let mut out = Vec::with_capacity(parts);
    for (i, piece) in pieces.iter().enumerate() {
        let mut m = Map::new();
        m.insert(
            "sink_proxy_error".into(),
            Value::from(format!("{}: {error}", reason.name())),
        );
        m.insert("tag".into(), Value::from(tag));
        if parts > 1 {
            m.insert("part".into(), Value::from(i + 1));
            m.insert("parts".into(), Value::from(parts));
        }
        match std::str::from_utf8(piece) {
            Ok(s) if text.is_some() => m.insert("raw".into(), Value::from(s)),
            _ => m.insert(
                "raw_base64".into(),
                Value::from(base64::engine::general_purpose::STANDARD.encode(piece)),
            ),
        };
        out.push(Value::Object(m).to_string().into_bytes());
    }
    out
}

fn split_str(s: &str, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        let mut cut = max.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (a, b) = rest.split_at(cut);
        out.push(a);
        rest = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> Map<String, Value> {
        serde_json::from_slice::<Value>(line)
            .unwrap()
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn a_bad_record_is_kept_with_its_reason_and_tag() {
        let l = lines(
            Reason::Unparseable,
            "invalid JSON: EOF",
            "web-firelens-1",
            br#"{"log":"x"#,
        );
        assert_eq!(l.len(), 1);
        let m = parse(&l[0]);
        assert_eq!(m["sink_proxy_error"], "unparseable: invalid JSON: EOF");
        assert_eq!(m["tag"], "web-firelens-1");
        assert_eq!(m["raw"], r#"{"log":"x"#);
        assert!(!m.contains_key("part"));
    }

    #[test]
    fn invalid_utf8_is_kept_as_base64() {
        let raw = b"\xff\xfe{\"log\":1}";
        let m = parse(&lines(Reason::Undecodable, "e", "t", raw)[0]);
        let back = base64::engine::general_purpose::STANDARD
            .decode(m["raw_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(back, raw);
        assert!(!m.contains_key("raw"));
    }

    #[test]
    fn big_input_is_cut_into_parts_that_join_back() {
        let raw = format!(
            "{}\u{1F600}{}",
            "a".repeat(PART_BYTES - 1),
            "\u{30a8}".repeat(PART_BYTES)
        );
        let l = lines(Reason::Oversized, "too big", "t", raw.as_bytes());
        assert_eq!(l.len(), 5);
        let mut joined = String::new();
        for (i, line) in l.iter().enumerate() {
            assert!(line.len() < crate::firehose::batch::MAX_RECORD_BYTES);
            let m = parse(line);
            assert_eq!((m["part"].as_u64(), m["parts"].as_u64()), (Some(i as u64 + 1), Some(5)));
            joined.push_str(m["raw"].as_str().unwrap());
        }
        assert_eq!(joined, raw);
        // Binary input worst case: every part's line still fits a record.
        let bin = vec![0xffu8; 3 * PART_BYTES];
        for line in lines(Reason::Undecodable, "e", "t", &bin) {
            assert!(line.len() < crate::firehose::batch::MAX_RECORD_BYTES / 4);
        }
        // Worst-case escaping for text (control bytes are six bytes each).
        for line in lines(Reason::Oversized, "e", "t", &vec![0u8; 2 * PART_BYTES]) {
            assert!(line.len() < crate::firehose::batch::MAX_RECORD_BYTES);
        }
    }

    #[test]
    fn empty_input_still_leaves_a_line() {
        let l = lines(Reason::Unparseable, "empty", "t", b"");
        assert_eq!(l.len(), 1);
        assert_eq!(parse(&l[0])["raw"], "");
    }
}
