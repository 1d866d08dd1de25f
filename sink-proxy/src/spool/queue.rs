//! One destination's queue: its segment files, what of them is committed,
//! its read position, and the reading.
//!
//! Only the writer thread appends (to the last segment) and publishes what
//! it fsync'd; only the queue's drain reads and commits. A reader never
//! looks past the published length, so it never sees a frame that is not
//! yet durable.

use super::cursor::{CursorFile, Pos};
use super::frame::{self, HEADER, Header};
use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Queue {
    pub name: &'static str,
    dir: PathBuf,
    /// Segments on disk, oldest first: (sequence number, published length).
    segments: Mutex<VecDeque<(u64, u64)>>,
    read: Mutex<Reader>,
    /// Wakes the drain when the writer published more.
    pub published: tokio::sync::Notify,
    /// The spool's total bytes on disk, shared by its queues.
    used: std::sync::Arc<AtomicU64>,
}

struct Reader {
    cursor: CursorFile,
    /// The position the cursor file holds.
    committed: Pos,
    /// An open segment for reading.
    file: Option<(u64, File)>,
}

/// What [`Queue::read`] found at a position.
#[derive(Debug)]
pub enum Read {
    Entry {
        payload: Vec<u8>,
        appended_ms: u64,
        next: Pos,
    },
    /// Bytes that are not an intact entry (damage), skipped up to `next`.
    Damaged { bytes: u64, next: Pos },
    /// The segment ends here and a later one exists.
    Moved { next: Pos },
    /// Nothing published at or after the position yet.
    Empty,
}

pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.seg"))
}

/// What recovery found in a queue's directory.
pub struct Recovered {
    pub queue: Queue,
    /// The last segment, open for appending, and its length.
    pub tail: (u64, File, u64),
    /// Bytes cut off the end of the last segment: a write torn by a crash.
    pub torn_bytes: u64,
    /// No intact cursor though segments existed: delivery restarts at the
    /// oldest segment (entries may be sent again; none is skipped).
    pub cursor_lost: bool,
}

impl Queue {
    /// Opens (creating) the queue in `dir`, recovering after a crash: the
    /// cursor's position, segments before it deleted, and the last segment
    /// cut back to its last intact entry.
    pub fn recover(name: &'static str, dir: PathBuf, used: std::sync::Arc<AtomicU64>) -> io::Result<Recovered> {
        std::fs::create_dir_all(&dir)?;
        let (cursor, saved) = CursorFile::open(&dir.join("cursor"))?;
        let mut seqs: Vec<u64> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".seg")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        let cursor_lost = saved.is_none() && !seqs.is_empty();
        let mut pos = saved.unwrap_or(Pos {
            segment: seqs.first().copied().unwrap_or(1),
            offset: 0,
        });
        for &s in seqs.iter().filter(|&&s| s < pos.segment) {
            std::fs::remove_file(segment_path(&dir, s))?;
        }
        seqs.retain(|&s| s >= pos.segment);
        if seqs.first() != Some(&pos.segment) {
            // The cursor's segment is gone: start at the next one there is.
            pos = Pos {
                segment: seqs.first().copied().unwrap_or(pos.segment),
                offset: 0,
            };
        }
        if seqs.is_empty() {
            seqs.push(pos.segment);
        }
        let mut segments = VecDeque::new();
        let mut torn_bytes = 0;
        let last = seqs.len() - 1;
        let mut tail = None;
        for (i, &seq) in seqs.iter().enumerate() {
            let path = segment_path(&dir, seq);
            let mut len = std::fs::metadata(&path).map_or(0, |m| m.len());
            if i == last {
                let file = std::fs::OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(&path)?;
                let end = intact_end(&file, len)?;
                if end < len {
                    file.set_len(end)?;
                    file.sync_data()?;
                    torn_bytes = len - end;
                    len = end;
                }
                tail = Some((seq, file, len));
            }
            segments.push_back((seq, len));
        }
        // A segment cut short (damage) cannot put the position past its end.
        pos.offset = pos.offset.min(segments.front().map_or(0, |s| s.1));
        used.fetch_add(segments.iter().map(|s| s.1).sum(), Ordering::Relaxed);
        let tail = tail.ok_or_else(|| io::Error::other("no segment"))?;
        sync_dir(&dir)?;
        let mut reader = Reader {
            cursor,
            committed: pos,
            file: None,
        };
        reader.cursor.write(pos)?;
        Ok(Recovered {
            queue: Queue {
                name,
                dir,
                segments: Mutex::new(segments),
                read: Mutex::new(reader),
                published: tokio::sync::Notify::new(),
                used,
            },
            tail,
            torn_bytes,
            cursor_lost,
        })
    }

    /// Where delivery resumes: the committed position.
    pub fn position(&self) -> Pos {
        self.read.lock().map_or(Pos::default(), |r| r.committed)
    }

    /// Where the published entries end.
    pub fn end(&self) -> Pos {
        self.segments
            .lock()
            .ok()
            .and_then(|s| s.back().map(|&(segment, offset)| Pos { segment, offset }))
            .unwrap_or_default()
    }

    /// Called by the writer after an fsync: `seq` now holds `len` bytes.
    pub(super) fn publish(&self, seq: u64, len: u64) {
        if let Ok(mut segs) = self.segments.lock() {
            match segs.back_mut() {
                Some(last) if last.0 == seq => last.1 = len,
                _ => segs.push_back((seq, len)),
            }
        }
        self.published.notify_one();
    }

    pub(super) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Reads what is at `at` (blocking file I/O: call off the async workers).
    pub fn read(&self, at: Pos) -> io::Result<Read> {
        let (len, later) = {
            let segs = self.segments.lock().map_err(|_| io::Error::other("poisoned"))?;
            let len = segs.iter().find(|s| s.0 == at.segment).map(|s| s.1);
            let later = segs.iter().map(|s| s.0).find(|&s| s > at.segment);
            (len, later)
        };
        let Some(len) = len.filter(|&l| at.offset < l) else {
            return Ok(match later {
                Some(segment) => Read::Moved {
                    next: Pos { segment, offset: 0 },
                },
                None => Read::Empty,
            });
        };
        let mut r = self.read.lock().map_err(|_| io::Error::other("poisoned"))?;
        if r.file.as_ref().is_none_or(|(s, _)| *s != at.segment) {
            r.file = Some((at.segment, File::open(segment_path(&self.dir, at.segment))?));
        }
        let Some((_, file)) = &r.file else {
            return Err(io::Error::other("no segment open"));
        };
        let avail = len - at.offset;
        let mut head = [0u8; HEADER];
        if avail >= HEADER as u64 {
            file.read_exact_at(&mut head, at.offset)?;
            if let Some(h) = Header::parse(&head).filter(|h| h.frame_len() as u64 <= avail) {
                let mut payload = vec![0u8; h.len];
                file.read_exact_at(&mut payload, at.offset + HEADER as u64)?;
                if h.verifies(&payload) {
                    return Ok(Read::Entry {
                        payload,
                        appended_ms: h.appended_ms,
                        next: Pos {
                            segment: at.segment,
                            offset: at.offset + h.frame_len() as u64,
                        },
                    });
                }
            }
        }
        // Damage: skip to the next intact entry in this segment, or its end.
        let mut rest = vec![0u8; avail as usize];
        file.read_exact_at(&mut rest, at.offset)?;
        let bytes = frame::resync(&rest).map_or(avail, |k| k as u64);
        Ok(Read::Damaged {
            bytes,
            next: Pos {
                segment: at.segment,
                offset: at.offset + bytes,
            },
        })
    }

    /// Everything before `next` is delivered: saves the position and deletes
    /// the segments wholly before it.
    pub fn commit(&self, next: Pos) -> io::Result<()> {
        {
            let mut r = self.read.lock().map_err(|_| io::Error::other("poisoned"))?;
            r.cursor.write(next)?;
            r.committed = next;
            if r.file.as_ref().is_some_and(|(s, _)| *s < next.segment) {
                r.file = None;
            }
        }
        let done: Vec<(u64, u64)> = {
            let mut segs = self.segments.lock().map_err(|_| io::Error::other("poisoned"))?;
            let n = segs.iter().take_while(|s| s.0 < next.segment).count();
            segs.drain(..n).collect()
        };
        for (seq, len) in done {
            std::fs::remove_file(segment_path(&self.dir, seq))?;
            self.used.fetch_sub(len, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Flushes the cursor to disk (shutdown).
    pub fn sync(&self) -> io::Result<()> {
        let r = self.read.lock().map_err(|_| io::Error::other("poisoned"))?;
        r.cursor.sync()
    }
}

/// The end of the last intact entry of a segment of `len` bytes, skipping
/// damage in between (the reader will skip it again, and count it).
fn intact_end(file: &File, len: u64) -> io::Result<u64> {
    let mut bytes = vec![0u8; len as usize];
    file.read_exact_at(&mut bytes, 0)?;
    let mut at = 0usize;
    let mut end = 0usize;
    while at < bytes.len() {
        let rest = bytes.get(at..).unwrap_or_default();
        match frame::intact(rest) {
            Some(h) => {
                at += h.frame_len();
                end = at;
            }
            None => match frame::resync(rest) {
                Some(k) => at += k,
                None => break,
            },
        }
    }
    Ok(end as u64)
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
