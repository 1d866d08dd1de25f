//! What a byte is to the text rules: part of a word, part of a logfmt key,
//! or a place where a logfmt key may start. ASCII only: any other byte
//! (every byte of a multi-byte character) is a boundary.

#[inline]
pub(crate) fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// The `len` bytes at `start` are a whole word of `t`: no word byte touches
/// them on either side.
pub(crate) fn is_whole_word(t: &[u8], start: usize, len: usize) -> bool {
    let before_ok = start
        .checked_sub(1)
        .and_then(|p| t.get(p))
        .is_none_or(|&c| !is_word_byte(c));
    before_ok && t.get(start + len).is_none_or(|&c| !is_word_byte(c))
}

#[inline]
pub(crate) fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// Bytes after which a logfmt key may start.
#[inline]
pub(crate) fn starts_token(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b',' | b';' | b'|' | b'(' | b'[' | b'{' | b'"' | b'\'')
}
