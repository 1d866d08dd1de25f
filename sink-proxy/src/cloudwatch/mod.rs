//! CloudWatch Logs delivery.

pub mod batch;
pub mod sink;
