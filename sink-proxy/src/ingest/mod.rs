//! What arrives from Fluent Bit's `http` output: `Body::read` takes the
//! request's headers and bytes, `Body::records` gives the records.

pub mod body;
pub mod decode;
pub mod msgpack;

pub use body::Body;
