//! Firehose records and PutRecordBatch calls within every limit.
//!
//! Firehose bills each record rounded up to 5 KiB. Fluent Bit's own output
//! sends one record per log line (~400 bytes billed as 5 KiB); packing many
//! newline-terminated lines into each record, up to the 1,000 KiB record
//! limit, is this project's main saving.

/// A record's data may be at most 1,000 KiB.
pub const MAX_RECORD_BYTES: usize = 1_000 * 1024;
/// Per PutRecordBatch call.
pub const MAX_BATCH_RECORDS: usize = 500;
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Firehose bills each record rounded up to this.
pub const BILLING_UNIT_BYTES: usize = 5 * 1024;

/// 5 KiB units a record of `len` bytes is billed as.
pub fn billed_units(len: usize) -> u64 {
    len.div_ceil(BILLING_UNIT_BYTES).max(1) as u64
}

/// Lines packed into records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Packed {
    /// Each record: whole lines, each followed by `\n`, at most the record limit.
    pub records: Vec<Vec<u8>>,
    /// How many lines each record holds.
    pub lines: Vec<u64>,
    /// Indices (into the input) of lines that cannot fit any record even alone;
    /// the caller must account for them (they are not in `records`).
    pub oversized: Vec<usize>,
}

/// Packs `lines` (without their newline) into records of at most
/// `max_record_bytes`, in order, never splitting a line.
pub fn pack_lines<'a>(lines: impl IntoIterator<Item = &'a [u8]>, max_record_bytes: usize) -> Packed {
    let max = max_record_bytes.min(MAX_RECORD_BYTES);
    let lines: Vec<&[u8]> = lines.into_iter().collect();
    // Bytes still to pack: each record is allocated once at its final size
    // (at most `max`), not grown by copying.
    let mut left: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut packed = Packed::default();
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0;
    for (i, line) in lines.into_iter().enumerate() {
        let need = line.len() + 1;
        left -= need;
        if need > max {
            packed.oversized.push(i);
            continue;
        }
        if current.len() + need > max {
            packed.records.push(std::mem::take(&mut current));
            packed.lines.push(std::mem::take(&mut count));
        }
        if current.is_empty() {
            current.reserve((need + left).min(max));
        }
        current.extend_from_slice(line);
        current.push(b'\n');
        count += 1;
    }
    if !current.is_empty() {
        packed.records.push(current);
        packed.lines.push(count);
    }
    packed
}

/// Groups records into PutRecordBatch calls: at most 500 records and 4 MiB
/// each, in order. Returns index ranges into `records`, so that the caller
/// can retry exactly the records a call reports as failed.
pub fn calls<R: AsRef<[u8]>>(records: &[R]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, r) in records.iter().map(AsRef::as_ref).enumerate() {
        let full = i - start == MAX_BATCH_RECORDS || bytes + r.len() > MAX_BATCH_BYTES;
        if full && i > start {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += r.len();
    }
    if start < records.len() {
        out.push(start..records.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(records: &[Vec<u8>]) -> Vec<&[u8]> {
        records
            .iter()
            .flat_map(|r| r.split(|&b| b == b'\n').filter(|l| !l.is_empty()))
            .collect()
    }

    #[test]
    fn lines_come_back_whole_in_order_each_newline_terminated() {
        let input: Vec<Vec<u8>> = (0..10_000)
            .map(|i| format!("{{\"n\":{i},\"log\":\"line {i}\"}}").into_bytes())
            .collect();
        let packed = pack_lines(input.iter().map(Vec::as_slice), MAX_RECORD_BYTES);
        assert!(packed.oversized.is_empty());
        assert!(
            packed
                .records
                .iter()
                .all(|r| r.ends_with(b"\n") && r.len() <= MAX_RECORD_BYTES)
        );
        assert_eq!(
            lines_of(&packed.records),
            input.iter().map(Vec::as_slice).collect::<Vec<_>>()
        );
        // ~30 bytes a line: all of them in one record.
        assert_eq!(packed.records.len(), 1);
        assert_eq!(packed.lines, vec![10_000]);
    }

    #[test]
    fn record_limit_holds_to_the_byte() {
        // Lines of 1023 bytes + newline = 1 KiB: exactly 1000 fit a record.
        let line = vec![b'x'; 1023];
        let packed = pack_lines(std::iter::repeat_n(line.as_slice(), 2001), MAX_RECORD_BYTES);
        assert_eq!(
            packed.records.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![MAX_RECORD_BYTES, MAX_RECORD_BYTES, 1024]
        );
        assert_eq!(packed.lines, vec![1000, 1000, 1]);
        // A line that fills a record exactly alone, and one a byte over.
        let exact = vec![b'y'; MAX_RECORD_BYTES - 1];
        let over = vec![b'z'; MAX_RECORD_BYTES];
        let packed = pack_lines([b"a".as_slice(), &exact, &over, b"b"], MAX_RECORD_BYTES);
        assert_eq!(packed.oversized, vec![2]);
        assert_eq!(
            packed.records.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, MAX_RECORD_BYTES, 2]
        );
    }

    #[test]
    fn a_smaller_record_size_is_honoured_and_a_larger_one_capped() {
        let line = vec![b'q'; 99];
        let packed = pack_lines(std::iter::repeat_n(line.as_slice(), 10), 250);
        assert_eq!(packed.records.iter().map(Vec::len).collect::<Vec<_>>(), vec![200; 5]);
        let packed = pack_lines([vec![b'q'; MAX_RECORD_BYTES].as_slice()], usize::MAX);
        assert_eq!(packed.oversized, vec![0]);
    }

    #[test]
    fn calls_hold_500_records_and_4_mib() {
        let small: Vec<Vec<u8>> = vec![vec![b'a'; 10]; 1001];
        let c = calls(&small);
        assert_eq!(c, vec![0..500, 500..1000, 1000..1001]);
        // Full records: 4 x 1,000 KiB = 4,096,000 <= 4 MiB, a fifth does not fit.
        let full: Vec<Vec<u8>> = vec![vec![b'b'; MAX_RECORD_BYTES]; 9];
        let c = calls(&full);
        assert_eq!(c, vec![0..4, 4..8, 8..9]);
        for r in &c {
            assert!(full[r.clone()].iter().map(Vec::len).sum::<usize>() <= MAX_BATCH_BYTES);
        }
        // Exactly 4 MiB fits.
        let quarter: Vec<Vec<u8>> = vec![vec![b'c'; MAX_BATCH_BYTES / 8]; 8];
        assert_eq!(calls(&quarter), vec![0..8]);
        assert!(calls::<Vec<u8>>(&[]).is_empty());
    }

    #[test]
    fn billing_rounds_up_to_5_kib() {
        assert_eq!(billed_units(1), 1);
        assert_eq!(billed_units(5120), 1);
        assert_eq!(billed_units(5121), 2);
        assert_eq!(billed_units(MAX_RECORD_BYTES), 200);
        // 10,000 lines of ~400 bytes: one record each would bill 10,000 units;
        // packed, about 4 MB bills 800.
        let line = vec![b'l'; 399];
        let packed = pack_lines(std::iter::repeat_n(line.as_slice(), 10_000), MAX_RECORD_BYTES);
        let units: u64 = packed.records.iter().map(|r| billed_units(r.len())).sum();
        assert_eq!(units, 782);
    }
}
