//! Delivery of FireLens records to CloudWatch Logs and Amazon Data Firehose.
//!
//! Work in progress (issue 3): the batchers, which hold every AWS request
//! limit, come first because every delivery path rests on them.

pub mod cloudwatch;
pub mod config;
pub mod delivered;
pub mod firehose;
pub mod ingest;
pub mod retry;
pub mod route;
