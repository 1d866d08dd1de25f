//! Byte searches eight bytes at a time in a `u64` ("SIMD within a register").
//!
//! Fluent Bit's WAMR has no Wasm SIMD and interprets every instruction, and
//! the strings searched here are short (keys, ids, one log line), where
//! `memchr`'s portable fallback spends more on set-up than on searching.
//! These loops have no set-up and cost a few instructions per 8 bytes.

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `v` that is zero. Bytes above a zero byte may
/// be flagged too (borrow), so only the lowest flag is exact.
#[inline(always)]
pub(crate) fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// Index of the first `a` or `b` at or after `from`. Inlined: the strings
/// searched are mostly short, so set-up and call costs dominate.
#[inline(always)]
pub(crate) fn find2(h: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
    let (sa, sb) = (LO * u64::from(a), LO * u64::from(b));
    let mut at = from;
    while let Some(chunk) = h.get(at..at + 8) {
        let v = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let m = zero_bytes(v ^ sa) | zero_bytes(v ^ sb);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let k = h.get(at..)?.iter().position(|&c| c == a || c == b)?;
    Some(at + k)
}

/// Index of the first `a` at or after `from`.
#[inline]
pub(crate) fn find1(h: &[u8], from: usize, a: u8) -> Option<usize> {
    find2(h, from, a, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(h: &[u8], from: usize, a: u8, b: u8) -> Option<usize> {
        (from..h.len()).find(|&i| h[i] == a || h[i] == b)
    }

    #[test]
    fn agrees_with_a_naive_search_everywhere() {
        // Alphabet with the searched bytes, zero (borrow) and high bytes.
        const ALPHABET: [u8; 6] = [b'"', b'\\', b'x', 0, 0xff, 0x01];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        for len in 0..48 {
            for _ in 0..200 {
                let h: Vec<u8> = (0..len)
                    .map(|_| {
                        seed ^= seed << 13;
                        seed ^= seed >> 7;
                        seed ^= seed << 17;
                        ALPHABET[(seed % 6) as usize]
                    })
                    .collect();
                for from in 0..=len + 1 {
                    for (a, b) in [(b'"', b'\\'), (0, 0x01), (0xff, 0xff)] {
                        assert_eq!(find2(&h, from, a, b), naive(&h, from, a, b), "{h:?} from {from}");
                    }
                }
            }
        }
    }
}
