//! What the walk learned about the members around the log line, kept for the
//! next record.
//!
//! The records of one container share everything but the log line: FireLens
//! writes the same `container_id`, `container_name`, `source` and `ecs_*`
//! members into each. Comparing those bytes with the last record's costs a
//! fraction of walking them again (a long ARN is a dozen 8-byte comparisons
//! instead of a string scan, key checks and field rules per member). Equal
//! bytes parse the same way, so a hit gives exactly what the walk would.

/// Prefixes or suffixes longer than this are walked every time: a record
/// whose metadata is that large is not the FireLens shape this is for.
const MAX_SPAN: usize = 4096;

use crate::walk::Walked;

/// A run of members and what the walk found in it (the mark's position
/// relative to the span's start).
#[derive(Debug, Clone, Default)]
pub(crate) struct Span {
    pub bytes: Vec<u8>,
    pub walked: Walked,
    /// Suffixes only: the record's closing `}`, relative to the span's start.
    pub close: usize,
}

/// How many prefixes and suffixes are kept: a task's containers, each on
/// stdout and stderr, are a handful of shapes (one Fluent Bit chunk holds one
/// tag, but a tail input or a shared tag mixes them record by record). A
/// lookup compares the spans in turn; a wrong one differs within its first
/// few words, which costs less than hashing the record to pick one.
const SLOTS: usize = 8;

/// Prefixes (the record up to the log line's opening quote) and suffixes
/// (from the byte after its closing quote to the end).
#[derive(Debug, Clone)]
pub struct Memo {
    enabled: bool,
    prefixes: Table,
    suffixes: Table,
}

#[derive(Debug, Clone, Default)]
struct Table {
    spans: [Span; SLOTS],
    /// The slot to fill next (round-robin).
    next: usize,
}

impl Table {
    /// The span that `matches`, else the slot to fill.
    fn find(&self, matches: impl Fn(&Span) -> bool) -> Result<&Span, Slot> {
        self.spans
            .iter()
            .find(|s| !s.bytes.is_empty() && matches(s))
            .ok_or(Slot(self.next))
    }

    fn fill(&mut self, Slot(at): Slot) -> Option<&mut Span> {
        self.next = (at + 1) % SLOTS;
        self.spans.get_mut(at)
    }
}

/// Where a span is to be remembered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot(usize);

/// The same as `Memo::new()`: a memo remembers unless made with `off()`.
impl Default for Memo {
    fn default() -> Self {
        Self::new()
    }
}

impl Memo {
    /// A memo that remembers; reuse it for the records of one stream.
    pub fn new() -> Self {
        Self {
            enabled: true,
            prefixes: Table::default(),
            suffixes: Table::default(),
        }
    }

    /// A memo that remembers nothing: for a record classified on its own.
    pub fn off() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// The remembered prefix `record` starts with, or the slot to remember
    /// its prefix in.
    pub(crate) fn prefix_of(&self, record: &[u8]) -> Result<&Span, Slot> {
        self.prefixes
            .find(|s| s.bytes.len() < record.len() && same_bytes(record, &s.bytes))
    }

    /// The remembered suffix `record[end..]` is, or the slot to remember it in.
    pub(crate) fn suffix_of(&self, record: &[u8], end: usize) -> Result<&Span, Slot> {
        let tail = record.get(end..).unwrap_or_default();
        self.suffixes
            .find(|s| s.bytes.len() == tail.len() && same_bytes(tail, &s.bytes))
    }

    pub(crate) fn remember_prefix(&mut self, at: Slot, bytes: &[u8], walked: Walked) {
        if self.enabled
            && bytes.len() <= MAX_SPAN
            && let Some(span) = self.prefixes.fill(at)
        {
            store(span, bytes, walked, 0);
        }
    }

    pub(crate) fn remember_suffix(&mut self, at: Slot, bytes: &[u8], walked: Walked, close: usize) {
        if self.enabled
            && bytes.len() <= MAX_SPAN
            && let Some(span) = self.suffixes.fill(at)
        {
            store(span, bytes, walked, close);
        }
    }
}

fn store(span: &mut Span, bytes: &[u8], walked: Walked, close: usize) {
    span.bytes.clear();
    // Out of memory: the span stays empty and is never matched.
    if span.bytes.try_reserve(bytes.len()).is_err() {
        return;
    }
    span.bytes.extend_from_slice(bytes);
    span.walked = walked;
    span.close = close;
}

/// `hay` starts with `want`: eight bytes per comparison (slice equality is a
/// byte loop in the Wasm build).
#[inline]
fn same_bytes(hay: &[u8], want: &[u8]) -> bool {
    let Some(hay) = hay.get(..want.len()) else {
        return false;
    };
    let mut a = hay.chunks_exact(8);
    let mut b = want.chunks_exact(8);
    for (x, y) in a.by_ref().zip(b.by_ref()) {
        if u64::from_le_bytes(x.try_into().unwrap_or([0; 8])) != u64::from_le_bytes(y.try_into().unwrap_or([1; 8])) {
            return false;
        }
    }
    a.remainder() == b.remainder()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_every_byte() {
        let base: Vec<u8> = (0..40u8).collect();
        for len in 0..base.len() {
            assert!(same_bytes(&base, &base[..len]));
            for at in 0..len {
                let mut other = base[..len].to_vec();
                other[at] ^= 1;
                assert!(!same_bytes(&base, &other), "len {len} at {at}");
            }
        }
        assert!(!same_bytes(&base[..3], &base[..4]));
    }

    #[test]
    fn a_disabled_memo_remembers_nothing() {
        let record = b"{\"a\":\"x\"}";
        for (mut m, remembers) in [(Memo::off(), false), (Memo::new(), true)] {
            let at = m.prefix_of(record).unwrap_err();
            let walked = Walked {
                error: false,
                members: 0,
                mark: None,
            };
            m.remember_prefix(at, b"{\"a\":\"", walked);
            assert_eq!(m.prefix_of(record).is_ok(), remembers);
            assert!(m.prefix_of(b"{\"a\":\"").is_err(), "the log line must follow");
        }
    }
}
