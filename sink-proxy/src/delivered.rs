//! Which parts of a chunk its destinations already accepted.
//!
//! Fluent Bit retries a whole chunk when the answer was not 2xx, and formats
//! it again to the same bytes. When one destination accepted its share
//! (Firehose, say) and another failed (CloudWatch), or a destination accepted
//! some of its calls and not others, the retry must not send those again.
//!
//! A part is one Firehose record or one PutLogEvents call. Its id hashes
//! (BLAKE3) the chunk (tag and body), the destination and the part's own
//! bytes, so a part is skipped only if exactly that content of exactly that
//! chunk was accepted before: a retry planned differently (another config
//! after a restart) can cause a duplicate, never a loss. Only parts of chunks
//! that were answered with a failure are remembered: a chunk answered 2xx is
//! never sent again, so the memory stays small; it is bounded and expires.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    CloudWatch,
    Firehose,
    /// The Firehose stream for dead letters (may be the same stream).
    DeadLetter,
}

impl Destination {
    pub fn name(self) -> &'static str {
        match self {
            Self::CloudWatch => "cloudwatch_logs",
            Self::Firehose => "firehose",
            Self::DeadLetter => "dead_letter",
        }
    }
}

/// Identifies a chunk: its tag and its body bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkId([u8; 32]);

impl ChunkId {
    pub fn new(tag: &str, body: &[u8]) -> Self {
        let mut h = blake3::Hasher::new();
        h.update(&(tag.len() as u64).to_le_bytes());
        h.update(tag.as_bytes());
        h.update(body);
        Self(*h.finalize().as_bytes())
    }

    /// A spooled entry: the queue it is in and where. Unique for as long as
    /// the entry exists, and nothing is hashed.
    pub fn of_entry(queue: &str, segment: u64, offset: u64) -> Self {
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&segment.to_le_bytes());
        id[8..16].copy_from_slice(&offset.to_le_bytes());
        let q = queue.as_bytes();
        let n = q.len().min(16);
        id[16..16 + n].copy_from_slice(&q[..n]);
        Self(id)
    }

    /// The id of one part of this chunk for `dest`; `content` is the part's
    /// bytes, given as pieces (each is length-prefixed, so pieces cannot run
    /// into each other).
    pub fn part<'a>(&self, dest: Destination, content: impl IntoIterator<Item = &'a [u8]>) -> PartId {
        let mut h = blake3::Hasher::new();
        h.update(&self.0);
        h.update(dest.name().as_bytes());
        for piece in content {
            h.update(&(piece.len() as u64).to_le_bytes());
            h.update(piece);
        }
        PartId(*h.finalize().as_bytes())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartId([u8; 32]);

/// Part ids accepted by a destination, remembered for `ttl`, at most
/// `capacity` of them (oldest forgotten first).
#[derive(Debug)]
pub struct Delivered {
    ttl: Duration,
    capacity: usize,
    seen: HashMap<PartId, Instant>,
    order: VecDeque<(PartId, Instant)>,
}

impl Delivered {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn record(&mut self, id: PartId, now: Instant) {
        self.expire(now);
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        self.seen.insert(id, now);
        self.order.push_back((id, now));
    }

    pub fn contains(&mut self, id: &PartId, now: Instant) -> bool {
        self.expire(now);
        self.seen.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn expire(&mut self, now: Instant) {
        while self
            .order
            .front()
            .is_some_and(|(_, t)| now.duration_since(*t) >= self.ttl)
        {
            self.pop_oldest();
        }
    }

    fn pop_oldest(&mut self) {
        if let Some((key, t)) = self.order.pop_front()
            && self.seen.get(&key) == Some(&t)
        {
            self.seen.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(chunk: &[u8], dest: Destination, content: &[u8]) -> PartId {
        ChunkId::new("app-firelens-1", chunk).part(dest, [content])
    }

    #[test]
    fn ids_differ_by_chunk_tag_destination_and_content() {
        let a = ChunkId::new("t", b"body");
        assert_eq!(a, ChunkId::new("t", b"body"));
        assert_ne!(a, ChunkId::new("u", b"body"));
        assert_ne!(
            ChunkId::new("ab", b"c"),
            ChunkId::new("a", b"bc"),
            "tag and body cannot run together"
        );
        assert_ne!(
            a.part(Destination::Firehose, [b"x".as_slice()]),
            a.part(Destination::CloudWatch, [b"x".as_slice()])
        );
        assert_ne!(
            a.part(Destination::Firehose, [b"ab".as_slice(), b"c"]),
            a.part(Destination::Firehose, [b"a".as_slice(), b"bc"])
        );
    }

    #[test]
    fn remembers_until_ttl() {
        let t0 = Instant::now();
        let mut d = Delivered::new(100, Duration::from_secs(60));
        let a = part(b"chunk a", Destination::Firehose, b"r0");
        d.record(a, t0);
        assert!(d.contains(&a, t0 + Duration::from_secs(59)));
        assert!(!d.contains(&part(b"chunk a", Destination::CloudWatch, b"r0"), t0));
        assert!(!d.contains(&part(b"chunk b", Destination::Firehose, b"r0"), t0));
        assert!(!d.contains(&a, t0 + Duration::from_secs(60)));
        assert!(d.is_empty());
    }

    #[test]
    fn bounded_by_capacity_oldest_first() {
        let t0 = Instant::now();
        let mut d = Delivered::new(3, Duration::from_secs(60));
        let ids: Vec<PartId> = (0..5u8).map(|i| part(&[i], Destination::Firehose, b"")).collect();
        for id in &ids {
            d.record(*id, t0);
        }
        assert_eq!(d.len(), 3);
        assert!(!d.contains(&ids[1], t0));
        assert!(d.contains(&ids[4], t0));
    }

    #[test]
    fn recording_again_refreshes() {
        let t0 = Instant::now();
        let mut d = Delivered::new(10, Duration::from_secs(60));
        let a = part(b"a", Destination::CloudWatch, b"call");
        d.record(a, t0);
        d.record(a, t0 + Duration::from_secs(50));
        assert!(d.contains(&a, t0 + Duration::from_secs(100)));
    }
}
