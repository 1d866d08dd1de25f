//! Delivery from the spool: one drain per destination queue, in order, for
//! as long as it takes. An entry is retried (with a capped, jittered
//! backoff) until its destination accepts all of it; parts accepted in an
//! earlier attempt are not sent again. The queue's position is committed
//! only past entries wholly delivered, in queue order, so a crash sends again
//! at most the entries that were in flight, and skips nothing.

use crate::delivered::{ChunkId, PartId};
use crate::outcome::Outcome;
use crate::spool::{Pos, Queue, Read};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// One spooled entry handed to a destination.
pub struct Entry {
    /// Identifies the entry for part ids (queue and position).
    pub id: ChunkId,
    pub payload: Vec<u8>,
    pub appended_ms: u64,
}

/// A destination as a drain sees it.
pub trait Deliver: Send + Sync + 'static {
    /// One attempt at delivering `entry`; `done` tells which parts were
    /// accepted by an earlier attempt.
    fn attempt(&self, entry: &Entry, done: &(dyn Fn(&PartId) -> bool + Sync)) -> impl Future<Output = Outcome> + Send;
    /// Damaged bytes skipped in the queue (for the log and the metrics).
    fn damaged(&self, queue: &str, bytes: u64);
}

/// Backoff between attempts at one entry.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    fn delay(&self, failures: u32) -> Duration {
        let exp = self.first.saturating_mul(1u32 << failures.min(16)).min(self.max);
        // Jitter in [exp/2, exp]: drains of many tasks do not retry in step.
        exp / 2 + exp.mul_f64(fastrand::f64() / 2.0)
    }
}

/// Runs until `stop` is set and the queue is empty (on shutdown: the
/// caller aborts it when the grace period ends). `oldest_ms` is kept at
/// the arrival time of the oldest entry not yet delivered (0: none).
pub fn spawn<D: Deliver>(
    queue: Arc<Queue>,
    dest: Arc<D>,
    concurrency: usize,
    backoff: Backoff,
    oldest_ms: Arc<AtomicU64>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut at = queue.position();
        // Entries read and not yet committed, in queue order: where the
        // queue continues after each, and its delivery (None: nothing to do).
        let mut window: VecDeque<(Pos, u64, Option<JoinHandle<()>>)> = VecDeque::new();
        loop {
            let mut empty = false;
            while window.len() < concurrency.max(1) {
                let q = queue.clone();
                let read = match tokio::task::spawn_blocking(move || q.read(at)).await {
                    Ok(Ok(r)) => r,
                    Ok(Err(e)) => {
                        tracing::error!(queue = queue.name, error = %e, "spool: read failed; retrying");
                        tokio::time::sleep(backoff.max).await;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(queue = queue.name, error = %e, "spool: reader task failed");
                        break;
                    }
                };
                match read {
                    Read::Entry {
                        payload,
                        appended_ms,
                        next,
                    } => {
                        let entry = Entry {
                            id: ChunkId::of_entry(queue.name, at.segment, at.offset),
                            payload,
                            appended_ms,
                        };
                        let task = tokio::spawn(deliver(dest.clone(), entry, backoff));
                        window.push_back((next, appended_ms, Some(task)));
                        at = next;
                    }
                    Read::Damaged { bytes, next } => {
                        dest.damaged(queue.name, bytes);
                        window.push_back((next, 0, None));
                        at = next;
                    }
                    Read::Moved { next } => {
                        window.push_back((next, 0, None));
                        at = next;
                    }
                    Read::Empty => {
                        empty = true;
                        break;
                    }
                }
            }
            oldest_ms.store(
                window.iter().find(|w| w.2.is_some()).map_or(0, |w| w.1),
                Ordering::Relaxed,
            );
            match window.pop_front() {
                Some((next, _, task)) => {
                    if let Some(task) = task {
                        // A delivery ends only when its entry is accepted. On
                        // shutdown the caller aborts this loop after the
                        // grace; what is not committed is sent at next start.
                        if task.await.is_err() {
                            return;
                        }
                    }
                    let q = queue.clone();
                    match tokio::task::spawn_blocking(move || q.commit(next)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::error!(queue = queue.name, error = %e, "spool: commit failed"),
                        Err(e) => tracing::error!(queue = queue.name, error = %e, "spool: commit task failed"),
                    }
                }
                // A read failed: try again (after its pause).
                None if !empty => {}
                None if *stop.borrow() => return,
                None => {
                    tokio::select! {
                        () = queue.published.notified() => {}
                        changed = stop.changed() => if changed.is_err() {
                            return; // the proxy is gone
                        }
                    }
                }
            }
        }
    })
}

/// Attempts until the destination accepts the whole entry.
async fn deliver<D: Deliver>(dest: Arc<D>, entry: Entry, backoff: Backoff) {
    let mut accepted: HashSet<PartId> = HashSet::new();
    let mut failures = 0u32;
    loop {
        let outcome = dest.attempt(&entry, &|id| accepted.contains(id)).await;
        accepted.extend(outcome.accepted.iter().copied());
        if outcome.complete() {
            return;
        }
        failures += 1;
        tokio::time::sleep(backoff.delay(failures)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Failure;
    use crate::spool::{Settings, Spool, share};
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;

    /// Fails its first `fail` attempts, then takes everything.
    struct Flaky {
        fail: AtomicUsize,
        attempts: AtomicUsize,
        got: Mutex<Vec<Vec<u8>>>,
    }

    impl Deliver for Flaky {
        async fn attempt(&self, entry: &Entry, _done: &(dyn Fn(&PartId) -> bool + Sync)) -> Outcome {
            self.attempts.fetch_add(1, Ordering::Relaxed);
            if self
                .fail
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                return Outcome {
                    accepted: Vec::new(),
                    result: Err(Failure {
                        message: "down".into(),
                        permanent: false,
                    }),
                };
            }
            let lines = share::lines(&entry.payload).unwrap();
            self.got.lock().unwrap().extend(lines.iter().map(|l| l.to_vec()));
            Outcome::default()
        }

        fn damaged(&self, _: &str, _: u64) {}
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entries_are_delivered_in_order_retried_until_accepted_and_committed() {
        let dir = std::env::temp_dir().join(format!("drain-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let settings = Settings {
            dir: dir.clone(),
            max_bytes: 1 << 30,
            segment_bytes: 200,
        };
        let (spool, _) = Spool::open(&settings, &["q"]).unwrap();
        for i in 0..30u8 {
            spool
                .append(vec![(0, share::lines_frame(&[vec![i; 50]], 1))])
                .await
                .unwrap();
        }
        let queue = spool.queue(0).unwrap().clone();
        let dest = Arc::new(Flaky {
            fail: AtomicUsize::new(5),
            attempts: AtomicUsize::new(0),
            got: Mutex::default(),
        });
        let oldest = Arc::new(AtomicU64::new(0));
        let (stop, watch) = watch::channel(false);
        let backoff = Backoff {
            first: Duration::from_millis(1),
            max: Duration::from_millis(4),
        };
        let task = spawn(queue.clone(), dest.clone(), 1, backoff, oldest.clone(), watch);
        // More while it runs: the drain wakes up for them.
        for i in 30..40u8 {
            spool
                .append(vec![(0, share::lines_frame(&[vec![i; 50]], 1))])
                .await
                .unwrap();
        }
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
        let got = dest.got.lock().unwrap().clone();
        assert_eq!(got, (0..40u8).map(|i| vec![i; 50]).collect::<Vec<_>>());
        assert_eq!(
            dest.attempts.load(Ordering::Relaxed),
            45,
            "5 failed attempts, then one each"
        );
        assert_eq!(oldest.load(Ordering::Relaxed), 0, "nothing pending");
        drop(spool);
        // Everything was committed: a new drain finds nothing to send.
        let (spool, _) = Spool::open(&settings, &["q"]).unwrap();
        let q = spool.queue(0).unwrap();
        let mut at = q.position();
        loop {
            match q.read(at).unwrap() {
                Read::Moved { next } => at = next,
                Read::Empty => break,
                other => panic!("left undelivered: {other:?}"),
            }
        }
        drop(spool);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let b = Backoff {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
        };
        for (failures, cap) in [(0, 1), (1, 2), (3, 8), (10, 30)] {
            let d = b.delay(failures);
            let cap = Duration::from_secs(cap);
            assert!(d >= cap / 2 && d <= cap, "{failures}: {d:?}");
        }
    }
}
