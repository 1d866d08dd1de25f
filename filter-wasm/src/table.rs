//! 256-entry tables indexed by a byte. A `u8` always indexes one, so these
//! two are the only places the crate indexes without `get`.

/// The entry for byte `b` of a 256-entry table.
#[inline]
#[allow(clippy::indexing_slicing)]
pub(crate) fn entry<T>(table: &mut [T; 256], b: u8) -> &mut T {
    &mut table[usize::from(b)]
}

/// The value for byte `b` of a 256-entry table.
#[inline(always)]
#[allow(clippy::indexing_slicing)]
pub(crate) fn lookup<T: Copy>(table: &[T; 256], b: u8) -> T {
    table[usize::from(b)]
}
