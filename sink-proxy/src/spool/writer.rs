//! The one thread that appends to the spool, with group commit: it takes
//! every append waiting, writes them all, fsyncs each file it touched once,
//! publishes the new lengths to the readers, then answers every append.
//! Concurrent chunks share one fsync instead of queueing behind each other.

use super::queue::{Queue, segment_path, sync_dir};
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::mpsc;

/// Appends waiting at most per group: bounds the latency one group adds.
const MAX_GROUP: usize = 64;

pub(super) struct Job {
    /// (queue index, sealed frame) in order.
    pub frames: Vec<(usize, Vec<u8>)>,
    pub reply: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// A queue's last segment, which the writer appends to.
pub(super) struct Tail {
    pub seq: u64,
    pub file: File,
    /// Bytes written and fsync'd (published).
    pub len: u64,
}

pub(super) fn spawn(
    queues: Vec<Arc<Queue>>,
    mut tails: Vec<Tail>,
    segment_bytes: u64,
) -> io::Result<mpsc::Sender<Job>> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new().name("spool-writer".into()).spawn(move || {
        while let Ok(first) = rx.recv() {
            let mut jobs = vec![first];
            while jobs.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(j) => jobs.push(j),
                    Err(_) => break,
                }
            }
            let result = commit_group(&queues, &mut tails, &jobs, segment_bytes).map_err(|e| e.to_string());
            for job in jobs {
                // The requester may have gone (client hung up): nothing to tell.
                let _ = job.reply.send(result.clone());
            }
        }
    })?;
    Ok(tx)
}

fn commit_group(queues: &[Arc<Queue>], tails: &mut [Tail], jobs: &[Job], segment_bytes: u64) -> io::Result<()> {
    let mut touched = vec![false; tails.len()];
    for job in jobs {
        for (q, _) in &job.frames {
            if let Some(t) = touched.get_mut(*q) {
                *t = true;
            }
        }
    }
    // Roll over full segments before writing, so that a group never spans
    // two segments of one queue and a failed group is undone by one truncate.
    for (q, tail) in tails.iter_mut().enumerate() {
        if touched[q] && tail.len >= segment_bytes {
            let Some(queue) = queues.get(q) else { continue };
            let seq = tail.seq + 1;
            let file = std::fs::OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(segment_path(queue.dir(), seq))?;
            sync_dir(queue.dir())?;
            *tail = Tail { seq, file, len: 0 };
            queue.publish(seq, 0);
        }
    }
    let mut written = vec![0u64; tails.len()];
    let result = (|| {
        for job in jobs {
            for (q, frame) in &job.frames {
                let tail = tails.get_mut(*q).ok_or_else(|| io::Error::other("no such queue"))?;
                tail.file.write_all(frame)?;
                written[*q] += frame.len() as u64;
            }
        }
        for (q, tail) in tails.iter().enumerate() {
            if written[q] > 0 {
                tail.file.sync_data()?;
            }
        }
        Ok(())
    })();
    if let Err(e) = result {
        // Undo the group: nothing of it was acknowledged.
        for (q, tail) in tails.iter().enumerate() {
            if written[q] > 0 {
                let _ = tail.file.set_len(tail.len);
            }
        }
        return Err(e);
    }
    for (q, tail) in tails.iter_mut().enumerate() {
        if written[q] > 0 {
            tail.len += written[q];
            if let Some(queue) = queues.get(q) {
                queue.publish(tail.seq, tail.len);
            }
        }
    }
    Ok(())
}
