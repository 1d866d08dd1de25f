//! Rules over the text of a log line, in a single pass.
//!
//! Every byte is looked up in a 256-entry class table; only bytes that can
//! start something interesting (a literal's anchor byte, `[`, `=`, `"`) cost
//! more than that lookup. No regex engine: in Fluent Bit's interpreter every
//! Wasm instruction counts.
//!
//! This is the reference scan, over unescaped text. `escaped.rs` runs the same
//! rules over the log line as it sits in the record, still JSON-escaped.

use crate::rules::RulesFile;
use crate::swar::{find1, zero_bytes};
use std::ops::RangeInclusive;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextClass {
    Health,
    Error,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiteralKind {
    Health,
    Word,
    Contains,
}

#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub bytes: Vec<u8>,
    pub kind: LiteralKind,
    /// Offset of the byte the scan stops at (`by_anchor`): its rarest byte
    /// among the few chosen for all literals (`anchor_bytes`), so that common
    /// letters (the `E` of `GET`) cost nothing.
    pub anchor: usize,
    /// The first four bytes (fewer for a shorter literal, zero-padded) and
    /// the mask that keeps them: most candidates fail this one comparison.
    head: u32,
    head_mask: u32,
}

impl Literal {
    fn new(bytes: &[u8], kind: LiteralKind, anchor: usize) -> Self {
        let mut head = [0u8; 4];
        let mut mask = [0u8; 4];
        for ((h, m), &b) in head.iter_mut().zip(mask.iter_mut()).zip(bytes) {
            *h = b;
            *m = 0xff;
        }
        Self {
            bytes: bytes.to_vec(),
            kind,
            anchor,
            head: u32::from_le_bytes(head),
            head_mask: u32::from_le_bytes(mask),
        }
    }

    /// Does the literal anchored at `i` sit in `t`? Returns where it starts.
    #[inline]
    pub fn at(&self, t: &[u8], i: usize) -> Option<usize> {
        let start = i.checked_sub(self.anchor)?;
        let end = start.checked_add(self.bytes.len())?;
        let candidate = t.get(start..end)?;
        if let Some(four) = t.get(start..start + 4) {
            let v = u32::from_le_bytes(four.try_into().unwrap_or([0; 4]));
            if v & self.head_mask != self.head {
                return None;
            }
        }
        (candidate == self.bytes.as_slice()).then_some(start)
    }
}

/// How rare a byte is in log text, roughly: higher is rarer. Letters by
/// their frequency in English, capitals rarer than small letters; digits,
/// spaces and punctuation are the most common of all.
fn rarity(c: u8) -> usize {
    const ORDER: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";
    let rank = ORDER
        .iter()
        .position(|&o| o == c.to_ascii_lowercase())
        .map_or(0, |r| r + 1);
    rank + if c.is_ascii_uppercase() { 30 } else { 0 }
}

/// The bytes the scan stops at for literals: few, and rare. Greedy set
/// cover: each step takes the byte found in the most literals not yet
/// covered, the rarer on a tie. The defaults need four (`R C F k`), so the
/// common capitals of `GET` and `HTTP` stop nothing.
fn anchor_bytes(literals: &[&[u8]]) -> Vec<u8> {
    let mut covered = vec![false; literals.len()];
    let mut chosen = Vec::new();
    while covered.iter().any(|c| !c) {
        let mut best: Option<(usize, usize, u8)> = None;
        for b in 0..=255u8 {
            let n = literals
                .iter()
                .zip(&covered)
                .filter(|(l, c)| !**c && l.contains(&b))
                .count();
            if n > 0 && best.is_none_or(|(bn, br, _)| (n, rarity(b)) > (bn, br)) {
                best = Some((n, rarity(b), b));
            }
        }
        let Some((_, _, b)) = best else { break };
        chosen.push(b);
        for (l, c) in literals.iter().zip(covered.iter_mut()) {
            *c = *c || l.contains(&b);
        }
    }
    chosen
}

/// Where a literal is anchored: its rarest byte among the chosen ones.
fn anchor_of(lit: &[u8], chosen: &[u8]) -> usize {
    let mut best: Option<usize> = None;
    for (i, &c) in lit.iter().enumerate() {
        if chosen.contains(&c) && best.and_then(|j| lit.get(j)).is_none_or(|&b| rarity(c) > rarity(b)) {
            best = Some(i);
        }
    }
    best.unwrap_or(0)
}

/// Bytes a JSON string holds as themselves: a literal made only of these
/// matches the escaped text exactly where it matches the unescaped text.
pub(crate) fn is_plain(c: u8) -> bool {
    (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\'
}

/// Level names of error or worse, compared without regard to ASCII case.
#[derive(Debug, Clone)]
pub(crate) struct Levels(Vec<Vec<u8>>);

impl Levels {
    pub fn new(levels: &[String]) -> Self {
        Self(levels.iter().map(|l| l.to_ascii_lowercase().into_bytes()).collect())
    }

    #[inline]
    pub fn contains(&self, word: &[u8]) -> bool {
        self.0.iter().any(|l| l.eq_ignore_ascii_case(word))
    }
}

/// Which bytes of an 8-byte chunk may start something. Flags are a superset;
/// the class table decides.
#[derive(Debug, Clone)]
pub(crate) enum Prefilter {
    /// Up to eight trigger bytes, each tested for equality (repeated to
    /// fill), stored broadcast to all eight lanes.
    Exact([u64; MAX_EXACT]),
    /// More: a range test for `A`..=`\` (capitals, `[` and the backslash) plus
    /// equality tests for up to four bytes outside it.
    RangePlus([u64; MAX_EXTRA]),
    /// Too many trigger bytes outside the range: look at every byte.
    Every,
}

const MAX_EXACT: usize = 8;
const MAX_EXTRA: usize = 4;
const RANGE_LO: u8 = b'A';
/// `[` and the backslash follow `Z`: brackets and escapes are in the range.
const RANGE_HI: u8 = b'\\';

/// `bytes` broadcast to `N` lanes, the first repeated to fill; `None` when
/// there are none or more than `N`.
fn lanes<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    let (&first, _) = bytes.split_first().filter(|_| bytes.len() <= N)?;
    let mut lanes = [splat(first); N];
    for (lane, &b) in lanes.iter_mut().zip(bytes) {
        *lane = splat(b);
    }
    Some(lanes)
}

impl Prefilter {
    pub(crate) fn new(class: &[u8; 256]) -> Self {
        let triggers: Vec<u8> = (0..=255u8).filter(|&b| lookup(class, b) != 0).collect();
        if let Some(l) = lanes(&triggers) {
            return Self::Exact(l);
        }
        let extra: Vec<u8> = triggers
            .into_iter()
            .filter(|b| !(RANGE_LO..=RANGE_HI).contains(b))
            .collect();
        if extra.is_empty() {
            // A repeated test of an in-range byte changes nothing.
            return Self::RangePlus([splat(RANGE_LO); MAX_EXTRA]);
        }
        lanes(&extra).map_or(Self::Every, Self::RangePlus)
    }

    /// High bit set in each byte of `v` that may be a trigger.
    #[inline(always)]
    pub(crate) fn flags(&self, v: u64) -> u64 {
        const HI: u64 = 0x8080_8080_8080_8080;
        const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let extra = match self {
            Self::Exact(lanes) => {
                let [a, b, c, d, e, f, g, h] = *lanes;
                let z = |s: u64| zero_bytes(v ^ s);
                return z(a) | z(b) | z(c) | z(d) | z(e) | z(f) | z(g) | z(h);
            }
            Self::RangePlus(extra) => extra,
            Self::Every => return HI,
        };
        // Per byte, x7 + (0x80 - n) has its high bit set iff x7 >= n; no
        // carry crosses bytes since x7 <= 0x7f.
        let x7 = v & LO7;
        let ge_lo = x7 + (0x80 - u64::from(RANGE_LO)) * 0x0101_0101_0101_0101;
        let ge_hi = x7 + (0x80 - u64::from(RANGE_HI) - 1) * 0x0101_0101_0101_0101;
        let in_range = ge_lo & !ge_hi & !v & HI;
        let [a, b, c, d] = *extra;
        in_range | zero_bytes(v ^ a) | zero_bytes(v ^ b) | zero_bytes(v ^ c) | zero_bytes(v ^ d)
    }
}

fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * u64::from(b)
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
    status: RangeInclusive<u16>,
    pub(crate) access_log: bool,
    /// The class table and prefilter of the escaped scan, when it can run:
    /// every literal is plain (see `is_plain`).
    pub(crate) escaped: Option<([u8; 256], Prefilter)>,
}

impl TextMatcher {
    pub fn new(rules: &RulesFile, levels: Levels) -> Self {
        let e = &rules.error;
        let mut literals: Vec<Literal> = Vec::new();
        let lists = [
            (&rules.health.user_agents, LiteralKind::Health),
            (&e.words, LiteralKind::Word),
            (&e.contains, LiteralKind::Contains),
        ];
        let all: Vec<&[u8]> = lists
            .iter()
            .flat_map(|(list, _)| list.iter().map(|s| s.as_bytes()))
            .filter(|b| !b.is_empty())
            .collect();
        let chosen = anchor_bytes(&all);
        for (list, kind) in lists {
            for s in list.iter().filter(|s| !s.is_empty()) {
                literals.push(Literal::new(s.as_bytes(), kind, anchor_of(s.as_bytes(), &chosen)));
            }
        }
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
        if e.access_log {
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
            status: e.status_min..=e.status_max,
            access_log: e.access_log,
            escaped,
        }
    }

    /// Classifies unescaped log text. A health checker wins over an error:
    /// the scan goes on after an error is seen, looking only for health.
    pub fn scan(&self, t: &[u8]) -> TextClass {
        let mut error = false;
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
                if class != 0 && self.at(t, i + k, c, class, &mut error) {
                    return TextClass::Health;
                }
            }
            i += 8;
        }
        for (k, &c) in chunks.remainder().iter().enumerate() {
            let class = self.class_of(c);
            if class != 0 && self.at(t, i + k, c, class, &mut error) {
                return TextClass::Health;
            }
        }
        if error { TextClass::Error } else { TextClass::Other }
    }

    /// Looks at byte `c` (of non-zero `class`) at `i`; true for a health checker.
    #[inline]
    fn at(&self, t: &[u8], i: usize, c: u8, class: u8, error: &mut bool) -> bool {
        if class & LITERAL != 0 {
            for lit in self.anchored_on(c) {
                let Some(start) = lit.at(t, i) else { continue };
                match lit.kind {
                    LiteralKind::Health => return true,
                    LiteralKind::Word => *error = *error || is_whole_word(t, start, lit.bytes.len()),
                    LiteralKind::Contains => *error = true,
                }
            }
        }
        if !*error && class & !LITERAL != 0 {
            *error = match c {
                b'[' => self.bracket_level(t, i),
                b'=' => self.logfmt_pair(t, i),
                b'"' => self.access_log_status(t, i),
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
        self.status_keys.iter().any(|k| k.eq_ignore_ascii_case(key)) && self.is_error_status(value)
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
        self.is_error_status(field.get(..3).unwrap_or_default())
    }

    fn is_error_status(&self, digits: &[u8]) -> bool {
        parse_status(digits).is_some_and(|s| self.status.contains(&s))
    }
}

// A u8 always indexes a 256-entry table: these two are the only places
// the crate indexes without `get`.

/// The entry for byte `b` of a 256-entry table.
#[inline]
#[allow(clippy::indexing_slicing)]
pub(crate) fn entry<T>(table: &mut [T; 256], b: u8) -> &mut T {
    &mut table[usize::from(b)]
}

/// The value for byte `b` of a 256-entry table.
#[inline(always)]
#[allow(clippy::indexing_slicing)]
pub(crate) fn lookup<T: Copy>(table: &[T; 256], b: u8) -> T {
    table[usize::from(b)]
}

/// Exactly three ASCII digits.
pub(crate) fn parse_status(digits: &[u8]) -> Option<u16> {
    match digits {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

/// `GET ` starting `rest`: an upper-case method of 3 to 16 letters and a
/// space. Returns the method's length.
#[inline]
pub(crate) fn request_method_len(rest: &[u8]) -> Option<usize> {
    let len = rest.iter().take_while(|c| c.is_ascii_uppercase()).count();
    ((3..=16).contains(&len) && rest.get(len) == Some(&b' ')).then_some(len)
}

/// What follows a request method: ` target HTTP/1.1` (or `HTTP/2`).
pub(crate) fn is_target_and_version(rest: &[u8]) -> bool {
    let Some(last_space) = rest.iter().rposition(|&c| c == b' ') else {
        return false;
    };
    // A space opens it and a target sits between it and the version.
    if rest.first() != Some(&b' ') || last_space <= 1 {
        return false;
    }
    rest.get(last_space + 1..)
        .and_then(|proto| proto.strip_prefix(b"HTTP/"))
        .is_some_and(|v| !v.is_empty() && v.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
}

#[inline]
pub(crate) fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn is_whole_word(t: &[u8], start: usize, len: usize) -> bool {
    let before_ok = start
        .checked_sub(1)
        .and_then(|p| t.get(p))
        .is_none_or(|&c| !is_word_byte(c));
    before_ok && t.get(start + len).is_none_or(|&c| !is_word_byte(c))
}

#[inline]
pub(crate) fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// Bytes after which a logfmt key may start.
#[inline]
fn starts_token(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b',' | b';' | b'|' | b'(' | b'[' | b'{' | b'"' | b'\'')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_literals_are_anchored_on_four_rare_bytes() {
        let rules = RulesFile::default();
        let all: Vec<&[u8]> = [&rules.health.user_agents, &rules.error.words]
            .iter()
            .flat_map(|l| l.iter().map(|s| s.as_bytes()))
            .collect();
        let mut chosen = anchor_bytes(&all);
        chosen.sort_unstable();
        assert_eq!(chosen, b"CFRk");
        // Every literal holds one of them, so the scan cannot miss it.
        assert!(all.iter().all(|l| l.iter().any(|c| chosen.contains(c))));
        // With `"`, `\`, `[` and `=` that is eight bytes: tested exactly.
        let m = TextMatcher::new(&rules, Levels::new(&rules.error.levels));
        assert!(matches!(m.escaped, Some((_, Prefilter::Exact(_)))));
    }

    #[test]
    fn exact_prefilter_flags_every_trigger_byte() {
        let mut class = [0u8; 256];
        for &b in b"\"\\[=RCFk" {
            class[usize::from(b)] = 1;
        }
        let p = Prefilter::new(&class);
        for b in 0..=255u8 {
            for lane in 0..8 {
                let mut v = [b'x'; 8];
                v[lane] = b;
                let flagged = p.flags(u64::from_le_bytes(v)) & (0x80 << (8 * lane)) != 0;
                assert!(flagged || class[usize::from(b)] == 0, "byte {b:#x} lane {lane}");
            }
        }
    }
}
