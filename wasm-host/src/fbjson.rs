//! JSON as `flb_msgpack_to_json_str` writes a record (src/flb_pack.c and
//! `flb_utils_write_str` in src/flb_utils.c, v4.2.2, `json.escape_unicode on`):
//! compact, keys in record order, `"` `\` and control characters escaped
//! (`\n`-style where there is one, else lowercase `\u00XX`, DEL included),
//! `/` not escaped, every non-ASCII character as lowercase `\uXXXX` with
//! surrogate pairs above the BMP.

use serde_json::Value;
use std::fmt::Write;

pub fn fluent_bit_json(record: &Value) -> Vec<u8> {
    let mut out = String::new();
    write_value(&mut out, record);
    out.into_bytes()
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
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

fn write_str(out: &mut String, s: &str) {
    out.push('"');
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
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
