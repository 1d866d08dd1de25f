//! Which bytes of an 8-byte chunk may start something, in a few SWAR
//! operations: the scans look closer only at flagged bytes.

use crate::swar::zero_bytes;
use crate::table::lookup;

/// Which bytes of an 8-byte chunk may start something. Flags are a superset;
/// the class table decides.
#[derive(Debug, Clone)]
pub(crate) enum Prefilter {
    /// Up to eight trigger bytes, each tested for equality (repeated to
    /// fill), stored broadcast to all eight lanes.
    Exact([u64; MAX_EXACT]),
    /// More: a range test for `A`..=`\` (capitals, `[` and the backslash) plus
    /// equality tests for up to four bytes outside it.
    RangePlus([u64; MAX_EXTRA]),
    /// Too many trigger bytes outside the range: look at every byte.
    Every,
}

const MAX_EXACT: usize = 8;
const MAX_EXTRA: usize = 4;
const RANGE_LO: u8 = b'A';
/// `[` and the backslash follow `Z`: brackets and escapes are in the range.
const RANGE_HI: u8 = b'\\';

/// `bytes` broadcast to `N` lanes, the first repeated to fill; `None` when
/// there are none or more than `N`.
fn lanes<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    let (&first, _) = bytes.split_first().filter(|_| bytes.len() <= N)?;
    let mut lanes = [splat(first); N];
    for (lane, &b) in lanes.iter_mut().zip(bytes) {
        *lane = splat(b);
    }
    Some(lanes)
}

impl Prefilter {
    pub(crate) fn new(class: &[u8; 256]) -> Self {
        let triggers: Vec<u8> = (0..=255u8).filter(|&b| lookup(class, b) != 0).collect();
        if let Some(l) = lanes(&triggers) {
            return Self::Exact(l);
        }
        let extra: Vec<u8> = triggers
            .into_iter()
            .filter(|b| !(RANGE_LO..=RANGE_HI).contains(b))
            .collect();
        if extra.is_empty() {
            // A repeated test of an in-range byte changes nothing.
            return Self::RangePlus([splat(RANGE_LO); MAX_EXTRA]);
        }
        lanes(&extra).map_or(Self::Every, Self::RangePlus)
    }

    /// Which kind was built (for tests and their coverage checks).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Exact(_) => "Exact",
            Self::RangePlus(_) => "RangePlus",
            Self::Every => "Every",
        }
    }

    /// High bit set in each byte of `v` that may be a trigger.
    #[inline(always)]
    pub(crate) fn flags(&self, v: u64) -> u64 {
        const HI: u64 = 0x8080_8080_8080_8080;
        const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let extra = match self {
            Self::Exact(lanes) => {
                let [a, b, c, d, e, f, g, h] = *lanes;
                let z = |s: u64| zero_bytes(v ^ s);
                return z(a) | z(b) | z(c) | z(d) | z(e) | z(f) | z(g) | z(h);
            }
            Self::RangePlus(extra) => extra,
            Self::Every => return HI,
        };
        // Per byte, x7 + (0x80 - n) has its high bit set iff x7 >= n; no
        // carry crosses bytes since x7 <= 0x7f.
        let x7 = v & LO7;
        let ge_lo = x7 + (0x80 - u64::from(RANGE_LO)) * 0x0101_0101_0101_0101;
        let ge_hi = x7 + (0x80 - u64::from(RANGE_HI) - 1) * 0x0101_0101_0101_0101;
        let in_range = ge_lo & !ge_hi & !v & HI;
        let [a, b, c, d] = *extra;
        in_range | zero_bytes(v ^ a) | zero_bytes(v ^ b) | zero_bytes(v ^ c) | zero_bytes(v ^ d)
    }
}

fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * u64::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte that may start something is flagged, in every lane, for
    /// trigger sets that build each kind of prefilter.
    #[test]
    fn every_trigger_byte_is_flagged() {
        let sets: [(&[u8], &str); 3] = [
            (b"\"\\[=RCFk", "Exact"),
            (b"\"\\[=RCFKXYZQ", "RangePlus"),
            (b"\"\\[=RCFkxyzqw", "Every"),
        ];
        for (triggers, kind) in sets {
            let mut class = [0u8; 256];
            for &b in triggers {
                class[usize::from(b)] = 1;
            }
            let p = Prefilter::new(&class);
            assert_eq!(p.kind(), kind);
            for b in 0..=255u8 {
                for lane in 0..8 {
                    let mut v = [b'.'; 8];
                    v[lane] = b;
                    let flagged = p.flags(u64::from_le_bytes(v)) & (0x80 << (8 * lane)) != 0;
                    assert!(flagged || class[usize::from(b)] == 0, "{kind}: byte {b:#x} lane {lane}");
                }
            }
        }
    }
}
