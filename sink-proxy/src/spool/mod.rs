//! The durable spool: a chunk is acknowledged once its share for each
//! destination is fsync'd here, and each destination's drain delivers from
//! its own queue at its own pace.
//!
//! Layout (`spool_dir/`): a `lock` file (one process per spool), and one
//! directory per queue holding append-only segment files (`*.seg`, frames of
//! [`frame`]) and a `cursor` file ([`cursor`]). Why segments with a CRC per
//! entry rather than an embedded database: the access pattern is a FIFO per
//! destination (append at one end, delete whole files at the other), which
//! is exactly what segment files do with one write and one fsync per group
//! of chunks and no compaction; it is the shape of Vector's disk buffer v2
//! and Fluent Bit's chunkio, and a torn or flipped byte is found by the CRC.

pub mod cursor;
pub mod frame;
pub mod queue;
pub mod share;
mod writer;

pub use cursor::Pos;
pub use queue::{Queue, Read};

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where a spool lives and how big it may grow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub dir: PathBuf,
    /// Bytes on disk at most, all queues together; beyond, appends are refused.
    pub max_bytes: u64,
    /// A queue's segment file is closed past this size, and deleted once
    /// delivered.
    pub segment_bytes: u64,
}

pub struct Spool {
    queues: Vec<Arc<Queue>>,
    writer: std::sync::mpsc::Sender<writer::Job>,
    used: Arc<AtomicU64>,
    max_bytes: u64,
    /// Held (locked) for the spool's life.
    _lock: File,
}

/// What opening found, for the log and the metrics.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Bytes of a write torn by a crash, cut off (never acknowledged).
    pub torn_bytes: u64,
    /// Queues whose cursor was lost: delivery restarts at their oldest entry.
    pub cursor_lost: Vec<&'static str>,
    /// Bytes waiting for delivery at start.
    pub pending_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendError {
    /// Over `max_bytes`: answer 429, Fluent Bit keeps the chunk.
    Full { used: u64, max: u64 },
    /// The disk failed the write or the fsync (nothing was acknowledged).
    Io(String),
}

impl std::fmt::Display for AppendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full { used, max } => write!(f, "spool full ({used} of {max} bytes)"),
            Self::Io(e) => write!(f, "spool write failed: {e}"),
        }
    }
}

impl Spool {
    /// Opens the spool with one queue per name, recovering what a previous
    /// process left. Fails if another process holds the spool.
    pub fn open(settings: &Settings, names: &[&'static str]) -> std::io::Result<(Self, Recovery)> {
        std::fs::create_dir_all(&settings.dir)?;
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(settings.dir.join("lock"))?;
        if let Err(e) = lock.try_lock() {
            return Err(std::io::Error::other(format!(
                "{} is in use by another sink-proxy ({e:?}); give each its own --spool-dir",
                settings.dir.display()
            )));
        }
        let used = Arc::new(AtomicU64::new(0));
        let mut queues = Vec::new();
        let mut tails = Vec::new();
        let mut recovery = Recovery::default();
        for name in names {
            let r = Queue::recover(name, settings.dir.join(name), used.clone())?;
            recovery.torn_bytes += r.torn_bytes;
            if r.cursor_lost {
                recovery.cursor_lost.push(name);
            }
            let (seq, file, len) = r.tail;
            tails.push(writer::Tail { seq, file, len });
            queues.push(Arc::new(r.queue));
        }
        recovery.pending_bytes = used.load(Ordering::Relaxed);
        let writer = writer::spawn(queues.clone(), tails, settings.segment_bytes.max(1))?;
        Ok((
            Self {
                queues,
                writer,
                used,
                max_bytes: settings.max_bytes,
                _lock: lock,
            },
            recovery,
        ))
    }

    pub fn queue(&self, index: usize) -> Option<&Arc<Queue>> {
        self.queues.get(index)
    }

    /// The counter behind [`Spool::used`] (for the metrics).
    pub fn used_counter(&self) -> Arc<AtomicU64> {
        self.used.clone()
    }

    /// Bytes on disk.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Appends sealed frames ([`frame::seal`]) to their queues (by index),
    /// all or none, and returns once they are on disk.
    pub async fn append(&self, frames: Vec<(usize, Vec<u8>)>) -> Result<(), AppendError> {
        if frames.is_empty() {
            return Ok(());
        }
        let bytes: u64 = frames.iter().map(|(_, f)| f.len() as u64).sum();
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before + bytes > self.max_bytes {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return Err(AppendError::Full {
                used: before,
                max: self.max_bytes,
            });
        }
        let (reply, answer) = tokio::sync::oneshot::channel();
        let sent = self.writer.send(writer::Job { frames, reply });
        let result = match sent {
            Ok(()) => answer.await.unwrap_or_else(|_| Err("the spool writer stopped".into())),
            Err(_) => Err("the spool writer stopped".into()),
        };
        result.map_err(|e| {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            AppendError::Io(e)
        })
    }

    /// Whether some queue holds entries not yet delivered.
    pub fn pending(&self) -> bool {
        self.queues.iter().any(|q| q.position() != q.end())
    }

    /// Flushes every queue's cursor (shutdown).
    pub fn sync(&self) {
        for q in &self.queues {
            if let Err(e) = q.sync() {
                tracing::warn!(queue = q.name, error = %e, "spool: cursor not flushed");
            }
        }
    }
}

/// Whether `dir` can hold a spool: created if missing, and writable.
pub fn usable(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

/// The current time in Unix milliseconds (entries carry when they arrived).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests;
