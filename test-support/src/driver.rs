//! A driver that sends chunks like Fluent Bit: several at a time, each again
//! until it is accepted.

use crate::fluent_bit::{Chunk, post_chunk};
use anyhow::{Result, bail};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the driver saw.
#[derive(Debug, Default, Clone)]
pub struct Driven {
    pub posts: usize,
    /// Answers other than 200 (503, 429, 408), and connection errors.
    pub retried: usize,
    pub connection_errors: usize,
}

/// Sends every chunk like Fluent Bit: `workers` at a time, each chunk again
/// (after `backoff`, doubling to 2 s) until it is answered 200; at most
/// `max_tries` per chunk and until `deadline`. `acked` counts accepted
/// chunks, for a caller that acts mid-stream. A worker starts a chunk at
/// most every `pace` (zero: a backlog; more: an application logging steadily).
#[allow(clippy::too_many_arguments)]
pub async fn drive(
    addr: SocketAddr,
    chunks: Arc<Vec<Chunk>>,
    workers: usize,
    backoff: Duration,
    max_tries: usize,
    deadline: Instant,
    acked: Arc<AtomicUsize>,
    pace: Duration,
) -> Result<Driven> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (chunks, next, acked) = (chunks.clone(), next.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Driven::default();
            let mut tick = tokio::time::interval(pace.max(Duration::from_micros(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if !pace.is_zero() {
                    tick.tick().await;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = chunks.get(i) else {
                    return Ok::<_, anyhow::Error>(seen);
                };
                let mut wait = backoff;
                for attempt in 1.. {
                    seen.posts += 1;
                    match post_chunk(addr, c).await {
                        Some(r) if r.status == 200 => break,
                        Some(_) => seen.retried += 1,
                        None => {
                            seen.retried += 1;
                            seen.connection_errors += 1;
                        }
                    }
                    if attempt >= max_tries || Instant::now() > deadline {
                        bail!("chunk {i} not accepted after {attempt} tries");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut total = Driven::default();
    for t in tasks {
        let d = t.await??;
        total.posts += d.posts;
        total.retried += d.retried;
        total.connection_errors += d.connection_errors;
    }
    Ok(total)
}
