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

/// A run of members and what the walk found in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Span {
    pub bytes: Vec<u8>,
    pub error: bool,
    pub members: usize,
    /// The mark member's value, relative to the span's start.
    pub mark: Option<(usize, usize)>,
    /// Suffixes only: the record's closing `}`, relative to the span's start.
    pub close: usize,
}

/// How many prefixes and suffixes are kept: a task's containers, each on
/// stdout and stderr, are a handful of shapes (one Fluent Bit chunk holds one
/// tag, but a tail input or a shared tag mixes them record by record). A
/// miss costs a comparison that fails within the first few words per slot.
const SLOTS: usize = 8;

/// Prefixes (the record up to the log line's opening quote) and suffixes
/// (from the byte after its closing quote to the end), replaced round-robin.
#[derive(Debug, Clone, Default)]
pub struct Memo {
    enabled: bool,
    prefixes: [Span; SLOTS],
    suffixes: [Span; SLOTS],
    next_prefix: usize,
    next_suffix: usize,
}

impl Memo {
    /// A memo that remembers; reuse it for the records of one stream.
    pub fn new() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    /// The remembered prefix `record` starts with.
    pub(crate) fn prefix_of(&self, record: &[u8]) -> Option<&Span> {
        self.prefixes
            .iter()
            .find(|s| !s.bytes.is_empty() && s.bytes.len() < record.len() && same_bytes(record, &s.bytes))
    }

    /// The remembered suffix `record[end..]` is.
    pub(crate) fn suffix_of(&self, record: &[u8], end: usize) -> Option<&Span> {
        let tail = record.get(end..)?;
        self.suffixes
            .iter()
            .find(|s| !s.bytes.is_empty() && s.bytes.len() == tail.len() && same_bytes(tail, &s.bytes))
    }

    pub(crate) fn remember_prefix(&mut self, bytes: &[u8], error: bool, members: usize, mark: Option<(usize, usize)>) {
        if !self.enabled || bytes.len() > MAX_SPAN {
            return;
        }
        let slot = self.next_prefix;
        self.next_prefix = (slot + 1) % SLOTS;
        if let Some(span) = self.prefixes.get_mut(slot) {
            store(span, bytes, error, members, mark, 0);
        }
    }

    pub(crate) fn remember_suffix(
        &mut self,
        bytes: &[u8],
        error: bool,
        members: usize,
        mark: Option<(usize, usize)>,
        close: usize,
    ) {
        if !self.enabled || bytes.len() > MAX_SPAN {
            return;
        }
        let slot = self.next_suffix;
        self.next_suffix = (slot + 1) % SLOTS;
        if let Some(span) = self.suffixes.get_mut(slot) {
            store(span, bytes, error, members, mark, close);
        }
    }
}

fn store(span: &mut Span, bytes: &[u8], error: bool, members: usize, mark: Option<(usize, usize)>, close: usize) {
    span.bytes.clear();
    // Out of memory: the span stays empty and is never matched.
    if span.bytes.try_reserve(bytes.len()).is_err() {
        return;
    }
    span.bytes.extend_from_slice(bytes);
    span.error = error;
    span.members = members;
    span.mark = mark;
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
        let mut m = Memo::default();
        m.remember_prefix(b"{\"a\":\"", false, 0, None);
        assert!(m.prefix_of(b"{\"a\":\"x\"}").is_none());
        let mut m = Memo::new();
        m.remember_prefix(b"{\"a\":\"", false, 0, None);
        assert!(m.prefix_of(b"{\"a\":\"x\"}").is_some());
        assert!(m.prefix_of(b"{\"a\":\"").is_none(), "the log line must follow");
    }
}
