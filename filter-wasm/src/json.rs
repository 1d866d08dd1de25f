//! Just enough JSON for the per-record path: walk an object's members, skip
//! values without building them, and unescape a string into a reused buffer.
//!
//! This is deliberately not a validating parser. Fluent Bit hands the module
//! JSON it produced itself; anything that does not look like it returns `None`
//! and the caller passes the record through unchanged.

use crate::swar::find2;

/// One `"key": value` member of an object, as byte ranges into the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Member<'a> {
    /// The key between its quotes, still escaped.
    pub key: &'a [u8],
    pub key_escaped: bool,
    /// First byte of the value and one past its last byte.
    pub value_start: usize,
    pub value_end: usize,
}

impl Member<'_> {
    pub fn value<'b>(&self, src: &'b [u8]) -> &'b [u8] {
        src.get(self.value_start..self.value_end).unwrap_or_default()
    }
}

#[inline]
pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(c) = b.get(i) {
        if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            break;
        }
        i += 1;
    }
    i
}

/// `i` is at an opening quote. Returns one past the closing quote and whether
/// the string holds escapes.
#[inline(always)]
pub(crate) fn string_end(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = find2(b, j, b'"', b'\\')?;
        if *b.get(j)? == b'"' {
            return Some((j + 1, escaped));
        }
        escaped = true;
        j += 2; // the backslash and the byte it escapes
    }
}

/// Skips one value starting at `i` (no leading whitespace). Returns one past
/// it, and whether it is a string holding escapes.
pub(crate) fn skip_value(b: &[u8], i: usize) -> Option<(usize, bool)> {
    match *b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            // Depth counting is enough: strings are skipped whole, so brackets
            // inside them never count.
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some((j + 1, false));
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while let Some(c) = b.get(j) {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                j += 1;
            }
            (j > i).then_some((j, false))
        }
    }
}

/// A member's key, read; its value not yet.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key<'a> {
    /// The key between its quotes, still escaped.
    pub key: &'a [u8],
    pub escaped: bool,
    /// First byte of the value.
    pub value_start: usize,
}

/// A cursor over the members of one object. A walk reads a key, then
/// decides whether to read its value; what follows a value is read only
/// when the next key is asked for, so a truncated object still yields every
/// member before the damage.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Members<'a> {
    src: &'a [u8],
    at: At,
}

#[derive(Debug, Clone, Copy)]
enum At {
    /// The next key's opening quote.
    Key(usize),
    /// One past the value just read.
    AfterValue(usize),
    /// The object's closing `}`.
    Close(usize),
}

impl<'a> Members<'a> {
    /// The members of the object whose `{` is at `open`.
    pub fn of(src: &'a [u8], open: usize) -> Option<Self> {
        if *src.get(open)? != b'{' {
            return None;
        }
        let i = skip_ws(src, open + 1);
        let at = if *src.get(i)? == b'}' { At::Close(i) } else { At::Key(i) };
        Some(Self { src, at })
    }

    /// The members that follow a value ending at `value_end`: a walk taken
    /// up again in the middle of an object.
    pub fn after(src: &'a [u8], value_end: usize) -> Self {
        Self {
            src,
            at: At::AfterValue(value_end),
        }
    }

    /// The next member's key (`Ok`), or the index of the closing `}` (`Err`).
    /// Fluent Bit writes compact JSON, so the `,` and `:` are looked for
    /// right away first. `None`: malformed.
    #[inline(always)]
    pub fn key(&mut self) -> Option<Result<Key<'a>, usize>> {
        let b = self.src;
        let i = match self.at {
            At::Key(i) => i,
            At::Close(close) => return Some(Err(close)),
            At::AfterValue(end) => {
                let i = if matches!(b.get(end), Some(b',' | b'}')) {
                    end
                } else {
                    skip_ws(b, end)
                };
                match *b.get(i)? {
                    b',' if b.get(i + 1) == Some(&b'"') => i + 1,
                    b',' => skip_ws(b, i + 1),
                    b'}' => {
                        self.at = At::Close(i);
                        return Some(Err(i));
                    }
                    _ => return None,
                }
            }
        };
        self.at = At::Key(i);
        if *b.get(i)? != b'"' {
            return None;
        }
        let (key_end, escaped) = string_end(b, i)?;
        let key = b.get(i + 1..key_end - 1)?;
        let colon = if b.get(key_end) == Some(&b':') {
            key_end
        } else {
            skip_ws(b, key_end)
        };
        if *b.get(colon)? != b':' {
            return None;
        }
        Some(Ok(Key {
            key,
            escaped,
            value_start: skip_ws(b, colon + 1),
        }))
    }

    /// Reads the value of `key` (just returned by `key`): the whole member.
    #[inline(always)]
    pub fn member(&mut self, key: Key<'a>) -> Option<Member<'a>> {
        let (value_end, _) = skip_value(self.src, key.value_start)?;
        self.at = At::AfterValue(value_end);
        Some(Member {
            key: key.key,
            key_escaped: key.escaped,
            value_start: key.value_start,
            value_end,
        })
    }
}

/// Walks the members of the object whose `{` is at `open`, calling `visit` for
/// each; `visit` returns `false` to stop early (then the result is `None`, as
/// the end was not reached). Returns the index of the closing `}`; malformed
/// input gives `None`.
pub(crate) fn walk_object<'a>(b: &'a [u8], open: usize, mut visit: impl FnMut(Member<'a>) -> bool) -> Option<usize> {
    let mut members = Members::of(b, open)?;
    loop {
        let key = match members.key()? {
            Ok(key) => key,
            Err(close) => return Some(close),
        };
        if !visit(members.member(key)?) {
            return None;
        }
    }
}

/// Appends the unescaped text of a JSON string body (without its quotes) to
/// `out`. Never fails: an invalid escape is kept as written and a lone
/// surrogate becomes U+FFFD, so classification still sees the rest of the text.
/// The unescaped text is never longer than the escaped one, so reserving
/// `raw.len()` up front means no reallocation happens here.
pub(crate) fn unescape_into(raw: &[u8], out: &mut Vec<u8>) {
    unescape_each(raw, |piece| {
        out.extend_from_slice(piece);
        true
    });
}

/// Unescapes `raw`, handing the text to `sink` a piece at a time until it
/// returns `false` or a bare `"` (the end of a string; never inside a body)
/// is met.
pub(crate) fn unescape_each(raw: &[u8], mut sink: impl FnMut(&[u8]) -> bool) {
    let mut rest = raw;
    while let Some((plain, tail)) = find2(rest, 0, b'\\', b'"').and_then(|k| rest.split_at_checked(k)) {
        if !sink(plain) || tail.first() == Some(&b'"') {
            return;
        }
        let (consumed, ch) = decode_escape(tail);
        let more = match ch {
            Decoded::Byte(c) => sink(&[c]),
            Decoded::Char(c) => sink(c.encode_utf8(&mut [0u8; 4]).as_bytes()),
            Decoded::Verbatim => sink(tail.get(..consumed).unwrap_or_default()),
        };
        if !more {
            return;
        }
        rest = tail.get(consumed..).unwrap_or_default();
    }
    sink(rest);
}

pub(crate) enum Decoded {
    Byte(u8),
    Char(char),
    Verbatim,
}

/// `s` starts with a backslash. Returns how many bytes the escape spans.
#[inline]
pub(crate) fn decode_escape(s: &[u8]) -> (usize, Decoded) {
    let simple = match s.get(1) {
        None => return (1, Decoded::Verbatim),
        Some(b'"') => b'"',
        Some(b'\\') => b'\\',
        Some(b'/') => b'/',
        Some(b'b') => 0x08,
        Some(b'f') => 0x0c,
        Some(b'n') => b'\n',
        Some(b'r') => b'\r',
        Some(b't') => b'\t',
        Some(b'u') => return decode_unicode(s),
        Some(_) => return (2, Decoded::Verbatim),
    };
    (2, Decoded::Byte(simple))
}

fn decode_unicode(s: &[u8]) -> (usize, Decoded) {
    let Some(hi) = hex4(s.get(2..6)) else {
        return (2, Decoded::Verbatim);
    };
    if (0xD800..0xDC00).contains(&hi) {
        // A high surrogate wants `\uDC00`..`\uDFFF` right after it.
        if s.get(6) == Some(&b'\\')
            && s.get(7) == Some(&b'u')
            && let Some(lo) = hex4(s.get(8..12))
            && (0xDC00..0xE000).contains(&lo)
        {
            let cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
            return (12, Decoded::Char(char::from_u32(cp).unwrap_or('\u{FFFD}')));
        }
        return (6, Decoded::Char('\u{FFFD}'));
    }
    (6, Decoded::Char(char::from_u32(hi).unwrap_or('\u{FFFD}')))
}

pub(crate) fn hex4(h: Option<&[u8]>) -> Option<u32> {
    let mut v = 0u32;
    for &c in h? {
        v = v * 16 + (c as char).to_digit(16)?;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(s: &str) -> String {
        let mut out = Vec::new();
        unescape_into(s.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn unescapes_simple_unicode_and_surrogate_pairs() {
        assert_eq!(unescape(r#"a\"b\\c\/d\n"#), "a\"b\\c/d\n");
        assert_eq!(unescape(r"\u30a8\u30e9\u30fc"), "エラー");
        assert_eq!(unescape(r"\ud83d\ude00!"), "😀!");
        assert_eq!(unescape(r"\u0045RROR"), "ERROR");
    }

    #[test]
    fn bad_escapes_never_fail_and_never_grow() {
        for s in [
            r"\ud83d",
            r"\ud83dx",
            r"\ude00",
            r"\u12",
            r"\uzzzz",
            r"\q",
            "\\",
            r"\ud83d\u0041",
        ] {
            let mut out = Vec::new();
            unescape_into(s.as_bytes(), &mut out);
            assert!(out.len() <= s.len(), "{s:?} grew to {out:?}");
        }
        assert_eq!(unescape(r"\ud83d\u0041"), "\u{FFFD}A");
        assert_eq!(unescape(r"x\q"), r"x\q");
    }

    #[test]
    fn walks_members_and_skips_nested_values() {
        let src = br#"{ "a" : {"x":[1,"]}",{"y":"}"}]}, "b\"q":"v\\", "c":-1.5e3 ,"d":null}"#;
        let mut keys = Vec::new();
        let end = walk_object(src, 0, |m| {
            keys.push((
                String::from_utf8_lossy(m.key).into_owned(),
                String::from_utf8_lossy(m.value(src)).into_owned(),
            ));
            true
        })
        .unwrap();
        assert_eq!(end, src.len() - 1);
        assert_eq!(keys.len(), 4);
        assert_eq!(keys[0].1, r#"{"x":[1,"]}",{"y":"}"}]}"#);
        assert_eq!(keys[1], (r#"b\"q"#.to_string(), r#""v\\""#.to_string()));
        assert_eq!(keys[2].1, "-1.5e3");
    }

    #[test]
    fn malformed_objects_give_none() {
        for src in [
            &b"{"[..],
            b"{\"a\"",
            b"{\"a\":",
            b"{\"a\":1",
            b"{\"a\" 1}",
            b"{a:1}",
            b"[1]",
            b"",
            b"{\"a\":\"x}",
            b"{\"a\":1,}",
        ] {
            assert!(
                walk_object(src, 0, |_| true).is_none(),
                "{:?}",
                String::from_utf8_lossy(src)
            );
        }
        assert_eq!(walk_object(b"{ }", 0, |_| true), Some(2));
    }
}
