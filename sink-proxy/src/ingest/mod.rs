//! What arrives from Fluent Bit's `http` output.

pub mod decode;
