//! A queue's read position, kept in a small file of two slots.
//!
//! Each commit overwrites the older slot in place with `(generation,
//! segment, offset, crc)`; reading takes the intact slot with the higher
//! generation. A write torn by a power cut damages one slot only, so the
//! position falls back one commit (a few entries sent again), never forward
//! (nothing skipped). A plain write survives `kill -9` (the page cache
//! outlives the process); the file is fsync'd only on shutdown.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

const SLOT: usize = 28;

/// Where the next entry to deliver starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

pub struct CursorFile {
    file: File,
    generation: u64,
}

impl CursorFile {
    /// Opens (creating) the cursor file; the position is `None` when no
    /// intact slot exists (a new queue, or both slots damaged).
    pub fn open(path: &Path) -> io::Result<(Self, Option<Pos>)> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut buf = [0u8; 2 * SLOT];
        let n = read_up_to(&file, &mut buf)?;
        let best = buf[..n]
            .chunks_exact(SLOT)
            .filter_map(decode)
            .max_by_key(|(generation, _)| *generation);
        let generation = best.map_or(0, |(g, _)| g);
        Ok((Self { file, generation }, best.map(|(_, p)| p)))
    }

    pub fn write(&mut self, pos: Pos) -> io::Result<()> {
        self.generation += 1;
        let slot = (self.generation % 2) * SLOT as u64;
        self.file.write_all_at(&encode(self.generation, pos), slot)
    }

    pub fn sync(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

fn encode(generation: u64, pos: Pos) -> [u8; SLOT] {
    let mut s = [0u8; SLOT];
    s[0..8].copy_from_slice(&generation.to_le_bytes());
    s[8..16].copy_from_slice(&pos.segment.to_le_bytes());
    s[16..24].copy_from_slice(&pos.offset.to_le_bytes());
    let crc = crc32fast::hash(&s[0..24]);
    s[24..28].copy_from_slice(&crc.to_le_bytes());
    s
}

fn decode(s: &[u8]) -> Option<(u64, Pos)> {
    let word = |r: std::ops::Range<usize>| -> Option<u64> { Some(u64::from_le_bytes(s.get(r)?.try_into().ok()?)) };
    let crc = u32::from_le_bytes(s.get(24..28)?.try_into().ok()?);
    if crc32fast::hash(s.get(0..24)?) != crc {
        return None;
    }
    Some((
        word(0..8)?,
        Pos {
            segment: word(8..16)?,
            offset: word(16..24)?,
        },
    ))
}

fn read_up_to(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_intact_slot_wins_and_damage_falls_back_one_commit() {
        let dir = tempdir();
        let path = dir.join("cursor");
        let (mut c, pos) = CursorFile::open(&path).unwrap();
        assert_eq!(pos, None);
        for i in 1..=5 {
            c.write(Pos {
                segment: i,
                offset: i * 10,
            })
            .unwrap();
        }
        drop(c);
        let (_, pos) = CursorFile::open(&path).unwrap();
        assert_eq!(pos, Some(Pos { segment: 5, offset: 50 }));
        // Damage the slot holding generation 5 (odd: slot 1).
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        f.write_all_at(b"\xff\xff", SLOT as u64 + 9).unwrap();
        let (mut c, pos) = CursorFile::open(&path).unwrap();
        assert_eq!(pos, Some(Pos { segment: 4, offset: 40 }));
        // The next write goes to the damaged slot and wins again.
        c.write(Pos { segment: 6, offset: 0 }).unwrap();
        let (_, pos) = CursorFile::open(&path).unwrap();
        assert_eq!(pos, Some(Pos { segment: 6, offset: 0 }));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("cursor-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
