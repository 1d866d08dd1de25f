//! JSON as `flb_msgpack_to_json_str` writes a record (src/flb_pack.c and
//! `flb_utils_write_str` in src/flb_utils.c, v4.2.2, `json.escape_unicode on`):
//! compact, keys in record order, `"` `\` and control characters escaped
//! (`\n`-style where there is one, else lowercase `\u00XX`, DEL included),
//! `/` not escaped, every non-ASCII character as lowercase `\uXXXX` with
//! surrogate pairs above the BMP.

//!
//! The module compares its rules' keys with the record's bytes in this form;
//! tests and hosts build the records they hand the filter with it.

use std::fmt::Write;

/// The body (no quotes) of the JSON string Fluent Bit writes for `s`.
pub(crate) fn string_body(s: &str) -> Vec<u8> {
    let mut out = String::new();
    write_body(&mut out, s);
    out.into_bytes()
}

/// A record as Fluent Bit hands it to a `wasm` filter (`Event_Format json`).
#[cfg(not(target_arch = "wasm32"))]
pub fn fluent_bit_json(record: &serde_json::Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(&mut out, record);
    out.into_bytes()
}

#[cfg(not(target_arch = "wasm32"))]
fn write_value(out: &mut String, v: &serde_json::Value) {
    match v {
        serde_json::Value::Null => out.push_str("null"),
        serde_json::Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        serde_json::Value::Number(n) => out.push_str(&n.to_string()),
        serde_json::Value::String(s) => write_str(out, s),
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        serde_json::Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    write_body(out, s);
    out.push('"');
}

fn write_body(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{u:04x}");
                }
            }
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn escapes_like_fluent_bit() {
        let v = json!({"log": "エラー 😀 \"q\" a/b \t\u{1}\u{7f}", "n": 5, "z": null});
        let s = String::from_utf8(fluent_bit_json(&v)).unwrap();
        assert_eq!(
            s,
            r#"{"log":"\u30a8\u30e9\u30fc \ud83d\ude00 \"q\" a/b \t\u0001\u007f","n":5,"z":null}"#
        );
        // And it is still the same JSON.
        assert_eq!(serde_json::from_str::<Value>(&s).unwrap(), v);
    }
}
