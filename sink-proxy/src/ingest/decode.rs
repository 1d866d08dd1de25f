//! Bodies of Fluent Bit's `http` output (`json_lines`, `json`, `json_stream`,
//! `msgpack`; plain or gzip) into records.
//!
//! Decoding never fails a delivery: Fluent Bit drops a chunk for good on a
//! 4xx, so records that cannot be read are returned as [`BadRecord`]s for the
//! dead-letter path, and the good ones around them are kept. Only a body over
//! the size limits is refused (the caller answers 413).

use firelens_filter::{Class, Classifier, Memo};
use serde_json::Value;

/// One record, as the JSON object Fluent Bit sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The record as one JSON line, without the newline: its own bytes when
    /// it came as one, archived as they came.
    pub line: Vec<u8>,
    /// The line may carry the error mark (see [`ParseFields`]): the plan
    /// reads its fields ([`crate::fields::Fields`], which checks it whole).
    /// Any other line is only checked to be one JSON object.
    pub may_be_marked: bool,
    /// The msgpack event time, in milliseconds since the epoch. A JSON
    /// line's time is its date key, read by the plan when it needs it.
    pub timestamp_ms: Option<i64>,
}

/// Bytes that could not be read as a record, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub raw: Vec<u8>,
    pub error: String,
}

#[derive(Debug, Default, PartialEq)]
pub struct Decoded {
    pub records: Vec<Record>,
    pub bad: Vec<BadRecord>,
    /// Health checks dropped by [`ParseFields::Classify`].
    pub health_checks: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`application/x-ndjson`): the shipped setting.
    JsonLines,
    /// A JSON array of objects, or concatenated objects (`application/json`).
    Json,
    /// Fluent Bit's msgpack events (`application/msgpack`).
    Msgpack,
}

impl Format {
    /// From the Content-Type header; `None` for an unknown type (then sniffed).
    pub fn from_content_type(ct: &str) -> Option<Self> {
        let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match mime.as_str() {
            "application/x-ndjson" | "application/jsonlines" | "application/x-jsonlines" => Some(Self::JsonLines),
            "application/json" => Some(Self::Json),
            "application/msgpack" | "application/x-msgpack" => Some(Self::Msgpack),
            _ => None,
        }
    }

    /// A guess from the first byte, for a missing or unknown Content-Type.
    pub fn sniff(body: &[u8]) -> Self {
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'[') => Self::Json,
            Some(b'{') => Self::JsonLines,
            _ => Self::Msgpack,
        }
    }
}

/// Which records' fields are read ([`Record::may_be_marked`]). Reading
/// fields costs; a line that is only archived needs to be checked (a JSON
/// object, UTF-8), not read.
#[derive(Debug, Clone)]
pub enum ParseFields<'a> {
    Always,
    Never,
    /// Only lines holding this key, quoted (`"log_class"`): a line without
    /// those bytes cannot carry the mark.
    IfKeyPresent(String),
    /// The proxy classifies each record with the filter module's rules, as
    /// the module would have in Fluent Bit: health checks are dropped
    /// (counted in [`Decoded::health_checks`]), errors get the mark and
    /// their fields are read, the rest is archived as it is.
    Classify(&'a Classifier),
}

/// Decodes a (decompressed) body. `date_key` is Fluent Bit's `json_date_key`.
pub fn decode(body: &[u8], format: Format, date_key: &str, parse_fields: &ParseFields<'_>) -> Decoded {
    // Room for the records of a chunk of FireLens lines (a few hundred
    // bytes each) from the start, instead of growing by copying.
    let mut out = Decoded {
        records: Vec::with_capacity(body.len() / 256),
        ..Decoded::default()
    };
    let mut lines = Lines::new(date_key, parse_fields);
    match format {
        Format::JsonLines => decode_json_lines(body, &mut lines, &mut out),
        Format::Json => decode_json(body, &mut lines, &mut out),
        Format::Msgpack => decode_msgpack(body, &mut lines, &mut out),
    }
    out
}

/// Turns each record's JSON line into a [`Record`], as [`ParseFields`] says.
struct Lines<'a> {
    date_key: &'a str,
    reading: &'a ParseFields<'a>,
    finder: Option<memchr::memmem::Finder<'static>>,
    /// The classifier's reusable state.
    memo: Memo,
    scratch: Vec<u8>,
    marked: Vec<u8>,
}

impl<'a> Lines<'a> {
    fn new(date_key: &'a str, reading: &'a ParseFields<'a>) -> Self {
        let finder = match reading {
            ParseFields::IfKeyPresent(k) => {
                Some(memchr::memmem::Finder::new(format!("\"{k}\"").as_bytes()).into_owned())
            }
            _ => None,
        };
        Self {
            date_key,
            reading,
            finder,
            memo: Memo::new(),
            scratch: Vec::new(),
            marked: Vec::new(),
        }
    }

    /// Whether a line's fields are read, unless it is classified.
    fn needs_fields(&self, line: &[u8]) -> bool {
        match self.reading {
            ParseFields::Always => true,
            ParseFields::Never | ParseFields::Classify(_) => false,
            ParseFields::IfKeyPresent(_) => self.finder.as_ref().is_some_and(|f| f.find(line).is_some()),
        }
    }

    /// A record whose line is known to be one JSON object.
    fn object_line(&mut self, line: Vec<u8>, timestamp_ms: Option<i64>, out: &mut Decoded) {
        let ParseFields::Classify(classifier) = self.reading else {
            let may_be_marked = self.needs_fields(&line);
            out.records.push(Record {
                line,
                may_be_marked,
                timestamp_ms,
            });
            return;
        };
        let decision = classifier.decide_with(&line, &mut self.memo, &mut self.scratch, &mut self.marked);
        let record = match decision {
            Ok(d) if d.class == Class::Health => {
                out.health_checks += 1;
                return;
            }
            // The marked answer is moved out, not copied; the next record's
            // answer gets a buffer of its own.
            Ok(d) if d.class == Class::Error && d.rewritten => Record {
                line: std::mem::take(&mut self.marked),
                may_be_marked: true,
                timestamp_ms,
            },
            Ok(d) => Record {
                line,
                may_be_marked: d.class == Class::Error,
                timestamp_ms,
            },
            // The classifier's buffer could not grow: kept as it is.
            Err(_) => Record {
                line,
                may_be_marked: false,
                timestamp_ms,
            },
        };
        out.records.push(record);
    }

    /// A record read as a value (a JSON array's item, a stream's object).
    fn value(&mut self, v: Value, out: &mut Decoded) {
        match v {
            Value::Object(map) => self.object_line(crate::route::firehose_line(&map), None, out),
            other => out
                .bad
                .push(bad(other.to_string().as_bytes(), "not a JSON object".into())),
        }
    }
}

fn decode_json_lines(body: &[u8], lines: &mut Lines<'_>, out: &mut Decoded) {
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The usual case, one object per line, keeps its bytes. A line with
        // several objects (json_stream) or an error goes the general way.
        let line = line.trim_ascii();
        if line.first() == Some(&b'{')
            && std::str::from_utf8(line).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
        {
            lines.object_line(line.to_vec(), None, out);
            continue;
        }
        decode_json(line, lines, out);
    }
}

fn decode_json(body: &[u8], lines: &mut Lines<'_>, out: &mut Decoded) {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'[') {
        match serde_json::from_slice::<Vec<Value>>(trimmed) {
            Ok(items) => items.into_iter().for_each(|v| lines.value(v, out)),
            Err(e) => out.bad.push(bad(trimmed, format!("invalid JSON array: {e}"))),
        }
        return;
    }
    let mut stream = serde_json::Deserializer::from_slice(trimmed).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => lines.value(v, out),
            Some(Err(e)) => {
                // No way to resynchronise inside a stream: the rest is one bad record.
                out.bad
                    .push(bad(trimmed[start..].trim_ascii_start(), format!("invalid JSON: {e}")));
                break;
            }
        }
    }
}

fn bad(raw: &[u8], error: String) -> BadRecord {
    BadRecord {
        raw: raw.to_vec(),
        error,
    }
}

/// Fluent Bit's msgpack events, each written as its JSON line (see
/// `msgpack.rs`): the same records as `json_lines` would give.
fn decode_msgpack(body: &[u8], lines: &mut Lines<'_>, out: &mut Decoded) {
    let mut rest = body;
    let mut repeats = super::msgpack::Repeats::default();
    while !rest.is_empty() {
        let before = rest;
        match super::msgpack::next_event(&mut rest, lines.date_key, &mut repeats) {
            Ok(event) => lines.object_line(event.line, event.time_ms, out),
            Err(e @ super::msgpack::EventError::NotAnEvent) => {
                out.bad.push(bad(&before[..before.len() - rest.len()], e.to_string()));
            }
            Err(e) => {
                out.bad.push(bad(before, e.to_string()));
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    fn map(r: &Record) -> Map<String, Value> {
        serde_json::from_slice(&r.line).unwrap()
    }

    #[test]
    fn json_lines_keep_good_records_around_bad_ones() {
        let body =
            b"{\"date\":1795532400.5,\"log\":\"a\"}\n{\"log\":\"b\"\n\n[1]\r\n{\"date\":1795532401.25,\"log\":\"c\"}\n";
        let d = decode(body, Format::JsonLines, "date", &ParseFields::Always);
        let logs: Vec<String> = d
            .records
            .iter()
            .map(|r| map(r)["log"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(logs, ["a", "c"]);
        assert!(d.records.iter().all(|r| r.may_be_marked && r.timestamp_ms.is_none()));
        assert_eq!(d.records[0].line, br#"{"date":1795532400.5,"log":"a"}"#);
        assert_eq!(d.bad.len(), 2);
        assert_eq!(d.bad[0].raw, b"{\"log\":\"b\"");
        assert!(d.bad[0].error.contains("invalid JSON"));
        assert_eq!(d.bad[1].error, "not a JSON object");
    }

    #[test]
    fn lines_nobody_needs_the_fields_of_are_checked_not_read() {
        let body = b"{\"log\":\"a\"}\n{\"log\":\"b\",\"log_class\":\"error\",\"date\":2}\n{\"log\":\"\xff\"}\n{\"log\":\n[1]\n";
        let d = decode(
            body,
            Format::JsonLines,
            "date",
            &ParseFields::IfKeyPresent("log_class".into()),
        );
        assert_eq!(d.records.len(), 2);
        assert_eq!(
            d.records[0],
            Record {
                line: br#"{"log":"a"}"#.to_vec(),
                may_be_marked: false,
                timestamp_ms: None
            },
            "no mark key: not read"
        );
        assert!(d.records[1].may_be_marked, "may be marked: read by the plan");
        assert_eq!(
            d.bad.len(),
            3,
            "invalid UTF-8, truncated JSON and a non-object are still caught"
        );
        let never = decode(body, Format::JsonLines, "date", &ParseFields::Never);
        assert!(never.records.iter().all(|r| !r.may_be_marked));
        assert_eq!(never.bad.len(), 3);
    }

    #[test]
    fn json_array_and_stream() {
        let d = decode(
            br#"[{"log":"a","date":1},{"log":"b"}, 5]"#,
            Format::Json,
            "date",
            &ParseFields::Always,
        );
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[0].line, br#"{"log":"a","date":1}"#);
        assert_eq!(d.bad.len(), 1);
        let d = decode(
            br#"{"log":"a"}{"log":"b"} {"log":"c"}"#,
            Format::Json,
            "date",
            &ParseFields::Always,
        );
        assert_eq!(d.records.len(), 3);
        let d = decode(br#"[{"log":"a"}, {"log":"#, Format::Json, "date", &ParseFields::Always);
        assert!(d.records.is_empty());
        assert_eq!(d.bad.len(), 1, "a broken array is one bad record, not lost");
        let d = decode(br#"{"log":"a"} {"log":"b"#, Format::Json, "date", &ParseFields::Always);
        assert_eq!((d.records.len(), d.bad.len()), (1, 1));
        assert_eq!(d.bad[0].raw, br#"{"log":"b"#);
    }

    #[test]
    fn invalid_utf8_in_json_is_a_bad_record_not_a_failure() {
        let d = decode(
            b"{\"log\":\"\xff\"}\n{\"log\":\"ok\"}",
            Format::JsonLines,
            "date",
            &ParseFields::Always,
        );
        assert_eq!((d.records.len(), d.bad.len()), (1, 1));
    }

    #[test]
    fn msgpack_v1_and_v2_events() {
        use rmpv::Value as M;
        let body_map = M::Map(vec![(M::from("log"), M::from("ERROR x")), (M::from("n"), M::from(7))]);
        let event_time = M::Ext(0, [0x6b, 0x05, 0x7a, 0xf0, 0x1d, 0xcd, 0x65, 0x00].to_vec());
        let v2 = M::Array(vec![M::Array(vec![event_time, M::Map(vec![])]), body_map.clone()]);
        let v1 = M::Array(vec![M::from(1_795_532_400), body_map.clone()]);
        let mut buf = Vec::new();
        for v in [&v2, &v1, &M::from("junk")] {
            rmpv::encode::write_value(&mut buf, v).unwrap();
        }
        buf.extend_from_slice(&[0xc1]); // never used in msgpack
        let d = decode(&buf, Format::Msgpack, "date", &ParseFields::Always);
        assert_eq!(d.records.len(), 2);
        // The line json_lines would give: the time as `date` first.
        assert_eq!(
            Some(&map(&d.records[0])),
            json!({"date": 1795521264.5, "log": "ERROR x", "n": 7}).as_object()
        );
        assert_eq!(d.records[1].line, br#"{"date":1795532400.0,"log":"ERROR x","n":7}"#);
        assert_eq!(d.records[0].timestamp_ms, Some(0x6b05_7af0_i64 * 1000 + 500));
        assert_eq!(d.records[1].timestamp_ms, Some(1_795_532_400_000));
        assert_eq!(d.bad.len(), 2);
    }

    /// The proxy classifies as the module would: health checks dropped and
    /// counted, errors marked (and read, for CloudWatch), the rest kept
    /// byte for byte; the same from json_lines and from msgpack.
    #[test]
    fn classify_drops_health_checks_and_marks_errors() {
        use rmpv::Value as M;
        let logs = [
            r#"10.0.0.1 - - [30/Nov/2026:07:00:00 +0000] "GET /health HTTP/1.1" 200 2 "-" "ELB-HealthChecker/2.0""#,
            "ERROR payment failed",
            "GET /items 200",
        ];
        let classifier = Classifier::builtin();
        let reading = ParseFields::Classify(&classifier);
        let mut json_lines = String::new();
        let mut msgpack = Vec::new();
        for log in logs {
            json_lines.push_str(&json!({"date": 1795532400.5, "log": log}).to_string());
            json_lines.push('\n');
            let event = M::Array(vec![
                M::Array(vec![M::F64(1795532400.5), M::Map(vec![])]),
                M::Map(vec![(M::from("log"), M::from(log))]),
            ]);
            rmpv::encode::write_value(&mut msgpack, &event).unwrap();
        }
        for (body, format) in [
            (json_lines.as_bytes(), Format::JsonLines),
            (&msgpack[..], Format::Msgpack),
        ] {
            let d = decode(body, format, "date", &reading);
            assert_eq!((d.health_checks, d.records.len(), d.bad.len()), (1, 2, 0), "{format:?}");
            assert!(d.records[0].may_be_marked, "an error's fields are read");
            let error = map(&d.records[0]);
            assert_eq!(error["log_class"], "error");
            assert_eq!(error["log"], logs[1]);
            assert_eq!(
                (&d.records[1].line[..], d.records[1].may_be_marked),
                (&br#"{"date":1795532400.5,"log":"GET /items 200"}"#[..], false),
                "{format:?}"
            );
        }
    }

    #[test]
    fn format_from_content_type_and_sniffing() {
        assert_eq!(
            Format::from_content_type("application/x-ndjson"),
            Some(Format::JsonLines)
        );
        assert_eq!(
            Format::from_content_type("Application/JSON; charset=utf-8"),
            Some(Format::Json)
        );
        assert_eq!(Format::from_content_type("application/msgpack"), Some(Format::Msgpack));
        assert_eq!(Format::from_content_type("text/plain"), None);
        assert_eq!(Format::sniff(b"  [{}]"), Format::Json);
        assert_eq!(Format::sniff(b"{}\n{}"), Format::JsonLines);
        assert_eq!(Format::sniff(&[0x92, 0x01]), Format::Msgpack);
    }
}
