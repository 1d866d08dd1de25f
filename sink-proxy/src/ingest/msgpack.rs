//! Fluent Bit's msgpack events straight to the JSON lines sink-proxy sends,
//! one pass over the bytes, no value tree.
//!
//! An event is `[time, body]` (v1) or `[[time, metadata], body]` (v2), `time`
//! an EventTime (ext 0: big-endian u32 seconds, u32 nanoseconds), an integer
//! or a float, `body` a map. Its line is what Fluent Bit's `json_lines` would
//! have sent: `{"<date key>":<seconds as a double>,` then the body's members
//! in order. Text that is not UTF-8 (in `str`, `bin` or `ext`) is written
//! with U+FFFD for the bad bytes; a key that is not text is written as the
//! JSON of its value; NaN and infinities as `null`.
//!
//! The events of a chunk come from one container: each repeats the keys and
//! the ECS metadata of the one before. [`Repeats`] keeps what the previous
//! event wrote for each top-level member, so a member whose bytes are the
//! same is copied, not read and escaped again.
//!
//! Checked against an independent oracle (rmpv's value tree turned into
//! serde_json values, written without this module's code) on random events,
//! on bodies of repeating ones, and on random damage to them: `tests` below.

use std::fmt;

/// Deeper nesting is refused (a bounded stack for any input).
pub const MAX_DEPTH: usize = 256;

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    /// Well-formed msgpack that is not an event; reading goes on after it.
    NotAnEvent,
    /// Not msgpack (truncated, a reserved byte, too deep): nothing after
    /// this point can be read.
    Invalid(&'static str),
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnEvent => f.write_str("not a Fluent Bit event"),
            Self::Invalid(why) => write!(f, "invalid msgpack: {why}"),
        }
    }
}

/// One event's line and time.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub line: Vec<u8>,
    /// Milliseconds since the epoch, if the event's time could be read.
    pub time_ms: Option<i64>,
}

/// What the previous events of a body wrote for their top-level members, by
/// position: a key or a value whose msgpack bytes are those of the member
/// at the same place before is written by copying that member's JSON.
/// msgpack values delimit themselves, so equal leading bytes are the whole
/// value. A place whose value keeps changing (the `log`) stops being kept.
#[derive(Debug, Default)]
pub struct Repeats<'a> {
    places: Vec<[Seen<'a>; 2]>,
}

#[derive(Debug, Default)]
struct Seen<'a> {
    raw: &'a [u8],
    json: Vec<u8>,
    /// Kept values that did not repeat, in a row.
    misses: u8,
}

/// Misses in a row after which a place is no longer kept.
const MAX_MISSES: u8 = 4;

impl<'a> Seen<'a> {
    /// Changed more often than it repeated: not kept any more.
    fn volatile(&self) -> bool {
        self.misses > MAX_MISSES
    }

    /// Copies the JSON if the bytes at the front of `buf` repeat `raw`.
    fn copy_if_repeated(&self, buf: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        if self.volatile() || self.raw.is_empty() || !buf.starts_with(self.raw) {
            return None;
        }
        out.extend_from_slice(&self.json);
        Some(self.raw.len())
    }

    fn keep(&mut self, raw: &'a [u8], json: &[u8]) {
        if self.volatile() {
            return;
        }
        self.misses += 1;
        if self.volatile() {
            self.json = Vec::new();
            return;
        }
        self.raw = raw;
        self.json.clear();
        self.json.extend_from_slice(json);
    }
}

/// Reads the event at the front of `input` and advances past it (past the
/// whole value for [`EventError::NotAnEvent`]). `repeats` carries what the
/// previous events of the same body wrote.
pub fn next_event<'a>(input: &mut &'a [u8], date_key: &str, repeats: &mut Repeats<'a>) -> Result<Event, EventError> {
    let mut r = Reader { buf: input, pos: 0 };
    let result = r.event(date_key, repeats);
    match &result {
        Err(EventError::Invalid(_)) => {}
        _ => *input = &input[r.pos..],
    }
    result
}

/// The event time: seconds and nanoseconds.
#[derive(Debug, Clone, Copy)]
struct Time {
    secs: i64,
    nanos: u32,
    /// Given as a float: its value, for the line.
    float: Option<f64>,
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

type R<T> = Result<T, EventError>;

const TRUNCATED: EventError = EventError::Invalid("truncated");

impl<'a> Reader<'a> {
    fn event(&mut self, date_key: &str, repeats: &mut Repeats<'a>) -> R<Event> {
        let start = self.pos;
        let Some(2) = self.array_len()? else {
            self.pos = start;
            self.skip(0)?;
            return Err(EventError::NotAnEvent);
        };
        let header_start = self.pos;
        // v2: [[time, metadata], body]; v1: [time, body].
        let time = match self.array_len()? {
            Some(n) if n >= 1 => {
                let t = self.time()?;
                for _ in 1..n {
                    self.skip(0)?;
                }
                t
            }
            Some(_) => None,
            None => {
                self.pos = header_start;
                self.time()?
            }
        };
        let Some(members) = self.map_len()? else {
            self.skip(0)?;
            return Err(EventError::NotAnEvent);
        };
        let mut line = Vec::with_capacity(64 + self.buf.len().saturating_sub(self.pos).min(512));
        line.push(b'{');
        if let Some(t) = time {
            string(&mut line, date_key.as_bytes());
            line.push(b':');
            let seconds = t.float.unwrap_or(t.secs as f64 + f64::from(t.nanos) / 1e9);
            float(&mut line, seconds);
            if members > 0 {
                line.push(b',');
            }
        }
        if repeats.places.len() < members.min(64) {
            repeats.places.resize_with(members.min(64), Default::default);
        }
        for i in 0..members {
            if i > 0 {
                line.push(b',');
            }
            match repeats.places.get_mut(i) {
                Some([key, value]) => {
                    self.repeated(key, &mut line, |r, out| r.key(out))?;
                    line.push(b':');
                    self.repeated(value, &mut line, |r, out| r.value(out, 1))?;
                }
                None => {
                    self.key(&mut line)?;
                    line.push(b':');
                    self.value(&mut line, 1)?;
                }
            }
        }
        line.push(b'}');
        Ok(Event {
            line,
            time_ms: time.and_then(|t| {
                t.secs
                    .checked_mul(1000)
                    .and_then(|ms| ms.checked_add(i64::from(t.nanos / 1_000_000)))
            }),
        })
    }

    /// Writes the key or value at the front through `seen`: copied if it
    /// repeats, else read by `read` and kept for the next event.
    fn repeated(
        &mut self,
        seen: &mut Seen<'a>,
        out: &mut Vec<u8>,
        read: impl FnOnce(&mut Self, &mut Vec<u8>) -> R<()>,
    ) -> R<()> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        if let Some(n) = seen.copy_if_repeated(rest, out) {
            seen.misses = 0;
            self.pos += n;
            return Ok(());
        }
        let (start, out_start) = (self.pos, out.len());
        read(self, out)?;
        let raw = self.buf.get(start..self.pos).unwrap_or_default();
        seen.keep(raw, out.get(out_start..).unwrap_or_default());
        Ok(())
    }

    fn byte(&mut self) -> R<u8> {
        let b = *self.buf.get(self.pos).ok_or(TRUNCATED)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or(TRUNCATED)?;
        let s = self.buf.get(self.pos..end).ok_or(TRUNCATED)?;
        self.pos = end;
        Ok(s)
    }

    fn be<const N: usize>(&mut self) -> R<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn len8(&mut self) -> R<usize> {
        Ok(usize::from(self.byte()?))
    }

    fn len16(&mut self) -> R<usize> {
        Ok(usize::from(u16::from_be_bytes(self.be()?)))
    }

    fn len32(&mut self) -> R<usize> {
        usize::try_from(u32::from_be_bytes(self.be()?)).map_err(|_| TRUNCATED)
    }

    /// The length of the array at the front, or `None` (nothing consumed)
    /// if it is not an array.
    fn array_len(&mut self) -> R<Option<usize>> {
        self.container_len(0x90, 0xdc)
    }

    fn map_len(&mut self) -> R<Option<usize>> {
        self.container_len(0x80, 0xde)
    }

    /// An array's or a map's length: `fix` is its fix-size marker base (the
    /// length in the low four bits), `wide` its 16-bit marker, `wide + 1`
    /// its 32-bit one.
    fn container_len(&mut self, fix: u8, wide: u8) -> R<Option<usize>> {
        let b = *self.buf.get(self.pos).ok_or(TRUNCATED)?;
        let n = match b {
            _ if b & 0xf0 == fix => {
                self.pos += 1;
                usize::from(b & 0x0f)
            }
            _ if b == wide => {
                self.pos += 1;
                self.len16()?
            }
            _ if b == wide + 1 => {
                self.pos += 1;
                self.len32()?
            }
            _ => return Ok(None),
        };
        Ok(Some(n))
    }

    /// An event time; `None` for a value that is not one (skipped).
    fn time(&mut self) -> R<Option<Time>> {
        let start = self.pos;
        let b = self.byte()?;
        let int = |secs: i64| {
            Some(Time {
                secs,
                nanos: 0,
                float: None,
            })
        };
        Ok(match b {
            0x00..=0x7f => int(i64::from(b)),
            0xe0..=0xff => int(i64::from(b as i8)),
            0xcc => int(i64::from(self.byte()?)),
            0xcd => int(i64::from(u16::from_be_bytes(self.be()?))),
            0xce => int(i64::from(u32::from_be_bytes(self.be()?))),
            0xcf => i64::try_from(u64::from_be_bytes(self.be()?)).ok().and_then(int),
            0xd0 => int(i64::from(self.byte()? as i8)),
            0xd1 => int(i64::from(i16::from_be_bytes(self.be()?))),
            0xd2 => int(i64::from(i32::from_be_bytes(self.be()?))),
            0xd3 => int(i64::from_be_bytes(self.be()?)),
            0xca => float_time(f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => float_time(f64::from_be_bytes(self.be()?)),
            // fixext 8, type 0: EventTime.
            0xd7 if self.buf.get(self.pos) == Some(&0) => {
                self.pos += 1;
                let secs = u32::from_be_bytes(self.be()?);
                let nanos = u32::from_be_bytes(self.be()?);
                Some(Time {
                    secs: i64::from(secs),
                    nanos,
                    float: None,
                })
            }
            _ => {
                self.pos = start;
                self.skip(0)?;
                None
            }
        })
    }

    /// A map key: text as a JSON string, anything else as the JSON of its
    /// value, quoted.
    fn key(&mut self, out: &mut Vec<u8>) -> R<()> {
        if let Some(text) = self.text()? {
            string(out, text);
            return Ok(());
        }
        let mut json = Vec::new();
        self.value(&mut json, 1)?;
        string(out, &json);
        Ok(())
    }

    /// The payload of a `str`, `bin` or `ext` at the front, or `None`
    /// (nothing consumed).
    fn text(&mut self) -> R<Option<&'a [u8]>> {
        let b = *self.buf.get(self.pos).ok_or(TRUNCATED)?;
        let len = match b {
            0xa0..=0xbf => {
                self.pos += 1;
                usize::from(b & 0x1f)
            }
            0xd9 | 0xc4 => {
                self.pos += 1;
                self.len8()?
            }
            0xda | 0xc5 => {
                self.pos += 1;
                self.len16()?
            }
            0xdb | 0xc6 => {
                self.pos += 1;
                self.len32()?
            }
            0xd4..=0xd8 => {
                self.pos += 2; // marker, type
                1 << (b - 0xd4)
            }
            0xc7 => {
                self.pos += 1;
                let n = self.len8()?;
                self.pos += 1;
                n
            }
            0xc8 => {
                self.pos += 1;
                let n = self.len16()?;
                self.pos += 1;
                n
            }
            0xc9 => {
                self.pos += 1;
                let n = self.len32()?;
                self.pos += 1;
                n
            }
            _ => return Ok(None),
        };
        self.take(len).map(Some)
    }

    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> R<()> {
        if depth > MAX_DEPTH {
            return Err(EventError::Invalid("nested too deep"));
        }
        if let Some(text) = self.text()? {
            string(out, text);
            return Ok(());
        }
        if let Some(n) = self.array_len()? {
            out.push(b'[');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                self.value(out, depth + 1)?;
            }
            out.push(b']');
            return Ok(());
        }
        if let Some(n) = self.map_len()? {
            out.push(b'{');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                self.key(out)?;
                out.push(b':');
                self.value(out, depth + 1)?;
            }
            out.push(b'}');
            return Ok(());
        }
        let b = self.byte()?;
        let mut itoa = itoa::Buffer::new();
        let int = |out: &mut Vec<u8>, s: &str| out.extend_from_slice(s.as_bytes());
        match b {
            0x00..=0x7f => int(out, itoa.format(b)),
            0xe0..=0xff => int(out, itoa.format(b as i8)),
            0xc0 => out.extend_from_slice(b"null"),
            0xc2 => out.extend_from_slice(b"false"),
            0xc3 => out.extend_from_slice(b"true"),
            0xcc => int(out, itoa.format(self.byte()?)),
            0xcd => int(out, itoa.format(u16::from_be_bytes(self.be()?))),
            0xce => int(out, itoa.format(u32::from_be_bytes(self.be()?))),
            0xcf => int(out, itoa.format(u64::from_be_bytes(self.be()?))),
            0xd0 => int(out, itoa.format(self.byte()? as i8)),
            0xd1 => int(out, itoa.format(i16::from_be_bytes(self.be()?))),
            0xd2 => int(out, itoa.format(i32::from_be_bytes(self.be()?))),
            0xd3 => int(out, itoa.format(i64::from_be_bytes(self.be()?))),
            0xca => float(out, f64::from(f32::from_be_bytes(self.be()?))),
            0xcb => float(out, f64::from_be_bytes(self.be()?)),
            _ => return Err(EventError::Invalid("reserved byte 0xc1")),
        }
        Ok(())
    }

    /// Skips one value. Every v2 event has metadata to skip, nearly always
    /// `{}`: that, nil and an empty array take one step here instead of a
    /// buffer per record; anything else is read into a scratch buffer.
    fn skip(&mut self, depth: usize) -> R<()> {
        if let Some(0x80 | 0x90 | 0xc0) = self.buf.get(self.pos) {
            self.pos += 1;
            return Ok(());
        }
        let mut sink = Vec::new();
        self.value(&mut sink, depth + 1)
    }
}

fn float_time(f: f64) -> Option<Time> {
    (f.is_finite() && (0.0..1e15).contains(&f)).then(|| Time {
        secs: f.trunc() as i64,
        nanos: (f.fract() * 1e9).round().min(999_999_999.0) as u32,
        float: Some(f),
    })
}

/// A JSON number as serde_json writes one (ryu); `null` if not finite.
fn float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else {
        out.extend_from_slice(b"null");
    }
}

fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// `text` as a quoted JSON string; bytes that are not UTF-8 become U+FFFD.
fn string(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'"');
    // `is_ascii` first: most text is, and it is cheaper than validating.
    if text.is_ascii() || std::str::from_utf8(text).is_ok() {
        escape(out, text);
    } else {
        escape(out, String::from_utf8_lossy(text).as_bytes());
    }
    out.push(b'"');
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that needs an escape (`"`, `\`, or
/// below 0x20). A borrow can flag bytes above a flagged one, so only the
/// lowest flag is exact, which is all the caller uses.
fn specials(v: u64) -> u64 {
    let below_space = v.wrapping_sub(LO * 0x20) & !v & HI;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    below_space | zero(v ^ (LO * u64::from(b'"'))) | zero(v ^ (LO * u64::from(b'\\')))
}

/// Copies runs of plain bytes whole, finding the next byte to escape eight
/// at a time ("SIMD within a register", portable to Graviton); escapes it
/// as serde_json does. Checked against a byte-at-a-time escape in the tests.
pub fn escape(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len());
    let mut start = 0;
    let mut i = 0;
    while let Some(block) = s.get(i..i + 8) {
        let m = specials(u64::from_le_bytes(block.try_into().unwrap_or([0; 8])));
        if m == 0 {
            i += 8;
            continue;
        }
        let at = i + (m.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&s[start..at]);
        escape_byte(out, s[at]);
        start = at + 1;
        i = at + 1;
    }
    for (k, &b) in s.iter().enumerate().skip(i) {
        if needs_escape(b) {
            out.extend_from_slice(&s[start..k]);
            escape_byte(out, b);
            start = k + 1;
        }
    }
    out.extend_from_slice(&s[start..]);
}

fn escape_byte(out: &mut Vec<u8>, b: u8) {
    match b {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value as M;
    use serde_json::{Map, Value as J};

    /// The oracle: rmpv's tree to serde_json, by the rules in the module
    /// comment, sharing no code with the reader above.
    fn oracle_json(v: &M) -> J {
        let text = |b: &[u8]| J::String(String::from_utf8_lossy(b).into_owned());
        match v {
            M::Nil => J::Null,
            M::Boolean(b) => J::Bool(*b),
            M::Integer(i) => i.as_i64().map(J::from).or_else(|| i.as_u64().map(J::from)).unwrap(),
            M::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
            M::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            M::String(s) => text(s.as_bytes()),
            M::Binary(b) => text(b),
            M::Ext(_, b) => text(b),
            M::Array(items) => J::Array(items.iter().map(oracle_json).collect()),
            M::Map(entries) => J::Object(entries.iter().map(|(k, v)| (oracle_key(k), oracle_json(v))).collect()),
        }
    }

    fn oracle_key(k: &M) -> String {
        match oracle_json(k) {
            J::String(s) if matches!(k, M::String(_) | M::Binary(_) | M::Ext(..)) => s,
            other => other.to_string(),
        }
    }

    /// The event's line as the oracle sees it: `None` for "not an event".
    fn oracle_event(v: &M, date_key: &str) -> Option<(J, Option<i64>)> {
        let M::Array(parts) = v else { return None };
        let [header, M::Map(body)] = parts.as_slice() else {
            return None;
        };
        let time = match header {
            M::Array(h) => h.first(),
            t => Some(t),
        };
        let seconds: Option<(f64, Option<i64>)> = match time {
            Some(M::Ext(0, b)) if b.len() == 8 => {
                let s = u32::from_be_bytes(b[..4].try_into().unwrap());
                let n = u32::from_be_bytes(b[4..].try_into().unwrap());
                Some((
                    f64::from(s) + f64::from(n) / 1e9,
                    Some(i64::from(s) * 1000 + i64::from(n / 1_000_000)),
                ))
            }
            Some(M::Integer(i)) => i.as_i64().map(|s| (s as f64, s.checked_mul(1000))),
            Some(M::F32(f)) => float_seconds(f64::from(*f)),
            Some(M::F64(f)) => float_seconds(*f),
            _ => None,
        };
        let mut map = Map::new();
        if let Some((s, _)) = seconds {
            map.insert(
                date_key.to_owned(),
                serde_json::Number::from_f64(s).map_or(J::Null, J::Number),
            );
        }
        for (k, v) in body {
            map.insert(oracle_key(k), oracle_json(v));
        }
        Some((J::Object(map), seconds.and_then(|(_, ms)| ms)))
    }

    fn float_seconds(f: f64) -> Option<(f64, Option<i64>)> {
        (f.is_finite() && (0.0..1e15).contains(&f)).then(|| {
            let nanos = (f.fract() * 1e9).round().min(999_999_999.0) as i64;
            (f, Some(f.trunc() as i64 * 1000 + nanos / 1_000_000))
        })
    }

    fn encode(v: &M) -> Vec<u8> {
        let mut b = Vec::new();
        rmpv::encode::write_value(&mut b, v).unwrap();
        b
    }

    /// Random text: ASCII, escapes, multi-byte UTF-8, and sometimes bytes
    /// that are not UTF-8.
    fn text(rng: &mut fastrand::Rng) -> Vec<u8> {
        let pieces: [&[u8]; 12] = [
            b"GET /health 200",
            b"\"",
            b"\\",
            b"\n",
            b"\t\x01\x1f",
            "é ☃ 😀".as_bytes(),
            b"ERROR",
            b"log",
            b"\x7f",
            b"\xff\xfe",
            b"abcdefghijklmnopqrstuvwxyz0123456789",
            b"",
        ];
        let mut t = Vec::new();
        // Now and then long enough for str8 and str16.
        let n = if rng.u8(0..10) == 0 {
            rng.usize(0..400)
        } else {
            rng.usize(0..6)
        };
        for _ in 0..n {
            t.extend_from_slice(pieces[rng.usize(0..pieces.len())]);
        }
        t
    }

    fn value(rng: &mut fastrand::Rng, depth: usize) -> M {
        let string = |rng: &mut fastrand::Rng| {
            let t = text(rng);
            match String::from_utf8(t) {
                Ok(s) => M::from(s),
                // A `str` that is not UTF-8: only rmpv's reader makes one.
                Err(e) => {
                    let bytes = e.into_bytes();
                    let mut raw = vec![0xdb];
                    raw.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
                    raw.extend_from_slice(&bytes);
                    rmpv::decode::read_value(&mut raw.as_slice()).unwrap()
                }
            }
        };
        match rng.u8(0..if depth > 3 { 9 } else { 11 }) {
            0 => M::Nil,
            1 => M::Boolean(rng.bool()),
            // Every integer width, signed and not.
            2 => M::from(rng.i64(..) >> (8 * rng.u32(0..8))),
            3 => M::from(rng.u64(..) >> (8 * rng.u32(0..8))),
            4 => M::from(rng.i8(..)),
            5 => M::F64([0.5, -1e300, f64::NAN, f64::INFINITY, 1.0, 1795532400.123456][rng.usize(0..6)]),
            6 => M::F32([0.25f32, f32::NAN, 3.0][rng.usize(0..3)]),
            7 => M::Binary(text(rng)),
            8 => string(rng),
            // Past 15 items: array16 and map16.
            9 => M::Array(
                (0..rng.usize(0..4) * rng.usize(1..7))
                    .map(|_| value(rng, depth + 1))
                    .collect(),
            ),
            _ => M::Map(
                (0..rng.usize(0..4) * rng.usize(1..7))
                    .map(|i| (M::from(format!("k{depth}_{i}")), value(rng, depth + 1)))
                    .collect(),
            ),
        }
    }

    fn event(rng: &mut fastrand::Rng) -> M {
        let time = match rng.u8(0..6) {
            0 => M::from(1_795_532_400),
            1 => M::F64(1_795_532_400.25),
            2 => M::from("not a time"),
            _ => {
                let mut b = 1_795_532_400u32.to_be_bytes().to_vec();
                b.extend_from_slice(&rng.u32(0..1_000_000_000).to_be_bytes());
                M::Ext(0, b)
            }
        };
        let header = if rng.bool() {
            M::Array(vec![time, M::Map(vec![])])
        } else {
            time
        };
        let mut body: Vec<(M, M)> = (0..rng.usize(0..6))
            .map(|i| (M::from(format!("key{i}")), value(rng, 1)))
            .collect();
        // Keys that are not text, once in a while.
        if rng.u8(0..8) == 0 {
            body.push((M::from(7), M::from("seven")));
            body.push((M::Binary(b"bin\xffkey".to_vec()), M::Nil));
        }
        match rng.u8(0..20) {
            0 => M::from("not an event"),
            1 => M::Array(vec![header]),
            2 => M::Array(vec![header, M::from(5)]),
            _ => M::Array(vec![header, M::Map(body)]),
        }
    }

    /// Every random event reads as the oracle says: the same JSON value and
    /// time, or "not an event" and reading goes on after it.
    #[test]
    fn differential_against_rmpv() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for _ in 0..20_000 {
            let events: Vec<M> = (0..rng.usize(1..4)).map(|_| event(&mut rng)).collect();
            let body: Vec<u8> = events.iter().flat_map(encode).collect();
            let mut rest = body.as_slice();
            let mut repeats = Repeats::default();
            for ev in &events {
                let got = next_event(&mut rest, "date", &mut repeats);
                match (oracle_event(ev, "date"), got) {
                    (None, Err(EventError::NotAnEvent)) => {}
                    (Some((want, want_ms)), Ok(e)) => {
                        let line: J = serde_json::from_slice(&e.line)
                            .unwrap_or_else(|err| panic!("not JSON ({err}): {}", String::from_utf8_lossy(&e.line)));
                        assert_eq!(line, want, "{ev:?}");
                        assert_eq!(e.time_ms, want_ms, "{ev:?}");
                    }
                    (want, got) => panic!("{ev:?}: oracle {want:?}, reader {got:?}"),
                }
            }
            assert!(rest.is_empty());
        }
    }

    /// Bodies of events that repeat one another, as a container's do: the
    /// same keys and metadata, with members changed, changed to a value of
    /// the same length, moved, dropped or added, and the log always new.
    /// Every line is the oracle's: a repeat is copied only when it is one.
    #[test]
    fn repeating_events_agree_with_the_oracle() {
        let mut rng = fastrand::Rng::with_seed(0xec5);
        let mut copied = 0;
        for _ in 0..3_000 {
            let mut members: Vec<(M, M)> = vec![
                (M::from("container_id"), M::from("0123456789abcdef")),
                (M::from("container_name"), M::from("web")),
                (M::from("source"), M::from("stdout")),
                (M::from("log"), M::from("")),
                (M::from("ecs_task_arn"), M::from("arn:aws:ecs:eu-west-1:1:task/c/abc")),
                (M::from(7), M::Array(vec![M::from(1), M::from("x")])),
            ];
            // Sets a member's value, wherever it moved (or not, if dropped).
            fn set(members: &mut [(M, M)], key: &str, v: M) {
                if let Some(m) = members.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
                    m.1 = v;
                }
            }
            let mut events = Vec::new();
            for n in 0..rng.usize(1..12) {
                set(
                    &mut members,
                    "log",
                    M::from(format!("line {n} {}", "y".repeat(rng.usize(0..20)))),
                );
                match rng.u8(0..10) {
                    0 => set(
                        &mut members,
                        "container_name",
                        M::from(["web", "api", "abc"][rng.usize(0..3)]),
                    ),
                    1 => set(&mut members, "source", M::from(["stdout", "stderr"][rng.usize(0..2)])),
                    2 => {
                        let (i, j) = (rng.usize(0..members.len()), rng.usize(0..members.len()));
                        members.swap(i, j);
                    }
                    3 if members.len() > 1 => {
                        members.remove(rng.usize(0..members.len()));
                    }
                    4 => members.push((M::from(format!("k{n}")), value(&mut rng, 1))),
                    5 => set(&mut members, "container_id", M::from("0123456789abcdeX")),
                    6 => set(&mut members, "container_id", M::Binary(b"0123456789abcdef".to_vec())),
                    _ => {}
                }
                let time = M::Ext(0, [0x6b, 0x05, 0x7a, 0xf0, 0, 0, 0, n as u8].to_vec());
                events.push(M::Array(vec![
                    M::Array(vec![time, M::Map(vec![])]),
                    M::Map(members.clone()),
                ]));
            }
            let body: Vec<u8> = events.iter().flat_map(encode).collect();
            let mut rest = body.as_slice();
            let mut repeats = Repeats::default();
            for ev in &events {
                let e = next_event(&mut rest, "date", &mut repeats).unwrap();
                let (want, _) = oracle_event(ev, "date").unwrap();
                let line: J = serde_json::from_slice(&e.line).unwrap();
                assert_eq!(line, want, "{ev:?}");
            }
            assert!(rest.is_empty());
            copied += repeats.places.iter().flatten().filter(|s| !s.raw.is_empty()).count();
        }
        assert!(copied > 1000, "the repeats were kept and used");
    }

    /// Damaged input (cut short, bytes changed) never panics, never reads
    /// past the end, and a truncated event is invalid, not a short record.
    #[test]
    fn damaged_input_is_an_error_not_a_panic() {
        let mut rng = fastrand::Rng::with_seed(0xdead);
        for _ in 0..20_000 {
            let mut body = encode(&event(&mut rng));
            let whole = body.len();
            if rng.bool() {
                body.truncate(rng.usize(0..whole));
                let mut rest = body.as_slice();
                if body.len() < whole {
                    assert!(
                        matches!(
                            next_event(&mut rest, "date", &mut Repeats::default()),
                            Err(EventError::Invalid(_)) | Err(EventError::NotAnEvent)
                        ) || body.is_empty()
                    );
                }
            } else {
                for _ in 0..rng.usize(1..4) {
                    let i = rng.usize(0..whole);
                    body[i] = rng.u8(..);
                }
                let mut rest = body.as_slice();
                let mut repeats = Repeats::default();
                let mut reads = 0;
                while !rest.is_empty() && reads < 64 {
                    reads += 1;
                    let before = rest.len();
                    match next_event(&mut rest, "date", &mut repeats) {
                        Err(EventError::Invalid(_)) => break,
                        Ok(e) => {
                            assert!(rest.len() < before);
                            serde_json::from_slice::<J>(&e.line).expect("a line read is JSON");
                        }
                        Err(EventError::NotAnEvent) => assert!(rest.len() < before),
                    }
                }
            }
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let mut v = M::Nil;
        for _ in 0..MAX_DEPTH + 5 {
            v = M::Array(vec![v]);
        }
        let ev = M::Array(vec![M::from(1), M::Map(vec![(M::from("deep"), v)])]);
        let body = encode(&ev);
        let mut rest = body.as_slice();
        assert_eq!(
            next_event(&mut rest, "date", &mut Repeats::default()),
            Err(EventError::Invalid("nested too deep"))
        );
    }

    /// The block-wise escape against a byte-at-a-time one that shares no code.
    #[test]
    fn escape_agrees_with_a_naive_escape() {
        fn naive(s: &[u8]) -> Vec<u8> {
            let mut o = Vec::new();
            for &b in s {
                match b {
                    b'"' => o.extend_from_slice(b"\\\""),
                    b'\\' => o.extend_from_slice(b"\\\\"),
                    b'\n' => o.extend_from_slice(b"\\n"),
                    b'\r' => o.extend_from_slice(b"\\r"),
                    b'\t' => o.extend_from_slice(b"\\t"),
                    0x08 => o.extend_from_slice(b"\\b"),
                    0x0c => o.extend_from_slice(b"\\f"),
                    0..=0x1f => o.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
                    _ => o.push(b),
                }
            }
            o
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..50_000 {
            let len = rng.usize(0..70);
            // Mostly plain bytes, so that whole blocks are skipped.
            let mut s = Vec::with_capacity(len);
            for _ in 0..len {
                s.push(match rng.u8(0..40) {
                    0 => b'\\',
                    1..=4 => rng.u8(0..0x24),
                    _ => rng.u8(0x20..=0xff),
                });
            }
            let mut got = Vec::new();
            escape(&mut got, &s);
            assert_eq!(got, naive(&s), "{s:?}");
            // serde_json reads it back as the same text.
            if let Ok(text) = std::str::from_utf8(&s) {
                let quoted = [b"\"".as_slice(), &got, b"\""].concat();
                assert_eq!(serde_json::from_slice::<String>(&quoted).unwrap(), text);
            }
        }
    }
}
