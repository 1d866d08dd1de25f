//! The literal patterns of the rules (health-checker user agents, error
//! words, `contains`) and where the scans anchor them: each literal is found
//! from one of a few rare bytes, chosen by set cover, so that common letters
//! cost the scan nothing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LiteralKind {
    Health,
    Word,
    Contains,
    /// A Java stack trace's header (see `stack.rs`): an error with a frame.
    JavaHeader,
}

#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub bytes: Vec<u8>,
    pub kind: LiteralKind,
    /// Offset of the byte the scan stops at (`by_anchor`): its rarest byte
    /// among the few chosen for all literals (`anchor_bytes`), so that common
    /// letters (the `E` of `GET`) cost nothing.
    pub anchor: usize,
    /// The first four bytes (fewer for a shorter literal, zero-padded) and
    /// the mask that keeps them: most candidates fail this one comparison.
    head: u32,
    head_mask: u32,
}

impl Literal {
    pub(crate) fn new(bytes: &[u8], kind: LiteralKind, anchor: usize) -> Self {
        let mut head = [0u8; 4];
        let mut mask = [0u8; 4];
        for ((h, m), &b) in head.iter_mut().zip(mask.iter_mut()).zip(bytes) {
            *h = b;
            *m = 0xff;
        }
        Self {
            bytes: bytes.to_vec(),
            kind,
            anchor,
            head: u32::from_le_bytes(head),
            head_mask: u32::from_le_bytes(mask),
        }
    }

    /// Does the literal anchored at `i` sit in `t`? Returns where it starts.
    #[inline]
    pub fn at(&self, t: &[u8], i: usize) -> Option<usize> {
        let start = i.checked_sub(self.anchor)?;
        let end = start.checked_add(self.bytes.len())?;
        let candidate = t.get(start..end)?;
        if let Some(four) = t.get(start..start + 4) {
            let v = u32::from_le_bytes(four.try_into().unwrap_or([0; 4]));
            if v & self.head_mask != self.head {
                return None;
            }
        }
        (candidate == self.bytes.as_slice()).then_some(start)
    }
}

/// How rare a byte is in log text, roughly: higher is rarer. Letters by
/// their frequency in English, capitals rarer than small letters; digits,
/// spaces and punctuation are the most common of all.
fn rarity(c: u8) -> usize {
    const ORDER: &[u8] = b"etaoinshrdlcumwfgypbvkjxqz";
    let rank = ORDER
        .iter()
        .position(|&o| o == c.to_ascii_lowercase())
        .map_or(0, |r| r + 1);
    rank + if c.is_ascii_uppercase() { 30 } else { 0 }
}

/// The bytes the scan stops at for literals: few, and rare. Greedy set
/// cover: each step takes the byte found in the most literals not yet
/// covered, the rarer on a tie. The defaults need four (`R C F k`), so the
/// common capitals of `GET` and `HTTP` stop nothing.
pub(crate) fn anchor_bytes(literals: &[&[u8]]) -> Vec<u8> {
    let mut covered = vec![false; literals.len()];
    let mut chosen = Vec::new();
    while covered.iter().any(|c| !c) {
        let mut best: Option<(usize, usize, u8)> = None;
        for b in 0..=255u8 {
            let n = literals
                .iter()
                .zip(&covered)
                .filter(|(l, c)| !**c && l.contains(&b))
                .count();
            if n > 0 && best.is_none_or(|(bn, br, _)| (n, rarity(b)) > (bn, br)) {
                best = Some((n, rarity(b), b));
            }
        }
        let Some((_, _, b)) = best else { break };
        chosen.push(b);
        for (l, c) in literals.iter().zip(covered.iter_mut()) {
            *c = *c || l.contains(&b);
        }
    }
    chosen
}

/// Where a literal is anchored: its rarest byte among the chosen ones.
pub(crate) fn anchor_of(lit: &[u8], chosen: &[u8]) -> usize {
    let mut best: Option<usize> = None;
    for (i, &c) in lit.iter().enumerate() {
        if chosen.contains(&c) && best.and_then(|j| lit.get(j)).is_none_or(|&b| rarity(c) > rarity(b)) {
            best = Some(i);
        }
    }
    best.unwrap_or(0)
}

/// Bytes a JSON string holds as themselves: a literal made only of these
/// matches the escaped text exactly where it matches the unescaped text.
pub(crate) fn is_plain(c: u8) -> bool {
    (0x20..0x7f).contains(&c) && c != b'"' && c != b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RulesFile;

    #[test]
    fn default_literals_are_anchored_on_four_rare_bytes() {
        let rules = RulesFile::default();
        let all: Vec<&[u8]> = [&rules.health.user_agents, &rules.error.words]
            .iter()
            .flat_map(|l| l.iter().map(|s| s.as_bytes()))
            .collect();
        let mut chosen = anchor_bytes(&all);
        chosen.sort_unstable();
        assert_eq!(chosen, b"CFRk");
        // Every literal holds one of them, so the scan cannot miss it; so do
        // the built-in stack-trace literals, which are anchored on them.
        assert!(all.iter().all(|l| l.iter().any(|c| chosen.contains(c))));
        for built_in in [crate::stack::PYTHON_HEADER, crate::stack::JAVA_CAUSED_BY] {
            assert!(built_in.bytes().any(|c| chosen.contains(&c)), "{built_in}");
        }
    }
}
