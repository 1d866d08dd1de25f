//! Several delivery streams behind one Firehose destination, for more than
//! one stream's throughput quota: calls go round the streams, skipping any
//! that is backing off after a throttle. A throttled stream backs off on its
//! own (doubling, capped, jittered) and the others carry on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Streams {
    names: Vec<String>,
    next: AtomicUsize,
    /// Per stream: backing off until, and throttles in a row.
    state: Mutex<Vec<(Option<Instant>, u32)>>,
}

impl Streams {
    /// `names` must not be empty (the config ensures it).
    pub fn new(names: Vec<String>) -> Self {
        let state = Mutex::new(vec![(None, 0); names.len()]);
        Self {
            names,
            next: AtomicUsize::new(0),
            state,
        }
    }

    pub fn name(&self, i: usize) -> &str {
        self.names.get(i).map_or("", String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names, comma-separated (for messages).
    pub fn names(&self) -> String {
        self.names.join(",")
    }

    /// The next stream to call: round robin over those not backing off;
    /// when all are, waits for the first to be ready.
    pub async fn pick(&self) -> usize {
        let (i, wait) = self.choose(Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        i
    }

    fn choose(&self, now: Instant) -> (usize, Duration) {
        let n = self.names.len().max(1);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let Ok(state) = self.state.lock() else {
            return (start % n, Duration::ZERO);
        };
        let ready = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| state.get(i).and_then(|s| s.0).is_none_or(|until| until <= now));
        if let Some(i) = ready {
            return (i, Duration::ZERO);
        }
        (0..n)
            .filter_map(|i| Some((i, state.get(i)?.0?)))
            .min_by_key(|(_, until)| *until)
            .map_or((start % n, Duration::ZERO), |(i, until)| (i, until - now))
    }

    pub fn throttled(&self, i: usize) {
        if let Ok(mut state) = self.state.lock()
            && let Some(s) = state.get_mut(i)
        {
            s.1 = s.1.saturating_add(1);
            let exp = FIRST_BACKOFF.saturating_mul(1 << s.1.min(10)).min(MAX_BACKOFF);
            s.0 = Some(Instant::now() + exp / 2 + exp.mul_f64(fastrand::f64() / 2.0));
        }
    }

    pub fn ok(&self, i: usize) {
        if let Ok(mut state) = self.state.lock()
            && let Some(s) = state.get_mut(i)
        {
            *s = (None, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_skipping_a_stream_that_backs_off() {
        let s = Streams::new(vec!["a".into(), "b".into(), "c".into()]);
        let now = Instant::now();
        let picks: Vec<usize> = (0..6).map(|_| s.choose(now).0).collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
        s.throttled(1);
        let picks: Vec<usize> = (0..6).map(|_| s.choose(Instant::now()).0).collect();
        assert!(!picks.contains(&1), "{picks:?}");
        assert!(picks.contains(&0) && picks.contains(&2));
        s.ok(1);
        assert!((0..3).map(|_| s.choose(Instant::now()).0).any(|i| i == 1));
    }

    #[test]
    fn all_backing_off_waits_for_the_first_ready() {
        let s = Streams::new(vec!["a".into(), "b".into()]);
        s.throttled(0);
        s.throttled(1);
        s.throttled(1);
        let (i, wait) = s.choose(Instant::now());
        assert_eq!(i, 0, "stream a backed off less");
        assert!(wait > Duration::ZERO && wait <= FIRST_BACKOFF * 2);
    }
}
