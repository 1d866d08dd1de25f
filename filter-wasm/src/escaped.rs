//! The text rules run over the log line as it sits in the record: still
//! JSON-escaped, in one pass that also finds where the string ends.
//!
//! Unescaping a line first costs more than classifying it (an access log has
//! a `\"` every few words), and finding the string's end is a pass of its own.
//! This scan does both at once and gives the same answer as `TextMatcher::scan`
//! over the unescaped line, because:
//! - every literal is plain (`is_plain`, else this scan is not used), so it
//!   matches a run of plain bytes, which is the same in both forms;
//! - where a rule looks at the byte next to a match (word boundaries, the byte
//!   before a logfmt key or a `[`), an escape there is decoded first;
//! - the access-log quote is `\"`, and every other quote inside the string is
//!   escaped, so the first `"` after a request line is the same one in both;
//! - an escape that would make plain text (`\u0041`, `\/`) or is invalid, and
//!   a bracket holding escapes, are left to the reference scan (`Undecided`).
//!   Fluent Bit writes none of them.

use crate::http::{is_target_and_version, request_method_len};
use crate::json::{Decoded, decode_escape, string_end};
use crate::lexis::{is_key_byte, is_word_byte};
use crate::literals::LiteralKind;
use crate::stack;
use crate::table::lookup;
use crate::text::{BRACKET, END, EQUALS, ESCAPE, LITERAL, MAX_BRACKET, TextMatcher};
use std::ops::ControlFlow;

/// What the scan of a string body concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A health checker, in a string that ends: nothing else about the
    /// record matters.
    Health,
    /// The string ends (its closing quote) at `end`; `error` if a rule matched.
    Scanned { error: bool, end: usize },
    /// Something only the reference scan decides; nothing was concluded.
    Undecided,
}

/// Stands for any non-ASCII character: neither a word byte nor a token start.
const NON_ASCII: u8 = 0x80;

/// What the scan knows of escapes so far.
struct Cursor {
    /// Where the string body starts.
    start: usize,
    error: bool,
    /// A Java stack trace's header: with a frame, an error.
    java_header: bool,
    /// Flagged bytes before this are inside an escape already handled.
    skip: usize,
    /// Where the latest escape ends, and the byte it stands for.
    escape_end: usize,
    escape_byte: u8,
}

impl TextMatcher {
    /// Classifies the JSON string body starting at `b[start]` (just after its
    /// opening quote), which runs up to the first unescaped `"`.
    pub(crate) fn scan_escaped(&self, b: &[u8], start: usize) -> Verdict {
        let Some((class, prefilter)) = &self.escaped else {
            return Verdict::Undecided;
        };
        let mut cur = Cursor {
            start,
            error: false,
            java_header: false,
            skip: start,
            escape_end: 0,
            escape_byte: 0,
        };
        let mut i = start;
        // Eight bytes at a time; only flagged bytes get a closer look.
        while let Some(chunk) = b.get(i..i + 8) {
            let mut flags = prefilter.flags(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
            while flags != 0 {
                let p = i + (flags.trailing_zeros() / 8) as usize;
                flags &= flags - 1;
                let Some(&c) = b.get(p) else { continue };
                let cls = lookup(class, c);
                if cls != 0
                    && p >= cur.skip
                    && let ControlFlow::Break(r) = self.escaped_at(b, p, c, cls, &mut cur)
                {
                    return r;
                }
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            let cls = lookup(class, c);
            if cls != 0
                && i >= cur.skip
                && let ControlFlow::Break(r) = self.escaped_at(b, i, c, cls, &mut cur)
            {
                return r;
            }
            i += 1;
        }
        // No closing quote: not a string Fluent Bit wrote.
        Verdict::Undecided
    }

    #[inline]
    fn escaped_at(&self, b: &[u8], p: usize, c: u8, cls: u8, cur: &mut Cursor) -> ControlFlow<Verdict> {
        if cls & END != 0 {
            let body = b.get(cur.start..p).unwrap_or_default();
            return ControlFlow::Break(Verdict::Scanned {
                error: cur.error || (cur.java_header && stack::has_frame_escaped(body)),
                end: p,
            });
        }
        if cls & ESCAPE != 0 {
            // Decoded as the reference path decodes it; what makes plain
            // ASCII (`\u0041`, `\/`) or is invalid is the reference's to read.
            // `\"` is nearly every escape in access logs: it skips the call.
            let decoded = match b.get(p + 1) {
                Some(b'"') => (2, Decoded::Byte(b'"')),
                _ => decode_escape(b.get(p..).unwrap_or_default()),
            };
            let (len, byte) = match decoded {
                (len, Decoded::Byte(c)) if c != b'/' => (len, c),
                // Non-ASCII, surrogate pairs and lone surrogates included: only
                // ever a boundary.
                (len, Decoded::Char(c)) if !c.is_ascii() => (len, NON_ASCII),
                _ => return ControlFlow::Break(Verdict::Undecided),
            };
            cur.skip = p + len;
            cur.escape_end = p + len;
            cur.escape_byte = byte;
            if byte == b'"' && !cur.error {
                // A request line opens with a method or nginx's `-`: most quotes
                // (closing ones, user agents) are rejected here, without a call.
                if self.access_log && b.get(p + 2).is_some_and(|&c| c.is_ascii_uppercase() || c == b'-') {
                    cur.error = self.escaped_access_log_status(b, p);
                }
                if self.stack_traces && stack::java_uncaught_at(b, cur.start, p) {
                    cur.java_header = true;
                }
            }
            return ControlFlow::Continue(());
        }
        if cls & LITERAL != 0 {
            for lit in self.anchored_on(c) {
                let Some(start) = lit.at(b, p) else { continue };
                // A plain literal can still begin inside the latest escape
                // (`ne` in `\neRROR`, hex digits of `\u00e9`): not in the text.
                if start < cur.escape_end {
                    continue;
                }
                match lit.kind {
                    // The string must end, as the reference scan needs it to.
                    LiteralKind::Health => {
                        return ControlFlow::Break(match p.checked_sub(1).and_then(|q| string_end(b, q)) {
                            Some(_) => Verdict::Health,
                            None => Verdict::Undecided,
                        });
                    }
                    LiteralKind::Word => {
                        cur.error = cur.error
                            || (!before(b, start, cur).is_some_and(is_word_byte)
                                && !after(b, start + lit.bytes.len()).is_some_and(is_word_byte));
                    }
                    LiteralKind::Contains => cur.error = true,
                    LiteralKind::JavaHeader => cur.java_header = true,
                }
            }
        }
        if cur.error {
            return ControlFlow::Continue(());
        }
        if cls & BRACKET != 0 {
            cur.error = self.escaped_bracket_level(b, p, cur)
                || (self.stack_traces
                    && b.get(p + 1) == Some(&b'r')
                    && stack::go_dump_at(b.get(cur.start..p).unwrap_or_default(), b.get(p..).unwrap_or_default()));
        } else if cls & EQUALS != 0 {
            cur.error = self.escaped_logfmt_pair(b, p, cur);
        }
        ControlFlow::Continue(())
    }

    /// `[error]` as in `TextMatcher::bracket_level`, `[` at `p`.
    fn escaped_bracket_level(&self, b: &[u8], p: usize, cur: &Cursor) -> bool {
        if before(b, p, cur).is_some_and(is_word_byte) {
            return false;
        }
        let after = b.get(p + 1..).unwrap_or_default();
        // A digit is the same byte unescaped: `[24/Nov/2026:…]` ends here.
        if after.first().is_some_and(u8::is_ascii_digit) {
            return false;
        }
        let window = after.get(..MAX_BRACKET.min(after.len())).unwrap_or_default();
        // Up to the first `]`, `"` (the end) or `\\`, the window is the same
        // text as in the unescaped line; past an escape it is decoded.
        match window.iter().position(|&c| matches!(c, b']' | b'"' | b'\\')) {
            Some(k) if window.get(k) == Some(&b']') => self.bracket_window_is_level(window),
            Some(k) if window.get(k) == Some(&b'"') => false,
            Some(_) => {
                let mut buf = [0u8; MAX_BRACKET];
                let n = unescape_prefix(after, &mut buf);
                self.bracket_window_is_level(buf.get(..n).unwrap_or_default())
            }
            None => false,
        }
    }

    /// `level=error` as in `TextMatcher::logfmt_pair`, `=` at `p`.
    fn escaped_logfmt_pair(&self, b: &[u8], p: usize, cur: &Cursor) -> bool {
        // The key is plain bytes after the latest escape (which ends at or
        // before `p`: escapes are read in order).
        let mut key_start = p;
        while key_start > cur.escape_end && b.get(key_start - 1).is_some_and(|&c| is_key_byte(c)) {
            key_start -= 1;
        }
        let key = b.get(key_start..p).unwrap_or_default();
        let mut value = b.get(p + 1..).unwrap_or_default();
        if let Some(v) = value.strip_prefix(b"\\\"") {
            value = v;
        }
        self.logfmt_is_error(key, before(b, key_start, cur), value)
    }

    /// The status after a request line whose opening quote is the `\"` at `p`.
    fn escaped_access_log_status(&self, b: &[u8], p: usize) -> bool {
        let rest = b.get(p + 2..).unwrap_or_default();
        let after_quote = match rest.first() {
            Some(b'-') if rest.get(1..3) == Some(b"\\\"") => 3,
            Some(c) if c.is_ascii_uppercase() => {
                let Some(method_len) = request_method_len(rest) else {
                    return false;
                };
                // Inside the string every `"` is escaped; a bare one ends it.
                let Some(q) = crate::swar::find1(rest, method_len, b'"') else {
                    return false;
                };
                if !is_escaped_quote(rest, q) {
                    return false;
                }
                let target = rest.get(method_len..q - 1).unwrap_or_default();
                if !is_target_and_version(target) {
                    return false;
                }
                q + 1
            }
            _ => return false,
        };
        self.status_follows(rest.get(after_quote..).unwrap_or_default())
    }
}

/// The byte before `i` in the unescaped text: an escape's byte if one ends there.
#[inline]
fn before(b: &[u8], i: usize, cur: &Cursor) -> Option<u8> {
    if i == cur.escape_end {
        return Some(cur.escape_byte);
    }
    b.get(i.checked_sub(1)?).copied()
}

/// The byte at `i` in the unescaped text (the quote that ends the string
/// stands for its end, which no rule tells apart from a `"`). An escape that
/// makes plain ASCII counts as non-ASCII here: the scan falls back when it
/// reaches it.
#[inline]
fn after(b: &[u8], i: usize) -> Option<u8> {
    match b.get(i) {
        Some(b'\\') => match decode_escape(b.get(i..).unwrap_or_default()).1 {
            Decoded::Byte(c) => Some(c),
            _ => Some(NON_ASCII),
        },
        c => c.copied(),
    }
}

/// The quote at `q` is preceded by an odd run of backslashes.
fn is_escaped_quote(s: &[u8], q: usize) -> bool {
    let run = s
        .get(..q)
        .unwrap_or_default()
        .iter()
        .rev()
        .take_while(|&&c| c == b'\\')
        .count();
    run % 2 == 1
}

/// The first bytes of a string body's text, unescaped into `buf` as the
/// reference path unescapes them. Returns how many.
fn unescape_prefix(raw: &[u8], buf: &mut [u8]) -> usize {
    let mut n = 0;
    crate::json::unescape_each(raw, |piece| {
        for &c in piece {
            let Some(slot) = buf.get_mut(n) else { return false };
            *slot = c;
            n += 1;
        }
        true
    });
    n
}
