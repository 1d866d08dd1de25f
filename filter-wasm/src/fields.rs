//! Rules over structured fields: the record's own members, and the members of
//! a log line that is itself a JSON object.
//!
//! A configured key is a dotted path. `log.level` matches a flat key
//! `"log.level"` as well as `{"log":{"level":…}}` (and any mix), so both the
//! ECS flat form and nested forms work without separate rules.

use crate::http::ErrorStatuses;
use crate::json::{Member, walk_object};
use crate::levels::Levels;
use crate::rules::{MAX_FIELD_KEYS as MAX_PATHS, MAX_KEY_SEGMENTS as MAX_DEPTH, RulesFile};
use crate::table::{entry, lookup};

/// Keys longer than this share one length bucket.
const MAX_KEY_LEN: usize = 63;

const LEVEL: u8 = 1;
const NUMERIC_LEVEL: u8 = 2;
const STATUS: u8 = 4;

#[derive(Debug, Clone)]
struct FieldPath {
    full: Vec<u8>,
    /// Byte offsets where each segment starts in `full`.
    starts: Vec<usize>,
    kinds: u8,
}

impl FieldPath {
    /// The path from segment `depth` on, as one flat key (`level` of `log.level` at depth 1).
    fn rest(&self, depth: usize) -> &[u8] {
        self.starts
            .get(depth)
            .and_then(|&s| self.full.get(s..))
            .unwrap_or_default()
    }

    /// Segment `depth` alone, when more segments follow it.
    fn inner_segment(&self, depth: usize) -> Option<&[u8]> {
        let start = *self.starts.get(depth)?;
        let next = *self.starts.get(depth + 1)?;
        self.full.get(start..next - 1)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FieldMatcher {
    paths: Vec<FieldPath>,
    /// Paths having a segment or flat remainder that starts with a given byte,
    /// and that has a given length: most keys (`container_id`, `source`, …)
    /// are rejected with two lookups.
    by_first: [u64; 256],
    by_len: [u64; MAX_KEY_LEN + 1],
    all: u64,
    levels: Levels,
    numeric_level_min: i64,
    statuses: ErrorStatuses,
}

impl FieldMatcher {
    /// `rules` must be validated (`RulesFile::validate` bounds the number of
    /// keys and their segments); anything past the bounds is never matched.
    pub fn new(rules: &RulesFile, levels: Levels) -> Self {
        let e = &rules.error;
        let mut paths: Vec<FieldPath> = Vec::new();
        let groups = [
            (&e.level_keys, LEVEL),
            (&e.numeric_level_keys, NUMERIC_LEVEL),
            (&e.status_keys, STATUS),
        ];
        for (keys, kind) in groups {
            for key in keys {
                if let Some(p) = paths.iter_mut().find(|p| p.full == key.as_bytes()) {
                    p.kinds |= kind;
                    continue;
                }
                let mut starts = vec![0];
                starts.extend(key.match_indices('.').map(|(i, _)| i + 1));
                paths.push(FieldPath {
                    full: key.as_bytes().to_vec(),
                    starts,
                    kinds: kind,
                });
            }
        }
        paths.truncate(MAX_PATHS); // the bit set's width
        let mut by_first = [0u64; 256];
        let mut by_len = [0u64; MAX_KEY_LEN + 1];
        for (i, p) in paths.iter().enumerate() {
            for (depth, &s) in p.starts.iter().enumerate() {
                if let Some(&b) = p.full.get(s) {
                    *entry(&mut by_first, b) |= 1 << i;
                }
                // A key can match the flat remainder or the single segment.
                for len in [p.rest(depth).len(), p.inner_segment(depth).map_or(0, <[u8]>::len)] {
                    if let Some(slot) = by_len.get_mut(len.min(MAX_KEY_LEN)) {
                        *slot |= 1 << i;
                    }
                }
            }
        }
        let all = if paths.len() == 64 {
            u64::MAX
        } else {
            (1u64 << paths.len()) - 1
        };
        Self {
            paths,
            by_first,
            by_len,
            all,
            levels,
            numeric_level_min: e.numeric_level_min,
            statuses: ErrorStatuses::new(e.status_min, e.status_max),
        }
    }

    /// Does this member of a top-level object make the record an error?
    #[inline]
    pub fn member_is_error(&self, src: &[u8], m: &Member<'_>) -> bool {
        self.member_at(src, m, 0, self.all)
    }

    /// Does any member of the object at `open` make the record an error?
    pub fn object_is_error(&self, src: &[u8], open: usize) -> bool {
        self.object_at(src, open, 0, self.all)
    }

    fn object_at(&self, src: &[u8], open: usize, depth: usize, candidates: u64) -> bool {
        let mut error = false;
        walk_object(src, open, |m| {
            error = self.member_at(src, &m, depth, candidates);
            !error
        });
        error
    }

    fn member_at(&self, src: &[u8], m: &Member<'_>, depth: usize, candidates: u64) -> bool {
        let Some(&first) = m.key.first() else { return false };
        let mut set = candidates & lookup(&self.by_first, first);
        set &= self.by_len.get(m.key.len().min(MAX_KEY_LEN)).copied().unwrap_or(0);
        if set == 0 || m.key_escaped {
            return false;
        }
        let mut descend = 0u64;
        while set != 0 {
            let i = set.trailing_zeros() as usize;
            set &= set - 1;
            let Some(p) = self.paths.get(i) else { continue };
            if p.rest(depth) == m.key {
                if self.value_is_error(m.value(src), p.kinds) {
                    return true;
                }
            } else if p.inner_segment(depth) == Some(m.key) {
                descend |= 1 << i;
            }
        }
        descend != 0
            && depth + 1 < MAX_DEPTH
            && src.get(m.value_start) == Some(&b'{')
            && self.object_at(src, m.value_start, depth + 1, descend)
    }

    fn value_is_error(&self, v: &[u8], kinds: u8) -> bool {
        if let Some(s) = v.strip_prefix(b"\"").and_then(|s| s.strip_suffix(b"\"")) {
            // Strings holding escapes are never level names or status codes.
            if s.contains(&b'\\') {
                return false;
            }
            return (kinds & LEVEL != 0 && self.levels.contains(s.trim_ascii()))
                || (kinds & STATUS != 0 && self.statuses.contains_digits(s));
        }
        let Some(n) = parse_int(v) else { return false };
        (kinds & NUMERIC_LEVEL != 0 && n >= self.numeric_level_min)
            || (kinds & STATUS != 0 && u16::try_from(n).is_ok_and(|s| self.statuses.contains(s)))
    }
}

/// A JSON integer (`50`, `-3`), or a number with a zero fraction (`50.0`).
fn parse_int(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, v),
    };
    let int_len = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    if int_len == 0 || int_len > 15 {
        return None;
    }
    let frac = digits.get(int_len..).unwrap_or_default();
    if !(frac.is_empty()
        || frac
            .strip_prefix(b".")
            .is_some_and(|f| !f.is_empty() && f.iter().all(|&c| c == b'0')))
    {
        return None;
    }
    let mut n: i64 = 0;
    for &c in digits.get(..int_len)? {
        n = n * 10 + i64::from(c - b'0');
    }
    Some(if neg { -n } else { n })
}
