//! Rules over the text of a log line, in a single pass.
//!
//! Every byte is looked up in a 256-entry class table; only bytes that can
//! start something interesting (a literal's anchor byte, `[`, `=`, `"`) cost
//! more than that lookup. No regex engine: in Fluent Bit's interpreter every
//! Wasm instruction counts.
//!
//! This is the reference scan, over unescaped text. `escaped.rs` runs the same
//! rules over the log line as it sits in the record, still JSON-escaped.

use crate::Class;
use crate::http::{ErrorStatuses, is_target_and_version, request_method_len};
use crate::levels::Levels;
use crate::lexis::{is_key_byte, is_whole_word, is_word_byte, starts_token};
use crate::literals::{Literal, LiteralKind, anchor_bytes, anchor_of, is_plain};
use crate::prefilter::Prefilter;
use crate::rules::RulesFile;
use crate::stack;
use crate::swar::find1;
use crate::table::{entry, lookup};

/// Byte classes: what a byte may start.
pub(crate) const LITERAL: u8 = 1;
pub(crate) const BRACKET: u8 = 2;
pub(crate) const EQUALS: u8 = 4;
pub(crate) const QUOTE: u8 = 8;
/// Only in escaped text: a backslash starts an escape, a bare quote ends the string.
pub(crate) const ESCAPE: u8 = 16;
pub(crate) const END: u8 = 32;

/// The longest `[...]` looked at as a level (`[proxy_fcgi:error]` fits).
pub(crate) const MAX_BRACKET: usize = 32;

/// What the reference scan has seen so far.
#[derive(Default)]
struct ScanState {
    error: bool,
    /// A Java stack trace's header: with a frame, an error.
    java_header: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TextMatcher {
    class: [u8; 256],
    prefilter: Prefilter,
    /// Literals sorted by anchor byte; `by_anchor[b]` is the range anchored on `b`.
    literals: Vec<Literal>,
    by_anchor: [(u16, u16); 256],
    levels: Levels,
    level_keys: Vec<Vec<u8>>,
    status_keys: Vec<Vec<u8>>,
    statuses: ErrorStatuses,
    pub(crate) access_log: bool,
    pub(crate) stack_traces: bool,
    /// The class table and prefilter of the escaped scan, when it can run:
    /// every literal is plain (see `is_plain`).
    pub(crate) escaped: Option<([u8; 256], Prefilter)>,
}

impl TextMatcher {
    pub fn new(rules: &RulesFile, levels: Levels) -> Self {
        let e = &rules.error;
        let mut specs: Vec<(&[u8], LiteralKind)> = [
            (&rules.health.user_agents, LiteralKind::Health),
            (&e.words, LiteralKind::Word),
            (&e.contains, LiteralKind::Contains),
        ]
        .into_iter()
        .flat_map(|(list, kind)| list.iter().map(move |s| (s.as_bytes(), kind)))
        .filter(|(b, _)| !b.is_empty())
        .collect();
        let all: Vec<&[u8]> = specs.iter().map(|(b, _)| *b).collect();
        let mut chosen = anchor_bytes(&all);
        if e.stack_traces {
            // Built in, and anchored on the bytes the rules' own literals
            // chose where they can be (`k`, `C` by default): letting them
            // into the cover would trade `F` for the `T` of every `HTTP`.
            let built_in = [
                (stack::PYTHON_HEADER.as_bytes(), LiteralKind::Contains),
                (stack::JAVA_CAUSED_BY.as_bytes(), LiteralKind::JavaHeader),
            ];
            let uncovered: Vec<&[u8]> = built_in
                .iter()
                .map(|(b, _)| *b)
                .filter(|b| !b.iter().any(|c| chosen.contains(c)))
                .collect();
            chosen.extend(anchor_bytes(&uncovered));
            specs.extend(built_in);
        }
        let mut literals: Vec<Literal> = specs
            .iter()
            .map(|&(bytes, kind)| Literal::new(bytes, kind, anchor_of(bytes, &chosen)))
            .collect();
        // Health first so a line that is both is dropped as soon as it is seen.
        literals.sort_by_key(|l| (l.bytes.get(l.anchor).copied(), l.kind != LiteralKind::Health));

        let mut class = [0u8; 256];
        let mut by_anchor = [(0u16, 0u16); 256];
        for (i, l) in literals.iter().enumerate() {
            let Some(&b) = l.bytes.get(l.anchor) else { continue };
            let slot = entry(&mut by_anchor, b);
            if slot.1 == 0 {
                *slot = (i as u16, i as u16);
            }
            slot.1 = i as u16 + 1;
            *entry(&mut class, b) |= LITERAL;
        }
        *entry(&mut class, b'[') |= BRACKET;
        if !e.level_keys.is_empty() || !e.status_keys.is_empty() {
            *entry(&mut class, b'=') |= EQUALS;
        }
        // Escaped text: a quote ends the string and the access-log quote is
        // the escaped one, so `\\` stands for `"`.
        let mut escaped_class = class;
        *entry(&mut escaped_class, b'"') = END;
        *entry(&mut escaped_class, b'\\') = ESCAPE;
        if e.access_log || e.stack_traces {
            *entry(&mut class, b'"') |= QUOTE;
        }
        let escaped = literals
            .iter()
            .all(|l| l.bytes.iter().all(|&c| is_plain(c)))
            .then(|| (escaped_class, Prefilter::new(&escaped_class)));
        let lower = |v: &[String]| v.iter().map(|k| k.to_ascii_lowercase().into_bytes()).collect();
        Self {
            prefilter: Prefilter::new(&class),
            class,
            literals,
            by_anchor,
            levels,
            level_keys: lower(&e.level_keys),
            status_keys: lower(&e.status_keys),
            statuses: ErrorStatuses::new(e.status_min, e.status_max),
            access_log: e.access_log,
            stack_traces: e.stack_traces,
            escaped,
        }
    }

    /// The kinds of prefilter built: the reference scan's, the escaped scan's.
    pub(crate) fn prefilters(&self) -> (&'static str, Option<&'static str>) {
        (self.prefilter.kind(), self.escaped.as_ref().map(|(_, p)| p.kind()))
    }

    /// Classifies unescaped log text. A health checker wins over an error:
    /// the scan goes on after an error is seen, looking only for health.
    pub fn scan(&self, t: &[u8]) -> Class {
        let mut state = ScanState::default();
        let mut i = 0;
        // Eight bytes at a time; only flagged bytes get a closer look.
        let mut chunks = t.chunks_exact(8);
        for chunk in chunks.by_ref() {
            let mut flags = self
                .prefilter
                .flags(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
            while flags != 0 {
                let k = (flags.trailing_zeros() / 8) as usize;
                flags &= flags - 1;
                // Most flagged bytes (upper-case letters) start nothing.
                let Some(&c) = chunk.get(k) else { continue };
                let class = self.class_of(c);
                if class != 0 && self.at(t, i + k, c, class, &mut state) {
                    return Class::Health;
                }
            }
            i += 8;
        }
        for (k, &c) in chunks.remainder().iter().enumerate() {
            let class = self.class_of(c);
            if class != 0 && self.at(t, i + k, c, class, &mut state) {
                return Class::Health;
            }
        }
        if state.error || (state.java_header && stack::has_frame(t)) {
            Class::Error
        } else {
            Class::Other
        }
    }

    /// Looks at byte `c` (of non-zero `class`) at `i`; true for a health checker.
    #[inline]
    fn at(&self, t: &[u8], i: usize, c: u8, class: u8, state: &mut ScanState) -> bool {
        if class & LITERAL != 0 {
            for lit in self.anchored_on(c) {
                let Some(start) = lit.at(t, i) else { continue };
                match lit.kind {
                    LiteralKind::Health => return true,
                    LiteralKind::Word => state.error = state.error || is_whole_word(t, start, lit.bytes.len()),
                    LiteralKind::Contains => state.error = true,
                    LiteralKind::JavaHeader => state.java_header = true,
                }
            }
        }
        if !state.error && class & !LITERAL != 0 {
            state.error = match c {
                b'[' => {
                    self.bracket_level(t, i)
                        || (self.stack_traces
                            && stack::go_dump_at(t.get(..i).unwrap_or_default(), t.get(i..).unwrap_or_default()))
                }
                b'=' => self.logfmt_pair(t, i),
                b'"' => {
                    state.java_header |= self.stack_traces && stack::java_uncaught_at(t, 0, i);
                    self.access_log && self.access_log_status(t, i)
                }
                _ => false,
            };
        }
        false
    }

    #[inline]
    fn class_of(&self, c: u8) -> u8 {
        lookup(&self.class, c)
    }

    /// The literals anchored on byte `c`.
    #[inline]
    pub(crate) fn anchored_on(&self, c: u8) -> &[Literal] {
        let (s, e) = lookup(&self.by_anchor, c);
        self.literals.get(usize::from(s)..usize::from(e)).unwrap_or_default()
    }

    /// `[error]`, `[ CRIT ]`, Apache's `[core:error]`; not an index like `matrix[err]`.
    fn bracket_level(&self, t: &[u8], i: usize) -> bool {
        if i.checked_sub(1)
            .and_then(|p| t.get(p))
            .is_some_and(|&c| is_word_byte(c))
        {
            return false;
        }
        let after = t.get(i + 1..).unwrap_or_default();
        self.bracket_window_is_level(after.get(..MAX_BRACKET.min(after.len())).unwrap_or_default())
    }

    /// `window`: up to `MAX_BRACKET` bytes of text after a `[` that follows
    /// no word byte. A level bracket starts with a letter (`[error]`,
    /// `[ crit ]`, `[core:error]`), so timestamps and pids are rejected at once.
    pub(crate) fn bracket_window_is_level(&self, window: &[u8]) -> bool {
        if !window.trim_ascii_start().first().is_some_and(u8::is_ascii_alphabetic) {
            return false;
        }
        let Some(close) = find1(window, 0, b']') else {
            return false;
        };
        let inner = window.get(..close).unwrap_or_default().trim_ascii();
        let level = inner.rsplit(|&c| c == b':').next().unwrap_or_default();
        self.levels.contains(level)
    }

    /// `level=error`, `severity="FATAL"`, `lvl=err`, `status=503`; the key
    /// must start a token, so `?level=error` in a URL does not count.
    fn logfmt_pair(&self, t: &[u8], i: usize) -> bool {
        let before = t.get(..i).unwrap_or_default();
        let key_len = before.iter().rev().take_while(|&&c| is_key_byte(c)).count();
        let key_start = i - key_len;
        let before_key = key_start.checked_sub(1).and_then(|p| t.get(p)).copied();
        let mut value = t.get(i + 1..).unwrap_or_default();
        if let Some(v) = value.strip_prefix(b"\"") {
            value = v;
        }
        self.logfmt_is_error(before.get(key_start..).unwrap_or_default(), before_key, value)
    }

    /// A logfmt pair: `key` (key bytes only), the byte before it (none at the
    /// start of the text), and the text after `=` and an opening quote.
    pub(crate) fn logfmt_is_error(&self, key: &[u8], before_key: Option<u8>, value: &[u8]) -> bool {
        if key.is_empty() || !before_key.is_none_or(starts_token) {
            return false;
        }
        let value_len = value.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        if value.get(value_len).is_some_and(|&c| c == b'_') {
            return false;
        }
        let value = value.get(..value_len).unwrap_or_default();
        if self.level_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) && self.levels.contains(value) {
            return true;
        }
        self.status_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) && self.statuses.contains_digits(value)
    }

    /// The status right after a quoted request line: `"GET /x HTTP/1.1" 503 12`,
    /// or nginx's `"-" 400 0` for a request it could not parse.
    fn access_log_status(&self, t: &[u8], i: usize) -> bool {
        let rest = t.get(i + 1..).unwrap_or_default();
        // Cheap rejections (a method, then a space) before searching for the closing quote.
        let quoted_len = match rest.first() {
            Some(b'-') if rest.get(1) == Some(&b'"') => 1,
            Some(c) if c.is_ascii_uppercase() => {
                let Some(method_len) = request_method_len(rest) else {
                    return false;
                };
                match find1(rest, method_len, b'"') {
                    Some(n) if is_target_and_version(rest.get(method_len..n).unwrap_or_default()) => n,
                    _ => return false,
                }
            }
            _ => return false,
        };
        self.status_follows(rest.get(quoted_len + 1..).unwrap_or_default())
    }

    /// `after`: the text right after the closing quote of a request line.
    pub(crate) fn status_follows(&self, after: &[u8]) -> bool {
        let spaces = after.iter().take_while(|&&c| c == b' ').count();
        if spaces == 0 {
            return false;
        }
        let field = after.get(spaces..).unwrap_or_default();
        let digits = field.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits != 3 || field.get(3).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.') {
            return false;
        }
        self.statuses.contains_digits(field.get(..3).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_give_the_escaped_scan_an_exact_prefilter() {
        // Four literal anchors plus `"`, `\`, `[` and `=`: eight bytes, tested exactly.
        let rules = RulesFile::default();
        let m = TextMatcher::new(&rules, Levels::new(&rules.error.levels));
        assert_eq!(m.escaped.as_ref().map(|(_, p)| p.kind()), Some("Exact"));
    }
}
