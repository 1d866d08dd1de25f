//! Amazon Data Firehose delivery.

pub mod batch;
