//! Stack traces, once the lines of one are joined into one record (the
//! stack-trace include): what makes such an event an error though it holds
//! no error word.
//!
//! - Python: the traceback header `Traceback (most recent call last):`.
//! - Java: a header, `Exception in thread "` (an uncaught exception) or
//!   `Caused by: `, and a frame, a tab followed by `at `.
//! - Go: `panic: ` and, after it, a `goroutine N [running]:` dump.
//!
//! Each piece is found where a scan already stops, so that the scans keep
//! their few trigger bytes: the Python header is a literal anchored on its
//! `k`, `Caused by: ` on its `C`; `Exception in thread "` is recognised at
//! the quote, the Go dump at its `[`. Frames are looked for only once a
//! Java header was seen, by one search over the line.

use memchr::memmem;

/// A literal: the line is an error.
pub(crate) const PYTHON_HEADER: &str = "Traceback (most recent call last):";
/// A literal: a Java header.
pub(crate) const JAVA_CAUSED_BY: &str = "Caused by: ";
/// Before a quote: a Java header.
const JAVA_UNCAUGHT: &[u8] = b"Exception in thread ";
/// From a `[`: a Go goroutine dump, after `goroutine N `.
const GO_RUNNING: &[u8] = b"[running]:";
const GO_GOROUTINE: &[u8] = b"goroutine ";
const GO_PANIC: &[u8] = b"panic: ";

/// `text[start..quote]`, the text before a quote, ends a Java
/// uncaught-exception header. Called at every quote (a JSON log line has one
/// at each key and string): the two bytes before it (`d `) reject nearly all
/// of them, before any slice is made; JSON puts a space only after `:` and `,`.
#[inline(always)]
pub(crate) fn java_uncaught_at(text: &[u8], start: usize, quote: usize) -> bool {
    text.get(quote.wrapping_sub(1)) == Some(&b' ')
        && text.get(quote.wrapping_sub(2)) == Some(&b'd')
        && text
            .get(start..quote)
            .is_some_and(|before| before.ends_with(JAVA_UNCAUGHT))
}

/// At a `[`: `before` is the text before it, `from` the text from it. A
/// `goroutine N [running]:` line, with `panic: ` earlier in the text.
pub(crate) fn go_dump_at(before: &[u8], from: &[u8]) -> bool {
    if !from.starts_with(GO_RUNNING) {
        return false;
    }
    let Some(rest) = before.strip_suffix(b" ") else {
        return false;
    };
    let digits = rest.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let Some(head) = rest.get(..rest.len() - digits) else {
        return false;
    };
    digits > 0 && head.ends_with(GO_GOROUTINE) && memmem::find(head, GO_PANIC).is_some()
}

/// Unescaped text: a Java frame, a tab followed by `at `.
pub(crate) fn has_frame(text: &[u8]) -> bool {
    memmem::find(text, b"\tat ").is_some()
}

/// The same, in a JSON string body: the tab is `\t` (an escape, not an
/// escaped backslash followed by `t`) or, in a string Fluent Bit did not
/// write, a raw tab.
pub(crate) fn has_frame_escaped(body: &[u8]) -> bool {
    memmem::find_iter(body, b"at ").any(|at| match at.checked_sub(1).and_then(|p| body.get(p)) {
        Some(b'\t') => true,
        Some(b't') => {
            let before_t = body.get(..at - 1).unwrap_or_default();
            before_t.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
        }
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dumps_need_a_panic_before_them() {
        let text = b"panic: runtime error: index out of range\n\ngoroutine 1 [running]:\nmain.main()";
        let at = text.iter().position(|&c| c == b'[').unwrap();
        assert!(go_dump_at(&text[..at], &text[at..]));
        let no_panic = b"goroutine 1 [running]:";
        assert!(!go_dump_at(b"goroutine 1 ", no_panic));
        assert!(!go_dump_at(b"panic: x goroutine  ", b"[running]:"), "no number");
        assert!(!go_dump_at(b"panic: x goroutine 7 ", b"[runnable]:"));
    }

    #[test]
    fn frames_escaped_and_not() {
        assert!(has_frame(b"x\n\tat com.example.A.b(A.java:1)"));
        assert!(!has_frame(b"x\n    at f (a.js:1:2)"));
        assert!(has_frame_escaped(br"x\n\tat com.example.A.b(A.java:1)"));
        assert!(has_frame_escaped(b"x\n\tat raw tab"));
        assert!(!has_frame_escaped(br"C:\\tat x"), "an escaped backslash, then `tat`");
        assert!(has_frame_escaped(br"C:\\\tat x"), "an escaped backslash, then a tab");
        assert!(!has_frame_escaped(br"that at 3"));
    }
}
