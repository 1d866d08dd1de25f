//! Classifies one record and builds what the filter returns for it.
//!
//! Per record: one walk over the top-level members, checking structured
//! fields, that reads the log line where it meets it: in one pass over the
//! line as it is, JSON-escaped (`escaped.rs`), which also finds its end.
//! A kept record is returned as the bytes it came in, never re-serialised.

use crate::escaped::Escaped;
use crate::fields::FieldMatcher;
use crate::json::{Member, after_member, read_key, skip_value, skip_ws, string_end, unescape_into};
use crate::memo::{Memo, Span, Walked};
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

/// What the filter returns for a record (`Classifier::decide_with`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub class: Class,
    /// The answer is in `out` (the record with the mark); else it is the
    /// record itself, or nothing for a health check.
    pub rewritten: bool,
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
    /// The log key is itself a level or status key (`log_key = "msg"` with
    /// `level_keys = ["msg"]`, say).
    log_is_field: bool,
}

/// What the walk of a record found.
struct Found {
    class: Class,
    /// The value of the mark member, when the record has one.
    mark: Option<(usize, usize)>,
    /// Index of the record's closing `}`, and how many members it has.
    close: usize,
    members: usize,
}

/// Where a walk of members stopped.
enum Stop {
    End { close: usize },
    LogLine { value_start: usize },
}

impl Walked {
    /// Takes in a remembered span that starts at `at` in the record.
    fn add(&mut self, span: &Span, at: usize) {
        self.error |= span.walked.error;
        self.members += span.walked.members;
        if let Some((s, e)) = span.walked.mark {
            self.mark = Some((s + at, e + at));
        }
    }

    fn found(&self, close: usize) -> Found {
        Found {
            class: if self.error { Class::Error } else { Class::Other },
            mark: self.mark,
            close,
            members: self.members,
        }
    }
}

/// What the log line says.
enum LogLine {
    Health,
    /// `end`: one past the string's closing quote.
    Scanned {
        error: bool,
        end: usize,
    },
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
            log_is_field: [&rules.error.level_keys, &rules.error.status_keys]
                .iter()
                .any(|keys| keys.contains(&rules.log_key)),
        })
    }

    /// The built-in rules (the README's "What it decides").
    pub fn builtin() -> Self {
        match Self::new(&RulesFile::default()) {
            Ok(c) => c,
            // The defaults are checked by a unit test; this cannot happen.
            Err(e) => unreachable!("built-in rules are invalid: {e}"),
        }
    }

    /// Classifies a record (a JSON object as Fluent Bit hands it over).
    /// `scratch` is reused when the log line must be unescaped.
    pub fn classify(&self, record: &[u8], scratch: &mut Vec<u8>) -> Class {
        self.inspect(record, &mut Memo::default(), scratch)
            .map_or(Class::Other, |found| found.class)
    }

    /// Classifies a bare log line, as if it were a record's `log` value.
    pub fn classify_line(&self, line: &[u8]) -> Class {
        match self.text.scan(line) {
            TextClass::Health => Class::Health,
            TextClass::Error => Class::Error,
            TextClass::Other if self.json_line_is_error(line) => Class::Error,
            TextClass::Other => Class::Other,
        }
    }

    /// The same rules with the escaped-text scan off: every log line is
    /// unescaped and read by the reference scan. For tests that hold the two
    /// to the same answers.
    #[doc(hidden)]
    pub fn reference(mut self) -> Self {
        self.text.escaped = None;
        self
    }

    /// Writes into `out` what the filter returns for `record` (without the
    /// terminating NUL): nothing for a health check, the record with the mark
    /// for an error, the record unchanged otherwise.
    pub fn apply(&self, record: &[u8], scratch: &mut Vec<u8>, out: &mut Vec<u8>) -> Result<Class, OutOfMemory> {
        self.apply_with(record, &mut Memo::default(), scratch, out)
    }

    /// `apply`, remembering in `memo` the members around the log line for
    /// the next record (see `memo.rs`): the same answer, at less cost when
    /// records share their metadata, as one container's do.
    pub fn apply_with(
        &self,
        record: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Class, OutOfMemory> {
        let d = self.decide_with(record, memo, scratch, out)?;
        if !d.rewritten && d.class != Class::Health {
            copy_into(out, &[record])?;
        }
        Ok(d.class)
    }

    /// `apply_with` without copying a record that is kept unchanged: `out`
    /// holds the answer only when `rewritten` (the record with the mark);
    /// otherwise the record itself is the answer (nothing, for a health check).
    pub fn decide_with(
        &self,
        record: &[u8],
        memo: &mut Memo,
        scratch: &mut Vec<u8>,
        out: &mut Vec<u8>,
    ) -> Result<Decision, OutOfMemory> {
        out.clear();
        let unchanged = |class| {
            Ok(Decision {
                class,
                rewritten: false,
            })
        };
        let Some(found) = self.inspect(record, memo, scratch) else {
            return unchanged(Class::Other);
        };
        if found.class != Class::Error {
            return unchanged(found.class);
        }
        let parts: [&[u8]; 4] = match found.mark {
            // Already marked as we would mark it: keep it byte for byte.
            Some((s, e)) if record.get(s..e) == Some(self.mark_value.as_slice()) => return unchanged(Class::Error),
            // Marked otherwise: replace the value rather than add a duplicate key.
            Some((s, e)) => [
                record.get(..s).unwrap_or_default(),
                &self.mark_value,
                record.get(e..).unwrap_or_default(),
                b"",
            ],
            None => [
                record.get(..found.close).unwrap_or_default(),
                if found.members > 0 { b"," } else { b"" },
                &self.mark_member,
                record.get(found.close..).unwrap_or_default(),
            ],
        };
        copy_into(out, &parts)?;
        Ok(Decision {
            class: Class::Error,
            rewritten: true,
        })
    }

    /// One walk over the record's members. The log line is classified where
    /// the walk meets it (the first `log` member), and a health checker
    /// there ends the walk: the record is dropped whatever follows. The
    /// members before and after the log line come from `memo` when they are
    /// the same bytes as in a record seen before.
    /// `None` when the record is not a JSON object the walk understands.
    fn inspect(&self, record: &[u8], memo: &mut Memo, scratch: &mut Vec<u8>) -> Option<Found> {
        let mut w = Walked::default();
        let value_start = match memo.prefix_of(record) {
            Ok(span) => {
                w.add(span, 0);
                span.bytes.len() - 1
            }
            Err(slot) => {
                let open = skip_ws(record, 0);
                if *record.get(open)? != b'{' {
                    return None;
                }
                let first = skip_ws(record, open + 1);
                if *record.get(first)? == b'}' {
                    return Some(w.found(first));
                }
                match self.walk_from(record, first, true, true, &mut w)? {
                    Stop::End { close } => return Some(w.found(close)),
                    Stop::LogLine { value_start } => {
                        let prefix = record.get(..=value_start).unwrap_or_default();
                        memo.remember_prefix(slot, prefix, w);
                        value_start
                    }
                }
            }
        };
        let end = match self.log_line(record, value_start, w.error, scratch)? {
            LogLine::Health => {
                return Some(Found {
                    class: Class::Health,
                    ..w.found(0)
                });
            }
            LogLine::Scanned { error, end } => {
                w.error |= error;
                end
            }
        };
        w.members += 1;
        if self.log_is_field && !w.error {
            let m = Member {
                key: &self.log_key,
                key_escaped: false,
                value_start,
                value_end: end,
            };
            w.error = self.fields.member_is_error(record, &m);
        }
        let close = match memo.suffix_of(record, end) {
            Ok(span) => {
                w.add(span, end);
                end + span.close
            }
            Err(slot) => {
                // Walked on its own, so that what it holds is known alone.
                let mut after = Walked::default();
                let close = match after_member(record, end)? {
                    Err(close) => close,
                    Ok(next) => match self.walk_from(record, next, false, false, &mut after)? {
                        Stop::End { close } => close,
                        Stop::LogLine { .. } => return None, // not asked for
                    },
                };
                let suffix = record.get(end..).unwrap_or_default();
                let relative = Walked {
                    mark: after.mark.map(|(s, e)| (s - end, e - end)),
                    ..after
                };
                memo.remember_suffix(slot, suffix, relative, close - end);
                w.error |= after.error;
                w.members += after.members;
                w.mark = after.mark.or(w.mark);
                close
            }
        };
        Some(w.found(close))
    }

    /// Walks members from the key at `i` to the closing `}`. With
    /// `find_log`, stops at the first `log` member instead when it holds a
    /// string (its value is the caller's); a first `log` member of another
    /// type means no later one is the log line.
    /// `skip_known`: once an error is known, later fields need no checking.
    fn walk_from(
        &self,
        record: &[u8],
        mut i: usize,
        mut find_log: bool,
        skip_known: bool,
        w: &mut Walked,
    ) -> Option<Stop> {
        loop {
            let (key, key_escaped, value_start) = read_key(record, i)?;
            let first = *record.get(value_start)?;
            if find_log && same(key, &self.log_key) {
                if first == b'"' {
                    return Some(Stop::LogLine { value_start });
                }
                find_log = false;
            }
            let value_end = if first == b'"' {
                string_end(record, value_start)?.0
            } else {
                skip_value(record, value_start)?.0
            };
            w.members += 1;
            if same(key, &self.mark_key) {
                w.mark = Some((value_start, value_end));
            }
            if !(w.error && skip_known) {
                let m = Member {
                    key,
                    key_escaped,
                    value_start,
                    value_end,
                };
                w.error |= self.fields.member_is_error(record, &m);
            }
            match after_member(record, value_end)? {
                Ok(next) => i = next,
                Err(close) => return Some(Stop::End { close }),
            }
        }
    }

    /// The log line, a JSON string whose opening quote is at `open`: scanned
    /// as it is when it can be, else unescaped and scanned. `known_error`:
    /// the record is an error already, so a JSON line need not be read.
    fn log_line(&self, record: &[u8], open: usize, known_error: bool, scratch: &mut Vec<u8>) -> Option<LogLine> {
        let start = open + 1;
        let (error, end) = match self.text.scan_escaped(record, start) {
            Escaped::Health => return Some(LogLine::Health),
            Escaped::Done { error, end } => (error, end),
            Escaped::Fallback => {
                let (end, escaped) = string_end(record, open)?;
                let body = record.get(start..end - 1)?;
                let Some(text) = unescaped(body, escaped, scratch) else {
                    // No memory to unescape into: the line counts as other.
                    return Some(LogLine::Scanned { error: false, end });
                };
                return Some(match self.text.scan(text) {
                    TextClass::Health => LogLine::Health,
                    TextClass::Error => LogLine::Scanned { error: true, end },
                    TextClass::Other => LogLine::Scanned {
                        error: !known_error && self.json_line_is_error(text),
                        end,
                    },
                });
            }
        };
        // A JSON log line: only its first byte is needed to know, and only
        // then is the line unescaped (its keys are all escaped quotes).
        let body = record.get(start..end).unwrap_or_default();
        let json = !error
            && !known_error
            && starts_json_object(body)
            && unescaped(body, true, scratch).is_some_and(|text| self.json_line_is_error(text));
        Some(LogLine::Scanned {
            error: error || json,
            end: end + 1,
        })
    }

    /// A log line that is a JSON object with a structured level or status.
    fn json_line_is_error(&self, text: &[u8]) -> bool {
        let open = skip_ws(text, 0);
        text.get(open) == Some(&b'{') && self.fields.object_is_error(text, open)
    }
}

/// An escaped string body that is a JSON object once unescaped: `{` after
/// spaces and `\n` `\t` `\r` (the escaped scan has already left any other
/// escape that could be whitespace to the reference path).
fn starts_json_object(body: &[u8]) -> bool {
    let mut i = 0;
    loop {
        match body.get(i) {
            Some(b' ') => i += 1,
            Some(b'\\') if matches!(body.get(i + 1), Some(b'n' | b't' | b'r')) => i += 2,
            Some(b'{') => return true,
            _ => return false,
        }
    }
}

/// Key equality, rejecting on length and first byte before comparing all.
#[inline(always)]
fn same(key: &[u8], want: &[u8]) -> bool {
    key.len() == want.len() && key.first() == want.first() && key == want
}

/// The text of a string body: as it is, or unescaped into `scratch`. `None`
/// when `scratch` cannot grow.
fn unescaped<'a>(body: &'a [u8], escaped: bool, scratch: &'a mut Vec<u8>) -> Option<&'a [u8]> {
    if !escaped {
        return Some(body);
    }
    scratch.clear();
    // Unescaping never grows the text: reserve once, no reallocation after.
    scratch.try_reserve(body.len()).ok()?;
    unescape_into(body, scratch);
    Some(scratch.as_slice())
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
