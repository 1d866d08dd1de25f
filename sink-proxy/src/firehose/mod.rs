//! Amazon Data Firehose delivery.

pub mod batch;
pub mod sink;
pub mod streams;
