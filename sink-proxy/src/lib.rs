//! Delivery of FireLens records to CloudWatch Logs and Amazon Data Firehose:
//! receives Fluent Bit's `http` output (`server`), plans each chunk
//! (`plan`), and delivers it within every AWS limit (`cloudwatch`,
//! `firehose`), answering 2xx only when every record is where it belongs.

pub mod alerts;
pub mod aws;
pub mod cloudwatch;
pub mod config;
pub mod deadletter;
pub mod delivered;
pub mod drain;
pub mod emf;
pub mod fields;
pub mod firehose;
pub mod gzip;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod outcome;
pub mod plan;
pub mod proxy;
pub mod retry;
pub mod route;
pub mod router;
pub mod secret;
pub mod server;
pub mod spool;
pub mod spooled;
pub mod startup;
