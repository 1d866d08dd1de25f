//! A record's top-level fields, read in place from its JSON line.
//!
//! A marked record needs a few of its fields: the mark, the time, the
//! stream template's, the message. Building a `serde_json::Map` of every
//! member and serialising it again for the message was a fifth of the
//! proxy's CPU. Here serde_json checks the line once and hands back each
//! member's value as its raw bytes (`RawValue`): nothing is built, and a
//! message is copied from the line.
//!
//! The answers are those of the parsed map (tested against it): a repeated
//! key reads as its last value, at the place it first came.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// The top-level members of one JSON object, in their order.
#[derive(Debug)]
pub struct Fields<'a> {
    members: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    /// Reads a line holding one JSON object (UTF-8, checked whole); an error
    /// for anything else.
    pub fn parse(line: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// A field's value as raw JSON; the last one if the key repeats.
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.members.iter().rev().find(|(k, _)| k == key).map(|&(_, v)| v)
    }

    /// A field's value if it is a string, unescaped.
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        let raw = self.raw(key)?;
        if !raw.get().starts_with('"') {
            return None;
        }
        // Borrowed unless the string holds escapes.
        serde_json::from_str::<CowStr<'a>>(raw.get()).ok().map(|s| s.0)
    }

    /// A field's value, built: for the rare field that is not a string.
    pub fn value(&self, key: &str) -> Option<Value> {
        serde_json::from_str(self.raw(key)?.get()).ok()
    }

    /// A field as text: a non-empty string as it is, any other value but
    /// `null` as its JSON; `None` for an empty string, `null` or no field.
    /// (A CloudWatch message or an alert is never empty.)
    pub fn text(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.str(key) {
            Some(s) => (!s.is_empty()).then_some(s),
            None => self.value(key).filter(|v| !v.is_null()).map(|v| v.to_string().into()),
        }
    }

    /// A number field as `f64` (the date key's seconds).
    pub fn f64(&self, key: &str) -> Option<f64> {
        let raw = self.raw(key)?.get();
        if !raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return None;
        }
        serde_json::from_str(raw).ok()
    }

    /// The object as compact JSON without the keys `omit` names, as
    /// serialising the parsed map would give: a repeated key comes once,
    /// where it first came, with its last value. Values are copied as they
    /// came, unless they hold an escape serde_json writes otherwise.
    pub fn write_without(&self, omit: impl Fn(&str) -> bool, out: &mut String) {
        out.push('{');
        let mut first = true;
        for (i, (key, _)) in self.members.iter().enumerate() {
            if omit(key) || self.members[..i].iter().any(|(k, _)| k == key) {
                continue;
            }
            if !first {
                out.push(',');
            }
            first = false;
            write_key(key, matches!(key, Cow::Owned(_)), out);
            out.push(':');
            write_value(self.raw(key).map_or("null", RawValue::get), out);
        }
        out.push('}');
    }
}

/// A value as serde_json writes it. Fluent Bit writes text that is not
/// ASCII as `\uXXXX` escapes, where serde_json writes the characters (and
/// a control character as `\n` or `\u001b`, never `\u001B`): a value with
/// `\u` or `\/` in it is parsed and written again, so that the message
/// reads `在庫`, not `\u5728\u5eab`. Every other escape is written the same.
fn write_value(raw: &str, out: &mut String) {
    let b = raw.as_bytes();
    let differs = memchr::memchr_iter(b'\\', b).any(|i| matches!(b.get(i + 1), Some(b'u' | b'/')));
    match differs.then(|| serde_json::from_str::<Value>(raw)) {
        Some(Ok(v)) => out.push_str(&v.to_string()),
        _ => out.push_str(raw),
    }
}

/// A key as serde_json writes it. A key read without escapes holds nothing
/// JSON would escape, so it is written as it is.
fn write_key(key: &str, had_escapes: bool, out: &mut String) {
    if had_escapes {
        out.push_str(&Value::from(key).to_string());
    } else {
        out.push('"');
        out.push_str(key);
        out.push('"');
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Members<'a> {
            type Value = Fields<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'a>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(16));
                while let Some((k, v)) = map.next_entry::<CowStr<'a>, &'a RawValue>()? {
                    members.push((k.0, v));
                }
                Ok(Fields { members })
            }
        }
        d.deserialize_map(Members(std::marker::PhantomData))
    }
}

/// A string borrowed from the input unless it had to be unescaped (serde's
/// own `Cow<str>` always copies).
struct CowStr<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for CowStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Str<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Str<'a> {
            type Value = CowStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<CowStr<'a>, E> {
                Ok(CowStr(Cow::Owned(s)))
            }
        }
        d.deserialize_str(Str(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    /// The oracle: the parsed map, serialised by serde_json.
    fn map_without(map: &Map<String, Value>, omit: &[&str]) -> String {
        let kept: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !omit.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Value::Object(kept).to_string()
    }

    fn without(line: &str, omit: &[&str]) -> String {
        let mut out = String::new();
        Fields::parse(line.as_bytes())
            .unwrap()
            .write_without(|k| omit.contains(&k), &mut out);
        out
    }

    #[test]
    fn reads_fields_as_the_parsed_map_does() {
        let line = r#"{"log":"a \"q\" \u00e9","n":7,"f":1.5e3,"o":{"x":[1,2]},"z":null,"log":"last","s":"x"}"#;
        let f = Fields::parse(line.as_bytes()).unwrap();
        let map: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(
            f.str("log").as_deref(),
            map["log"].as_str(),
            "a repeated key: the last value"
        );
        assert!(matches!(f.str("s"), Some(Cow::Borrowed("x"))), "no escapes: not copied");
        assert_eq!(f.str("n"), None, "not a string");
        assert_eq!(f.value("o").as_ref(), map.get("o"));
        assert_eq!(f.value("z"), Some(Value::Null));
        assert_eq!(f.f64("f"), map["f"].as_f64());
        assert_eq!(f.f64("n"), Some(7.0));
        assert_eq!(f.f64("s"), None);
        assert!(f.raw("missing").is_none());
    }

    #[test]
    fn escaped_keys_are_found_and_written_back_escaped() {
        let line = r#"{"a\"b":1,"\u00e9":"x","c":2}"#;
        let f = Fields::parse(line.as_bytes()).unwrap();
        assert_eq!(f.f64("a\"b"), Some(1.0));
        assert_eq!(f.str("é").as_deref(), Some("x"));
        let map: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(without(line, &["c"]), map_without(&map, &["c"]));
    }

    #[test]
    fn anything_but_one_object_is_an_error() {
        for bad in [
            &b"[1]"[..],
            b"\"x\"",
            b"{\"a\":1",
            b"{\"a\":1}{}",
            b"{\"a\":\"\xff\"}",
            b"{\"\xff\":1}",
            b"{\"a\":tru}",
            b"",
        ] {
            assert!(Fields::parse(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(Fields::parse(b" {\"a\" : [ 1 ] } \n").is_ok());
    }

    /// The message without the given keys equals serde_json's serialisation
    /// of the parsed map, byte for byte for compact lines, and as JSON for
    /// any other spelling, over random records.
    #[test]
    fn writing_without_keys_agrees_with_the_map() {
        let mut rng = fastrand::Rng::with_seed(15);
        let keys = [
            "log",
            "date",
            "ecs_cluster",
            "ecs_task_arn",
            "a\"b",
            "é",
            "n",
            "log_class",
        ];
        for _ in 0..5000 {
            let mut line = String::from("{");
            for i in 0..rng.usize(0..8) {
                if i > 0 {
                    line.push(',');
                }
                let key = keys[rng.usize(..keys.len())];
                line.push_str(&Value::from(key).to_string());
                line.push(':');
                line.push_str(&random_value(&mut rng, 0).to_string());
            }
            line.push('}');
            let map: Map<String, Value> = serde_json::from_str(&line).unwrap();
            let omit: Vec<&str> = keys.iter().copied().filter(|_| rng.bool()).collect();
            let fast = without(&line, &omit);
            let oracle = map_without(&map, &omit);
            assert_eq!(fast, oracle, "{line}");
            // As Fluent Bit writes it: text that is not ASCII as \uXXXX.
            let escaped = fluent_bit_escapes(&line);
            assert_eq!(without(&escaped, &omit), oracle, "{escaped}");
            // Spaced out, the same JSON.
            let spaced = line.replace(',', " , ").replace(':', " : ");
            if let Ok(spaced_map) = serde_json::from_str::<Map<String, Value>>(&spaced) {
                let fast: Value = serde_json::from_str(&without(&spaced, &omit)).unwrap();
                assert_eq!(
                    fast,
                    serde_json::from_str::<Value>(&map_without(&spaced_map, &omit)).unwrap()
                );
            }
        }
    }

    /// Every character that is not ASCII as `\uXXXX` (surrogate pairs
    /// above U+FFFF), and `/` as `\/`: both only occur inside strings.
    fn fluent_bit_escapes(line: &str) -> String {
        let mut out = String::new();
        for c in line.chars() {
            if c == '/' {
                out.push_str("\\/");
            } else if c.is_ascii() {
                out.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
        }
        out
    }

    fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
        match rng.u8(..if depth > 2 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.bool()),
            2 => json!(rng.i64(..)),
            3 => json!(rng.f64() * 1e6),
            4 => {
                let chars = ['a', '"', '\\', '\n', '\u{1}', 'é', '😀', ' ', ':', ',', '/'];
                Value::String((0..rng.usize(..12)).map(|_| chars[rng.usize(..chars.len())]).collect())
            }
            5 => Value::Array((0..rng.usize(..4)).map(|_| random_value(rng, depth + 1)).collect()),
            _ => Value::Object(
                (0..rng.usize(..4))
                    .map(|i| (format!("k{i}"), random_value(rng, depth + 1)))
                    .collect(),
            ),
        }
    }
}
