//! Which errors are "the same error": a fingerprint of the message with its
//! variable parts (numbers, hex and UUIDs, IPs, quoted values, timestamps,
//! durations) replaced, plus the container name.
//!
//! The normalisation is by tokens, not patterns: any run of letters and
//! digits that holds a digit is variable (`42`, `0x7f3a`, `150ms`, `e29b`),
//! and a run of variable tokens joined by `. : - / + ,` is one (an IP, a
//! timestamp, a UUID, `1.5s`). That covers every format of each kind
//! without a list of formats, and text without digits stays as it is.

use serde_json::Value;

/// Only the head of a message is read: a 1 MiB line costs no more than this.
pub const HEAD_BYTES: usize = 2048;

/// Longest quoted value that is folded; a longer "quote" is probably prose.
const MAX_QUOTED: usize = 256;

/// A group's identity: 64 bits of BLAKE3, shown as 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub u64);

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The fingerprint of `message` from `container`.
pub fn fingerprint(container: &str, message: &str) -> Fingerprint {
    let mut h = blake3::Hasher::new();
    h.update(container.as_bytes());
    h.update(b"\0");
    h.update(normalise(message).as_bytes());
    let bytes = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    Fingerprint(u64::from_be_bytes(first))
}

/// The message's shape. A JSON object line is read as JSON (its keys kept,
/// its values normalised), so that its quotes are structure, not values.
pub fn normalise(message: &str) -> String {
    let trimmed = message.trim_start();
    if trimmed.starts_with('{')
        && let Ok(Value::Object(map)) = serde_json::from_str::<Value>(trimmed)
    {
        let mut out = String::new();
        json_shape(&Value::Object(map), &mut out);
        return out;
    }
    normalise_text(head(message))
}

fn head(s: &str) -> &str {
    if s.len() <= HEAD_BYTES {
        return s;
    }
    let mut end = HEAD_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Keys in order, values normalised; bounded like text by [`HEAD_BYTES`].
fn json_shape(v: &Value, out: &mut String) {
    if out.len() > HEAD_BYTES {
        return;
    }
    match v {
        Value::Object(map) => {
            out.push('{');
            for (k, v) in map {
                out.push_str(k);
                out.push('=');
                json_shape(v, out);
                out.push(';');
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for v in items {
                json_shape(v, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::String(s) => out.push_str(&normalise_text(head(s))),
        Value::Number(_) => out.push('#'),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Null => out.push_str("null"),
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_joiner(b: u8) -> bool {
    matches!(b, b'.' | b':' | b'-' | b'/' | b'+' | b',')
}

/// Text with each variable part replaced by `#` and each quoted value by
/// `"#"` (or `'#'`).
pub fn normalise_text(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    // Whether the last thing written was a `#` (a variable run continues
    // through joiners).
    let mut after_variable = false;
    while i < b.len() {
        let c = b[i];
        if (c == b'"' || c == b'\'')
            && (i == 0 || !is_word(b[i - 1]))
            && let Some(len) = quoted_len(&b[i + 1..], c)
        {
            out.push(c as char);
            out.push('#');
            out.push(c as char);
            i += len + 2;
            after_variable = false;
            continue;
        }
        if is_word(c) {
            let start = i;
            while i < b.len() && is_word(b[i]) {
                i += 1;
            }
            let word = &text[start..i];
            if word.bytes().any(|d| d.is_ascii_digit()) {
                if !after_variable {
                    out.push('#');
                }
                after_variable = true;
            } else {
                // A joiner held back after a variable run belongs to the text.
                out.push_str(word);
                after_variable = false;
            }
            continue;
        }
        if after_variable && is_joiner(c) && b.get(i + 1).is_some_and(|&n| is_word(n)) {
            // Look ahead: the joiner is swallowed only if a variable word follows.
            let mut j = i + 1;
            while j < b.len() && is_word(b[j]) {
                j += 1;
            }
            if variable_word(&text[i + 1..j]) {
                i = j;
                continue;
            }
        }
        // Copy one character (UTF-8 sequences whole).
        let len = utf8_len(c);
        out.push_str(&text[i..(i + len).min(text.len())]);
        i += len;
        after_variable = false;
    }
    out
}

/// A word that continues a variable run: one with a digit, or a month's
/// or a weekday's abbreviation inside a date (`29/Nov/2026`, `Mon-15`).
fn variable_word(word: &str) -> bool {
    const NAMES: [&str; 19] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Mon", "Tue", "Wed", "Thu",
        "Fri", "Sat", "Sun",
    ];
    word.bytes().any(|d| d.is_ascii_digit()) || NAMES.contains(&word)
}

/// Length of a quoted value ending at `quote` followed by a non-word byte.
fn quoted_len(rest: &[u8], quote: u8) -> Option<usize> {
    let end = rest
        .iter()
        .take(MAX_QUOTED + 1)
        .position(|&b| b == quote || b == b'\n')?;
    if rest[end] != quote || rest.get(end + 1).is_some_and(|&n| is_word(n)) {
        return None;
    }
    Some(end)
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs that must fall into one group.
    const SAME: &[(&str, &str)] = &[
        ("ERROR order 1234 failed", "ERROR order 98 failed"),
        (
            "ERROR request 550e8400-e29b-41d4-a716-446655440000 failed",
            "ERROR request 6ba7b810-9dad-11d1-80b4-00c04fd430c8 failed",
        ),
        (
            "ERROR connect to 10.0.3.17:5432 refused",
            "ERROR connect to 192.168.1.2:6543 refused",
        ),
        (
            "ERROR connect to [2001:db8::1]:80 refused",
            "ERROR connect to [fe80::1ff:fe23:4567:890a]:80 refused",
        ),
        (
            "2026-11-29T21:36:19.123Z ERROR db timeout",
            "2026-11-30T01:02:03.999Z ERROR db timeout",
        ),
        (
            "[29/Nov/2026:21:36:19 +0000] ERROR x",
            "[01/Dec/2026:01:02:03 +0000] ERROR x",
        ),
        ("ERROR query took 150ms", "ERROR query took 1.5s"),
        ("ERROR pointer 0x7f3a9c00 invalid", "ERROR pointer 0xdeadbeef invalid"),
        ("ERROR user \"alice\" not found", "ERROR user \"bob\" not found"),
        ("ERROR key 'a b c' missing", "ERROR key 'x' missing"),
        (
            "ERROR commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
            "ERROR commit 1b2e3f4a5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f",
        ),
        (
            r#"{"level":"error","msg":"payment 77 declined","trace_id":"abc123"}"#,
            r#"{"level":"error","msg":"payment 8 declined","trace_id":"ffe901"}"#,
        ),
        (
            r#"{"level":"error","msg":"user 'x' locked","ts":1764452179.5}"#,
            r#"{"level":"error","msg":"user 'yy' locked","ts":1764452180}"#,
        ),
    ];

    /// Pairs that must not.
    const DIFFERENT: &[(&str, &str)] = &[
        ("ERROR order failed", "ERROR payment failed"),
        ("ERROR connection refused", "ERROR connection reset"),
        ("ERROR can't open file", "ERROR can't read file"),
        ("ERROR db timeout", "FATAL db timeout"),
        ("ERROR x 1", "ERROR x"),
        (r#"{"level":"error","msg":"a"}"#, r#"{"level":"error","msg":"b"}"#),
        (r#"{"level":"error","msg":"a"}"#, r#"{"level":"error","message":"a"}"#),
        ("ERROR user \"alice\" not found", "ERROR user \"alice\" locked"),
    ];

    #[test]
    fn variable_parts_do_not_split_a_group() {
        for (a, b) in SAME {
            assert_eq!(normalise(a), normalise(b), "{a:?} vs {b:?}");
            assert_eq!(fingerprint("web", a), fingerprint("web", b));
        }
    }

    #[test]
    fn different_messages_never_share_a_group() {
        for (a, b) in DIFFERENT {
            assert_ne!(fingerprint("web", a), fingerprint("web", b), "{a:?} vs {b:?}");
        }
        assert_ne!(fingerprint("web", "ERROR x"), fingerprint("worker", "ERROR x"));
    }

    #[test]
    fn shapes_read_as_intended() {
        assert_eq!(normalise_text("GET /users/123 took 15ms"), "GET /users/# took #");
        assert_eq!(normalise_text("at 10.0.0.1:80, then"), "at #, then");
        assert_eq!(normalise_text("don't 'quote' me"), "don't '#' me");
        assert_eq!(normalise_text("naïve 5 ünïcode"), "naïve # ünïcode");
        assert_eq!(normalise_text("v1.2.3-rc"), "#-rc");
    }

    #[test]
    fn only_the_head_of_a_huge_message_is_read() {
        let a = format!("ERROR boom {}", "é".repeat(1 << 20));
        let b = format!("ERROR boom {}x", "é".repeat(1 << 20));
        assert_eq!(fingerprint("c", &a), fingerprint("c", &b));
        assert!(normalise(&a).len() <= HEAD_BYTES);
    }

    /// Error lines are input: any text, however broken its quotes, joiners
    /// and multi-byte characters, is fingerprinted without a panic (a panic
    /// here would leave a chunk unanswered, and Fluent Bit would resend it
    /// for ever).
    #[test]
    fn any_text_is_fingerprinted_without_a_panic() {
        const PIECES: [&str; 16] = [
            "\"", "'", "a", "Z", "7", "_", ".", ":", "-", "/", " ", "é", "エ", "😀", "Nov", "{\"k\":",
        ];
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..20_000 {
            let text: String = (0..rng.usize(0..40))
                .map(|_| PIECES[rng.usize(0..PIECES.len())])
                .collect();
            let _ = fingerprint("c", &text);
            assert!(normalise(&text).len() <= text.len() * 3 + 8);
        }
    }
}
