//! Test support shared by sink-proxy's tests, the end-to-end tests, the demo
//! and the benchmarks, in one place. Everything listens on and talks to
//! 127.0.0.1 only.
//!
//! - `fluent_bit`: chunks and requests as Fluent Bit's `http` output sends them;
//! - `in_process`: the proxy served from the test's own process;
//! - `process`: the sink-proxy binary as its own process, as ECS runs it;
//! - `driver`: sends chunks like Fluent Bit, again until accepted;
//! - `receiver`: an HTTP receiver standing in for Slack and webhooks.

pub mod driver;
pub mod fluent_bit;
pub mod in_process;
pub mod process;
pub mod receiver;
