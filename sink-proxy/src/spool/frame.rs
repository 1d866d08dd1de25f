//! One spooled entry on disk: a 20-byte header, then the payload.
//!
//! ```text
//! magic "SPL1" | payload length u32 | crc32 u32 | appended at (Unix ms) u64 | payload
//! ```
//! All integers little-endian. The CRC covers the length, the time and the
//! payload, so a torn write (a crash mid-append) or flipped bytes are caught
//! before anything is delivered. After damage the reader finds the next
//! intact entry by scanning for the magic and checking candidates' CRCs
//! ([`resync`]): a false match needs the magic and a 32-bit CRC to agree.

pub const MAGIC: [u8; 4] = *b"SPL1";
pub const HEADER: usize = 20;
/// No entry is larger: a length field above this is damage, not data.
pub const MAX_PAYLOAD: usize = 64 << 20;

/// A frame with room for its header, to be filled in by [`seal`]: payload
/// encoders write after [`HEADER`] bytes so sealing needs no copy.
pub fn open_frame(capacity: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + capacity);
    v.resize(HEADER, 0);
    v
}

/// Fills in the header of a frame made by [`open_frame`].
pub fn seal(frame: &mut [u8], appended_ms: u64) {
    let len = frame.len().saturating_sub(HEADER) as u32;
    let crc = checksum(len, appended_ms, frame.get(HEADER..).unwrap_or_default());
    if let Some(h) = frame.get_mut(..HEADER) {
        h[0..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&len.to_le_bytes());
        h[8..12].copy_from_slice(&crc.to_le_bytes());
        h[12..20].copy_from_slice(&appended_ms.to_le_bytes());
    }
}

fn checksum(len: u32, appended_ms: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&appended_ms.to_le_bytes());
    h.update(payload);
    h.finalize()
}

/// A header read from disk, not yet checked against its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    crc: u32,
    pub appended_ms: u64,
}

impl Header {
    /// `None` when the bytes cannot be a header (no magic, absurd length).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let h: &[u8; HEADER] = bytes.get(..HEADER)?.try_into().ok()?;
        if h[0..4] != MAGIC {
            return None;
        }
        let len = u32::from_le_bytes(h[4..8].try_into().ok()?) as usize;
        if len > MAX_PAYLOAD {
            return None;
        }
        Some(Self {
            len,
            crc: u32::from_le_bytes(h[8..12].try_into().ok()?),
            appended_ms: u64::from_le_bytes(h[12..20].try_into().ok()?),
        })
    }

    pub fn frame_len(&self) -> usize {
        HEADER + self.len
    }

    /// Whether `payload` is the one this header was sealed with.
    pub fn verifies(&self, payload: &[u8]) -> bool {
        payload.len() == self.len && checksum(self.len as u32, self.appended_ms, payload) == self.crc
    }
}

/// The intact frame at the start of `bytes`, if there is one.
pub fn intact(bytes: &[u8]) -> Option<Header> {
    let h = Header::parse(bytes)?;
    let payload = bytes.get(HEADER..h.frame_len())?;
    h.verifies(payload).then_some(h)
}

/// The offset of the first intact frame in `bytes` after position 0, or
/// `None`: everything up to the end is damage.
pub fn resync(bytes: &[u8]) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(&MAGIC);
    let mut from = 1;
    while let Some(i) = bytes.get(from..).and_then(|rest| finder.find(rest)) {
        let at = from + i;
        if intact(bytes.get(at..)?).is_some() {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8], ms: u64) -> Vec<u8> {
        let mut f = open_frame(payload.len());
        f.extend_from_slice(payload);
        seal(&mut f, ms);
        f
    }

    #[test]
    fn a_sealed_frame_reads_back() {
        let f = frame(b"hello", 42);
        let h = intact(&f).unwrap();
        assert_eq!((h.len, h.appended_ms, h.frame_len()), (5, 42, f.len()));
        let empty = frame(b"", 1);
        assert_eq!(intact(&empty).unwrap().len, 0);
    }

    #[test]
    fn any_flipped_bit_or_torn_tail_is_caught() {
        let f = frame(b"some payload bytes", 7);
        for i in 0..f.len() {
            for bit in 0..8 {
                let mut g = f.clone();
                g[i] ^= 1 << bit;
                assert!(intact(&g).is_none(), "byte {i} bit {bit}");
            }
        }
        for cut in 0..f.len() {
            assert!(intact(&f[..cut]).is_none(), "torn at {cut}");
        }
    }

    #[test]
    fn resync_finds_the_next_intact_frame_past_damage() {
        let a = frame(b"first", 1);
        let b = frame(b"second SPL1 with a magic inside", 2);
        let mut bytes = a.clone();
        bytes[HEADER + 1] ^= 0xff; // damage a's payload
        bytes.extend_from_slice(b"garbage SPL1 fake header.................");
        let at = bytes.len();
        bytes.extend_from_slice(&b);
        assert!(intact(&bytes).is_none());
        assert_eq!(resync(&bytes), Some(at));
        assert_eq!(resync(&a[..a.len() - 1]), None);
        // A length past the end is not an intact frame.
        let mut huge = a.clone();
        huge[4..8].copy_from_slice(&(MAX_PAYLOAD as u32 + 1).to_le_bytes());
        assert!(Header::parse(&huge).is_none());
    }
}
