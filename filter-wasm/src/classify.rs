//! Classifies one record and builds what the filter returns for it.
//!
//! Per record: one walk over the top-level members (finding the log line and
//! checking structured fields), then one pass over the unescaped log line.
//! A kept record is returned as the bytes it came in, never re-serialised.

use crate::fields::FieldMatcher;
use crate::json::{Member, skip_ws, unescape_into, walk_object};
use crate::rules::{RulesError, RulesFile};
use crate::text::{Levels, TextClass, TextMatcher};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// A health-check request: the record is dropped.
    Health,
    /// The record is kept and gets the error mark.
    Error,
    /// Everything else, including records the classifier could not read:
    /// kept unchanged.
    Other,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Health => "health",
            Class::Error => "error",
            Class::Other => "other",
        }
    }
}

/// Our own buffer could not grow. The caller must pass the record through
/// some other way; see `abi.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

/// Compiled rules. Build once, use for every record.
#[derive(Debug, Clone)]
pub struct Classifier {
    log_key: Vec<u8>,
    mark_key: Vec<u8>,
    /// `"error"`, JSON-encoded with its quotes.
    mark_value: Vec<u8>,
    /// `"log_class":"error"`.
    mark_member: Vec<u8>,
    text: TextMatcher,
    fields: FieldMatcher,
}

/// What the member walk of a record found.
struct Found<'a> {
    log: Option<Member<'a>>,
    mark: Option<Member<'a>>,
    field_error: bool,
    close: usize,
    members: usize,
}

impl Classifier {
    pub fn new(rules: &RulesFile) -> Result<Self, RulesError> {
        rules.validate()?;
        let levels = Levels::new(&rules.error.levels);
        let mark_key = json_string_body(&rules.mark.field);
        let mark_value = format!("\"{}\"", String::from_utf8_lossy(&json_string_body(&rules.mark.value))).into_bytes();
        let mut mark_member = Vec::new();
        mark_member.push(b'"');
        mark_member.extend_from_slice(&mark_key);
        mark_member.extend_from_slice(b"\":");
        mark_member.extend_from_slice(&mark_value);
        Ok(Self {
            log_key: json_string_body(&rules.log_key),
            mark_key,
            mark_value,
            mark_member,
            text: TextMatcher::new(rules, levels.clone()),
            fields: FieldMatcher::new(rules, levels),
        })
    }

    /// The built-in rules of shared/docs/classification.md.
    pub fn builtin() -> Self {
        match Self::new(&RulesFile::default()) {
            Ok(c) => c,
            // The defaults are checked by a unit test; this cannot happen.
            Err(e) => unreachable!("built-in rules are invalid: {e}"),
        }
    }

    /// Classifies a record (a JSON object as Fluent Bit hands it over).
    /// `scratch` is reused for the unescaped log line.
    pub fn classify(&self, record: &[u8], scratch: &mut Vec<u8>) -> Class {
        self.inspect(record, scratch).map_or(Class::Other, |(class, _)| class)
    }

    /// Classifies a bare log line, as if it were a record's `log` value.
    pub fn classify_line(&self, line: &[u8]) -> Class {
        self.classify_text(line, false)
    }

    /// Writes into `out` what the filter returns for `record` (without the
    /// terminating NUL): nothing for a health check, the record with the mark
    /// for an error, the record unchanged otherwise.
    pub fn apply(&self, record: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<Class, OutOfMemory> {
        out.clear();
        let Some((class, found)) = self.inspect(record, scratch) else {
            return copy_into(out, &[record]).map(|()| Class::Other);
        };
        match class {
            Class::Health => Ok(Class::Health),
            Class::Other => copy_into(out, &[record]).map(|()| Class::Other),
            Class::Error => {
                let parts: [&[u8]; 4] = match found.mark {
                    // Already marked as we would mark it: keep it byte for byte.
                    Some(m) if m.value(record) == self.mark_value.as_slice() => [record, b"", b"", b""],
                    // Marked otherwise: replace the value rather than add a duplicate key.
                    Some(m) => [
                        record.get(..m.value_start).unwrap_or_default(),
                        &self.mark_value,
                        record.get(m.value_end..).unwrap_or_default(),
                        b"",
                    ],
                    None => [
                        record.get(..found.close).unwrap_or_default(),
                        if found.members > 0 { b"," } else { b"" },
                        &self.mark_member,
                        record.get(found.close..).unwrap_or_default(),
                    ],
                };
                copy_into(out, &parts).map(|()| Class::Error)
            }
        }
    }

    /// `None` when the record is not a JSON object the walk understands.
    fn inspect<'a>(&self, record: &'a [u8], scratch: &mut Vec<u8>) -> Option<(Class, Found<'a>)> {
        let found = self.walk_record(record)?;
        let mut class = if found.field_error { Class::Error } else { Class::Other };
        if let Some(log) = found.log {
            let raw = log.value(record);
            if let Some(body) = raw.strip_prefix(b"\"").and_then(|b| b.strip_suffix(b"\"")) {
                let text = if log.value_escaped {
                    scratch.clear();
                    // Unescaping never grows the text: reserve once, no reallocation after.
                    if scratch.try_reserve(body.len()).is_err() {
                        return Some((class, found));
                    }
                    unescape_into(body, scratch);
                    scratch.as_slice()
                } else {
                    body
                };
                match self.classify_text(text, class == Class::Error) {
                    Class::Health => class = Class::Health,
                    Class::Error => class = Class::Error,
                    Class::Other => {}
                }
            }
        }
        Some((class, found))
    }

    /// Health, else error, for a log line; `already_error` skips the error
    /// rules that only the JSON form of a line could add.
    fn classify_text(&self, text: &[u8], already_error: bool) -> Class {
        match self.text.scan(text) {
            TextClass::Health => Class::Health,
            TextClass::Error => Class::Error,
            TextClass::Other if already_error => Class::Error,
            TextClass::Other => {
                let open = skip_ws(text, 0);
                if text.get(open) == Some(&b'{') && self.fields.object_is_error(text, open) {
                    Class::Error
                } else {
                    Class::Other
                }
            }
        }
    }

    fn walk_record<'a>(&self, record: &'a [u8]) -> Option<Found<'a>> {
        let mut log = None;
        let mut mark = None;
        let mut field_error = false;
        let end = walk_object(record, skip_ws(record, 0), |m| {
            if m.key == self.log_key.as_slice() {
                log = log.or(Some(m));
            } else if m.key == self.mark_key.as_slice() {
                mark = Some(m);
            }
            field_error = field_error || self.fields.member_is_error(record, &m);
            true
        })?;
        Some(Found {
            log,
            mark,
            field_error,
            close: end.close,
            members: end.members,
        })
    }
}

/// Replaces `out` with the concatenation of `parts`, growing it only through
/// `try_reserve` so that running out of memory is an error, not an abort.
fn copy_into(out: &mut Vec<u8>, parts: &[&[u8]]) -> Result<(), OutOfMemory> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.clear();
    // +1 for the NUL the ABI shim appends.
    out.try_reserve(len + 1).map_err(|_| OutOfMemory)?;
    for p in parts {
        out.extend_from_slice(p);
    }
    Ok(())
}

/// The body of a JSON string literal for `s` (no quotes), as Fluent Bit
/// would write it, so keys compare byte for byte with the record.
fn json_string_body(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || c as u32 >= 0x7f => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.extend_from_slice(format!("\\u{u:04x}").as_bytes());
                }
            }
            c => out.push(c as u8),
        }
    }
    out
}
