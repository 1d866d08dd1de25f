//! Bodies of Fluent Bit's `http` output (`json_lines`, `json`, `json_stream`,
//! `msgpack`; plain or gzip) into records.
//!
//! Decoding never fails a delivery: Fluent Bit drops a chunk for good on a
//! 4xx, so records that cannot be read are returned as [`BadRecord`]s for the
//! dead-letter path, and the good ones around them are kept. Only a body over
//! the size limits is refused (the caller answers 413).

use serde_json::{Map, Value};

/// One record, as the JSON object Fluent Bit sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub fields: Fields,
    /// From the date key (`json_date_key`, default `date`, seconds as a
    /// double) or the msgpack event time, in milliseconds since the epoch.
    pub timestamp_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fields {
    /// `raw`: the record's own bytes when it arrived as one JSON line,
    /// archived as they came, not re-serialised.
    Parsed {
        map: Map<String, Value>,
        raw: Option<Vec<u8>>,
    },
    /// A JSON line nobody needs the fields of (see [`ParseFields`]): checked to
    /// be a JSON object, not parsed, archived as it came.
    Unparsed { raw: Vec<u8> },
}

impl Fields {
    /// The fields, if they were parsed.
    pub fn map(&self) -> Option<&Map<String, Value>> {
        match self {
            Self::Parsed { map, .. } => Some(map),
            Self::Unparsed { .. } => None,
        }
    }

    /// The record as one JSON line: its own bytes if it came as one.
    pub fn into_line(self) -> Vec<u8> {
        match self {
            Self::Parsed { raw: Some(raw), .. } | Self::Unparsed { raw } => raw,
            Self::Parsed { map, raw: None } => crate::route::firehose_line(&map),
        }
    }
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

/// Which JSON lines need their fields parsed. Parsing every record into a
/// map is most of the cost of a chunk; a line that is only archived needs to
/// be checked (a JSON object, UTF-8), not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseFields {
    Always,
    Never,
    /// Only lines holding this key, quoted (`"log_class"`): a line without
    /// those bytes cannot carry the mark.
    IfKeyPresent(String),
}

/// Decodes a (decompressed) body. `date_key` is Fluent Bit's `json_date_key`.
pub fn decode(body: &[u8], format: Format, date_key: &str, parse_fields: &ParseFields) -> Decoded {
    let mut out = Decoded::default();
    match format {
        Format::JsonLines => decode_json_lines(body, date_key, parse_fields, &mut out),
        Format::Json => decode_json(body, date_key, &mut out),
        Format::Msgpack => decode_msgpack(body, &mut out),
    }
    out
}

fn decode_json_lines(body: &[u8], date_key: &str, parse_fields: &ParseFields, out: &mut Decoded) {
    let quoted_key = match parse_fields {
        ParseFields::IfKeyPresent(k) => Some(format!("\"{k}\"")),
        _ => None,
    };
    let finder = quoted_key.as_deref().map(memchr::memmem::Finder::new);
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        // The usual case, one object per line, keeps its bytes. A line with
        // several objects (json_stream) or an error goes the general way.
        let line = line.trim_ascii();
        let needs_fields = match (parse_fields, &finder) {
            (ParseFields::Always, _) => true,
            (ParseFields::Never, _) => false,
            (_, Some(f)) => f.find(line).is_some(),
            (_, None) => true,
        };
        if !needs_fields
            && line.first() == Some(&b'{')
            && std::str::from_utf8(line).is_ok()
            && serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
        {
            out.records.push(Record {
                fields: Fields::Unparsed { raw: line.to_vec() },
                timestamp_ms: None,
            });
            continue;
        }
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(line) {
            let timestamp_ms = map.get(date_key).and_then(seconds_to_ms);
            out.records.push(Record {
                fields: Fields::Parsed {
                    map,
                    raw: Some(line.to_vec()),
                },
                timestamp_ms,
            });
            continue;
        }
        decode_json(line, date_key, out);
    }
}

fn decode_json(body: &[u8], date_key: &str, out: &mut Decoded) {
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'[') {
        match serde_json::from_slice::<Vec<Value>>(trimmed) {
            Ok(items) => items.into_iter().for_each(|v| push_value(v, date_key, None, out)),
            Err(e) => out.bad.push(bad(trimmed, format!("invalid JSON array: {e}"))),
        }
        return;
    }
    let mut stream = serde_json::Deserializer::from_slice(trimmed).into_iter::<Value>();
    loop {
        let start = stream.byte_offset();
        match stream.next() {
            None => break,
            Some(Ok(v)) => push_value(v, date_key, None, out),
            Some(Err(e)) => {
                // No way to resynchronise inside a stream: the rest is one bad record.
                out.bad
                    .push(bad(trimmed[start..].trim_ascii_start(), format!("invalid JSON: {e}")));
                break;
            }
        }
    }
}

fn push_value(v: Value, date_key: &str, time_ms: Option<i64>, out: &mut Decoded) {
    match v {
        Value::Object(map) => {
            let timestamp_ms = time_ms.or_else(|| map.get(date_key).and_then(seconds_to_ms));
            out.records.push(Record {
                fields: Fields::Parsed { map, raw: None },
                timestamp_ms,
            });
        }
        other => out
            .bad
            .push(bad(other.to_string().as_bytes(), "not a JSON object".into())),
    }
}

/// `json_date_format double` (default) or `epoch`: seconds since the epoch.
fn seconds_to_ms(v: &Value) -> Option<i64> {
    let s = v.as_f64()?;
    (s.is_finite() && s >= 0.0).then(|| (s * 1000.0).round() as i64)
}

fn bad(raw: &[u8], error: String) -> BadRecord {
    BadRecord {
        raw: raw.to_vec(),
        error,
    }
}

/// Fluent Bit's msgpack events: `[time, body]` (v1) or `[[time, metadata], body]`
/// (v2, Fluent Bit 2.1+), `time` an integer, a float or EventTime (ext type 0:
/// big-endian u32 seconds and u32 nanoseconds).
fn decode_msgpack(body: &[u8], out: &mut Decoded) {
    let mut rest = body;
    while !rest.is_empty() {
        let before = rest;
        match rmpv::decode::read_value(&mut rest) {
            Ok(event) => match event_to_record(event) {
                Some(r) => out.records.push(r),
                None => out.bad.push(bad(
                    &before[..before.len() - rest.len()],
                    "not a Fluent Bit event".into(),
                )),
            },
            Err(e) => {
                out.bad.push(bad(before, format!("invalid msgpack: {e}")));
                break;
            }
        }
    }
}

fn event_to_record(event: rmpv::Value) -> Option<Record> {
    let rmpv::Value::Array(mut parts) = event else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let body = parts.pop()?;
    let header = parts.pop()?;
    let time = match header {
        rmpv::Value::Array(mut h) if !h.is_empty() => h.swap_remove(0),
        t => t,
    };
    let rmpv::Value::Map(entries) = body else { return None };
    let mut map = Map::new();
    for (k, v) in entries {
        map.insert(key_string(k), to_json(v));
    }
    Some(Record {
        fields: Fields::Parsed { map, raw: None },
        timestamp_ms: event_time_ms(&time),
    })
}

fn event_time_ms(t: &rmpv::Value) -> Option<i64> {
    match t {
        rmpv::Value::Ext(0, b) if b.len() == 8 => {
            let secs = u32::from_be_bytes(b[..4].try_into().ok()?);
            let nanos = u32::from_be_bytes(b[4..].try_into().ok()?);
            Some(i64::from(secs) * 1000 + i64::from(nanos) / 1_000_000)
        }
        rmpv::Value::Integer(i) => i.as_i64().map(|s| s * 1000),
        rmpv::Value::F32(f) => seconds_to_ms(&Value::from(f64::from(*f))),
        rmpv::Value::F64(f) => seconds_to_ms(&Value::from(*f)),
        _ => None,
    }
}

fn key_string(k: rmpv::Value) -> String {
    match k {
        rmpv::Value::String(s) => s.into_str().unwrap_or_else(|| "\u{FFFD}".into()),
        rmpv::Value::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        other => other.to_string(),
    }
}

/// msgpack to JSON as Fluent Bit writes it: binary and invalid UTF-8 as text.
fn to_json(v: rmpv::Value) -> Value {
    match v {
        rmpv::Value::Nil => Value::Null,
        rmpv::Value::Boolean(b) => Value::Bool(b),
        rmpv::Value::Integer(i) => i
            .as_i64()
            .map(Value::from)
            .or_else(|| i.as_u64().map(Value::from))
            .unwrap_or(Value::Null),
        rmpv::Value::F32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        rmpv::Value::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        rmpv::Value::String(s) => Value::String(match s.into_str() {
            Some(s) => s,
            None => "\u{FFFD}".into(),
        }),
        rmpv::Value::Binary(b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
        rmpv::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        rmpv::Value::Map(entries) => {
            Value::Object(entries.into_iter().map(|(k, v)| (key_string(k), to_json(v))).collect())
        }
        rmpv::Value::Ext(_, b) => Value::String(String::from_utf8_lossy(&b).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_lines_keep_good_records_around_bad_ones() {
        let body =
            b"{\"date\":1795532400.5,\"log\":\"a\"}\n{\"log\":\"b\"\n\n[1]\r\n{\"date\":1795532401.25,\"log\":\"c\"}\n";
        let d = decode(body, Format::JsonLines, "date", &ParseFields::Always);
        let logs: Vec<&str> = d
            .records
            .iter()
            .map(|r| r.fields.map().unwrap()["log"].as_str().unwrap())
            .collect();
        assert_eq!(logs, ["a", "c"]);
        assert_eq!(d.records[0].timestamp_ms, Some(1_795_532_400_500));
        assert_eq!(d.records[1].timestamp_ms, Some(1_795_532_401_250));
        assert_eq!(
            d.records[0].fields.clone().into_line(),
            br#"{"date":1795532400.5,"log":"a"}"#
        );
        assert_eq!(d.bad.len(), 2);
        assert_eq!(d.bad[0].raw, b"{\"log\":\"b\"");
        assert!(d.bad[0].error.contains("invalid JSON"));
        assert_eq!(d.bad[1].error, "not a JSON object");
    }

    #[test]
    fn lines_nobody_needs_the_fields_of_are_checked_not_parsed() {
        let body = b"{\"log\":\"a\"}\n{\"log\":\"b\",\"log_class\":\"error\",\"date\":2}\n{\"log\":\"\xff\"}\n{\"log\":\n[1]\n";
        let d = decode(
            body,
            Format::JsonLines,
            "date",
            &ParseFields::IfKeyPresent("log_class".into()),
        );
        assert_eq!(d.records.len(), 2);
        assert_eq!(
            d.records[0].fields,
            Fields::Unparsed {
                raw: br#"{"log":"a"}"#.to_vec()
            },
            "no mark key: not parsed"
        );
        assert_eq!(
            d.records[1].fields.map().unwrap()["log_class"],
            "error",
            "may be marked: parsed"
        );
        assert_eq!(d.records[1].timestamp_ms, Some(2000));
        assert_eq!(
            d.bad.len(),
            3,
            "invalid UTF-8, truncated JSON and a non-object are still caught"
        );
        let never = decode(body, Format::JsonLines, "date", &ParseFields::Never);
        assert!(never.records.iter().all(|r| r.fields.map().is_none()));
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
        assert_eq!(d.records[0].timestamp_ms, Some(1000));
        assert_eq!(d.records[1].timestamp_ms, None);
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
        assert_eq!(d.records[0].fields.map(), json!({"log": "ERROR x", "n": 7}).as_object());
        assert_eq!(d.records[0].timestamp_ms, Some(0x6b05_7af0_i64 * 1000 + 500));
        assert_eq!(d.records[1].timestamp_ms, Some(1_795_532_400_000));
        assert_eq!(d.bad.len(), 2);
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
