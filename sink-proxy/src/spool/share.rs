//! A chunk's share for one destination as a spool entry: what the plan made
//! of it, so that a drain sends it without decoding or planning again.
//!
//! ```text
//! lines:  count u32, then per line: length u32, bytes
//! events: streams u32, then per stream: name length u32, name,
//!         events u32, then per event: timestamp i64, length u32, message
//! ```
//! Little-endian. Decoding is checked (`None` on anything malformed): the
//! CRC already vouches for the bytes, so `None` means a bug, never a panic.

use super::frame;
use crate::cloudwatch::batch::LogEvent;
use std::collections::BTreeMap;

/// A sealed frame holding `lines`.
pub fn lines_frame(lines: &[Vec<u8>], appended_ms: u64) -> Vec<u8> {
    let size = 4 + lines.iter().map(|l| 4 + l.len()).sum::<usize>();
    let mut f = frame::open_frame(size);
    put_u32(&mut f, lines.len());
    for l in lines {
        put_u32(&mut f, l.len());
        f.extend_from_slice(l);
    }
    frame::seal(&mut f, appended_ms);
    f
}

/// A sealed frame holding CloudWatch events per stream.
pub fn events_frame(streams: &BTreeMap<String, Vec<LogEvent>>, appended_ms: u64) -> Vec<u8> {
    let size = 4 + streams
        .iter()
        .map(|(s, evs)| 8 + s.len() + evs.iter().map(|e| 12 + e.message.len()).sum::<usize>())
        .sum::<usize>();
    let mut f = frame::open_frame(size);
    put_u32(&mut f, streams.len());
    for (stream, events) in streams {
        put_u32(&mut f, stream.len());
        f.extend_from_slice(stream.as_bytes());
        put_u32(&mut f, events.len());
        for e in events {
            f.extend_from_slice(&e.timestamp.to_le_bytes());
            put_u32(&mut f, e.message.len());
            f.extend_from_slice(e.message.as_bytes());
        }
    }
    frame::seal(&mut f, appended_ms);
    f
}

pub fn lines(payload: &[u8]) -> Option<Vec<&[u8]>> {
    let mut r = Reader(payload);
    let n = r.u32()?;
    // Each line takes at least 4 bytes: a count beyond that is damage.
    let mut out = Vec::with_capacity(n.min(payload.len() / 4));
    for _ in 0..n {
        let len = r.u32()?;
        out.push(r.bytes(len)?);
    }
    r.0.is_empty().then_some(out)
}

pub fn events(payload: &[u8]) -> Option<BTreeMap<String, Vec<LogEvent>>> {
    let mut r = Reader(payload);
    let mut out = BTreeMap::new();
    for _ in 0..r.u32()? {
        let len = r.u32()?;
        let stream = std::str::from_utf8(r.bytes(len)?).ok()?.to_owned();
        let n = r.u32()?;
        let mut events = Vec::with_capacity(n.min(payload.len() / 12));
        for _ in 0..n {
            let timestamp = i64::from_le_bytes(r.bytes(8)?.try_into().ok()?);
            let len = r.u32()?;
            let message = std::str::from_utf8(r.bytes(len)?).ok()?.to_owned();
            events.push(LogEvent { timestamp, message });
        }
        out.insert(stream, events);
    }
    r.0.is_empty().then_some(out)
}

fn put_u32(f: &mut Vec<u8>, n: usize) {
    f.extend_from_slice(&(n as u32).to_le_bytes());
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(frame: &[u8]) -> &[u8] {
        let h = frame::intact(frame).unwrap();
        &frame[frame::HEADER..h.frame_len()]
    }

    #[test]
    fn lines_and_events_round_trip() {
        let ls = vec![b"{\"a\":1}".to_vec(), Vec::new(), "é\n".as_bytes().to_vec()];
        let f = lines_frame(&ls, 5);
        assert_eq!(frame::intact(&f).unwrap().appended_ms, 5);
        assert_eq!(
            lines(payload(&f)).unwrap(),
            ls.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        let mut streams = BTreeMap::new();
        streams.insert(
            "web".to_owned(),
            vec![
                LogEvent {
                    timestamp: -1,
                    message: "ERROR x".into(),
                },
                LogEvent {
                    timestamp: 1_700_000_000_000,
                    message: "エラー".into(),
                },
            ],
        );
        streams.insert("empty".to_owned(), Vec::new());
        let f = events_frame(&streams, 9);
        assert_eq!(events(payload(&f)).unwrap(), streams);
        assert_eq!(lines(payload(&lines_frame(&[], 0))).unwrap().len(), 0);
    }

    #[test]
    fn malformed_payloads_are_refused_not_panicked_on() {
        let f = lines_frame(&[b"abc".to_vec()], 0);
        let p = payload(&f);
        for cut in 0..p.len() {
            assert!(lines(&p[..cut]).is_none(), "cut at {cut}");
        }
        let mut extra = p.to_vec();
        extra.push(0);
        assert!(lines(&extra).is_none());
        assert!(lines(&[0xff, 0xff, 0xff, 0xff]).is_none());
        assert!(events(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]).is_none());
    }
}
