//! Reading the log line: the scan over it as it sits in the record, still
//! escaped (`escaped.rs`), or, where that scan cannot decide, unescaped and
//! read by the reference scan (`text.rs`); then, if no text rule matched, a
//! line that is a JSON object is read for its structured fields.

use crate::Class;
use crate::classify::Classifier;
use crate::escaped::Verdict;
use crate::json::{skip_ws, string_end, unescape_into};

/// What the log line says.
pub(crate) enum LogLine {
    Health,
    /// `end`: one past the string's closing quote.
    Scanned {
        error: bool,
        end: usize,
    },
}

impl Classifier {
    /// The log line, a JSON string whose opening quote is at `open`.
    /// `known_error`: the record is an error already, so a JSON line need
    /// not be read.
    pub(crate) fn log_line(
        &self,
        record: &[u8],
        open: usize,
        known_error: bool,
        scratch: &mut Vec<u8>,
    ) -> Option<LogLine> {
        let start = open + 1;
        let (error, end) = match self.text.scan_escaped(record, start) {
            Verdict::Health => return Some(LogLine::Health),
            Verdict::Scanned { error, end } => (error, end),
            Verdict::Undecided => {
                let (end, escaped) = string_end(record, open)?;
                let body = record.get(start..end - 1)?;
                let Some(text) = unescaped(body, escaped, scratch) else {
                    // No memory to unescape into: the line counts as other.
                    return Some(LogLine::Scanned { error: false, end });
                };
                return Some(match self.text.scan(text) {
                    Class::Health => LogLine::Health,
                    Class::Error => LogLine::Scanned { error: true, end },
                    Class::Other => LogLine::Scanned {
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
    pub(crate) fn json_line_is_error(&self, text: &[u8]) -> bool {
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
