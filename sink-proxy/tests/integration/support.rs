//! The shared test support (`test-support`) as sink-proxy's tests use it:
//! panicking on setup failures, the proxy in-process with `TEST_TOKEN` set.
#![allow(dead_code)] // each test file uses a part

use std::net::SocketAddr;
use test_support::fluent_bit::{self, Chunk};

#[allow(unused_imports)] // not every test file talks to AWS
pub use local_aws::sdk_config;
#[allow(unused_imports)] // not every test file compresses
pub use sink_proxy::gzip::compress as gzip;
pub use test_support::fluent_bit::Reply as Answer;
pub use test_support::in_process::RunningProxy;

/// The proxy with `args` and the TOML `file`, without a spool: 2xx once AWS
/// has a chunk.
pub async fn start(args: &[&str], file: &str, sdk: &aws_config::SdkConfig) -> RunningProxy {
    RunningProxy::start(args, file, env, sdk, false).await.unwrap()
}

/// With a spool in a fresh directory, and its drains running.
pub async fn start_spooled(args: &[&str], file: &str, sdk: &aws_config::SdkConfig) -> RunningProxy {
    RunningProxy::start(args, file, env, sdk, true).await.unwrap()
}

fn env(name: &str) -> Option<String> {
    (name == "TEST_TOKEN").then(|| "s3cret".to_owned())
}

pub async fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    fluent_bit::post(addr, path, headers, body).await.unwrap()
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    fluent_bit::get(addr, path).await.unwrap()
}

/// Posts `lines` as one chunk, as the shipped Fluent Bit settings do.
pub async fn post_chunk(addr: SocketAddr, tag: &str, lines: &[String]) -> Answer {
    let chunk = Chunk::json_lines(tag, lines.to_vec(), 0).unwrap();
    post(addr, "/", &chunk.headers(), chunk.body.clone()).await
}

/// Seconds since the epoch, as Fluent Bit's `json_date_key` sends them.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}
