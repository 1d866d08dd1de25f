//! Which destinations already accepted a request body.
//!
//! Fluent Bit retries a whole chunk when the answer was not 2xx, and formats
//! it again to the same bytes. When one destination accepted it (Firehose,
//! say) and another failed (CloudWatch), the retry must not send it to the
//! first again. The body's BLAKE3 hash, per destination, is remembered for a
//! while; a 256-bit hash makes a false match (which would skip a delivery)
//! practically impossible.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    CloudWatch,
    Firehose,
}

pub type BodyId = [u8; 32];

pub fn body_id(body: &[u8]) -> BodyId {
    *blake3::hash(body).as_bytes()
}

/// A bounded memory of (body, destination) pairs that were delivered.
#[derive(Debug)]
pub struct Delivered {
    ttl: Duration,
    capacity: usize,
    seen: HashMap<(BodyId, Destination), Instant>,
    order: VecDeque<((BodyId, Destination), Instant)>,
}

impl Delivered {
    /// Remembers at most `capacity` pairs, each for `ttl` (longer than Fluent
    /// Bit's retry backoff, so a retry finds it).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            seen: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub fn record(&mut self, id: BodyId, dest: Destination, now: Instant) {
        self.expire(now);
        while self.order.len() >= self.capacity {
            self.pop_oldest();
        }
        self.seen.insert((id, dest), now);
        self.order.push_back(((id, dest), now));
    }

    pub fn contains(&mut self, id: &BodyId, dest: Destination, now: Instant) -> bool {
        self.expire(now);
        self.seen.contains_key(&(*id, dest))
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
        if let Some((key, t)) = self.order.pop_front() {
            // Only forget it if it was not recorded again since.
            if self.seen.get(&key) == Some(&t) {
                self.seen.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_per_destination_until_ttl() {
        let t0 = Instant::now();
        let mut d = Delivered::new(100, Duration::from_secs(60));
        let a = body_id(b"chunk a");
        d.record(a, Destination::Firehose, t0);
        assert!(d.contains(&a, Destination::Firehose, t0 + Duration::from_secs(59)));
        assert!(!d.contains(&a, Destination::CloudWatch, t0), "per destination");
        assert!(!d.contains(&body_id(b"chunk b"), Destination::Firehose, t0));
        assert!(!d.contains(&a, Destination::Firehose, t0 + Duration::from_secs(60)));
        assert!(d.is_empty());
    }

    #[test]
    fn bounded_by_capacity_oldest_first() {
        let t0 = Instant::now();
        let mut d = Delivered::new(3, Duration::from_secs(60));
        let ids: Vec<BodyId> = (0..5u8).map(|i| body_id(&[i])).collect();
        for id in &ids {
            d.record(*id, Destination::Firehose, t0);
        }
        assert_eq!(d.len(), 3);
        assert!(!d.contains(&ids[1], Destination::Firehose, t0));
        assert!(d.contains(&ids[4], Destination::Firehose, t0));
    }

    #[test]
    fn recording_again_refreshes() {
        let t0 = Instant::now();
        let mut d = Delivered::new(10, Duration::from_secs(60));
        let a = body_id(b"a");
        d.record(a, Destination::CloudWatch, t0);
        d.record(a, Destination::CloudWatch, t0 + Duration::from_secs(50));
        assert!(d.contains(&a, Destination::CloudWatch, t0 + Duration::from_secs(100)));
    }
}
