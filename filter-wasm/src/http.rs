//! HTTP in log text: which statuses are errors, and the parts of a quoted
//! request line (`"GET /x HTTP/1.1"`).

use std::ops::RangeInclusive;

/// The statuses that make a record an error (`status_min..=status_max`).
#[derive(Debug, Clone)]
pub(crate) struct ErrorStatuses(RangeInclusive<u16>);

impl ErrorStatuses {
    pub fn new(min: u16, max: u16) -> Self {
        Self(min..=max)
    }

    #[inline]
    pub fn contains(&self, status: u16) -> bool {
        self.0.contains(&status)
    }

    /// `digits` is exactly three ASCII digits, a status in the range.
    #[inline]
    pub fn contains_digits(&self, digits: &[u8]) -> bool {
        match digits {
            [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                self.contains(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
            }
            _ => false,
        }
    }
}

/// `GET ` starting `rest`: an upper-case method of 3 to 16 letters and a
/// space. Returns the method's length.
#[inline]
pub(crate) fn request_method_len(rest: &[u8]) -> Option<usize> {
    let len = rest.iter().take_while(|c| c.is_ascii_uppercase()).count();
    ((3..=16).contains(&len) && rest.get(len) == Some(&b' ')).then_some(len)
}

/// What follows a request method: ` target HTTP/1.1` (or `HTTP/2`).
pub(crate) fn is_target_and_version(rest: &[u8]) -> bool {
    let Some(last_space) = rest.iter().rposition(|&c| c == b' ') else {
        return false;
    };
    // A space opens it and a target sits between it and the version.
    if rest.first() != Some(&b' ') || last_space <= 1 {
        return false;
    }
    rest.get(last_space + 1..)
        .and_then(|proto| proto.strip_prefix(b"HTTP/"))
        .is_some_and(|v| !v.is_empty() && v.iter().all(|c| c.is_ascii_digit() || *c == b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_three_digits_in_the_range() {
        let s = ErrorStatuses::new(400, 599);
        for (digits, want) in [
            (&b"400"[..], true),
            (b"599", true),
            (b"399", false),
            (b"600", false),
            (b"4000", false),
            (b"50", false),
            (b"5a0", false),
            (b"", false),
        ] {
            assert_eq!(s.contains_digits(digits), want, "{:?}", String::from_utf8_lossy(digits));
        }
    }
}
