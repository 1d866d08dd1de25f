//! CloudWatch Logs delivery.

pub mod batch;
