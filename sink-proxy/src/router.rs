//! The log router's own counters, read from Fluent Bit's HTTP server
//! (`/api/v1/metrics`, which the include turns on at 127.0.0.1:2020) each
//! time the EMF lines are written: what reached the classification filter,
//! the health checks it dropped (the module drops nothing else), what the
//! output handed to this proxy, and Fluent Bit's retries and drops. The
//! include names the filter and the output with `Alias`, so their keys do
//! not depend on their positions.

use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::time::Duration;

pub const METRICS_URL_ENV: &str = "SINK_PROXY_FLUENT_BIT_METRICS_URL";
pub const DEFAULT_METRICS_URL: &str = "http://127.0.0.1:2020/api/v1/metrics";
/// `Alias` of the include's `wasm` filter and of its `http` output.
pub const FILTER_ALIAS: &str = "firelens_classify";
pub const OUTPUT_ALIAS: &str = "sink_proxy";
/// Fluent Bit answers from memory; anything slower is a stuck router.
const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_BODY: usize = 1 << 20;

/// Fluent Bit's counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Records that reached the classification filter (after joining).
    /// `None`: the include has no Wasm filter (sink-proxy classifies).
    pub records_in: Option<u64>,
    /// Records the filter dropped: the health checks.
    pub health_checks_dropped: Option<u64>,
    /// Records the output handed to this proxy.
    pub records_out: u64,
    pub retries: u64,
    pub retries_failed: u64,
    /// Records Fluent Bit gave up on (retries exhausted or refused for good).
    pub records_dropped: u64,
}

impl Counters {
    /// From `/api/v1/metrics`'s JSON; an error names what is missing.
    pub fn parse(body: &[u8]) -> Result<Self, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
        let get = |kind: &str, name: &str, key: &str| {
            v[kind][name][key]
                .as_u64()
                .ok_or_else(|| format!("no {kind}.{name}.{key} (is the include's Alias {name} in place?)"))
        };
        Ok(Self {
            records_in: get("filter", FILTER_ALIAS, "records").ok(),
            health_checks_dropped: get("filter", FILTER_ALIAS, "drop_records").ok(),
            records_out: get("output", OUTPUT_ALIAS, "proc_records")?,
            retries: get("output", OUTPUT_ALIAS, "retries")?,
            retries_failed: get("output", OUTPUT_ALIAS, "retries_failed")?,
            records_dropped: get("output", OUTPUT_ALIAS, "dropped_records")?,
        })
    }
}

/// Where to read them.
#[derive(Clone)]
pub struct Source {
    uri: hyper::Uri,
    client: Client<HttpConnector, Empty<bytes::Bytes>>,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Source({})", self.uri)
    }
}

impl PartialEq for Source {
    fn eq(&self, other: &Self) -> bool {
        self.uri == other.uri
    }
}

impl Eq for Source {}

impl Source {
    /// From the environment: the default URL, another `http://` one, or
    /// `off`.
    pub fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let url = env(METRICS_URL_ENV)
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| DEFAULT_METRICS_URL.to_owned());
        if url.is_empty() || url.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        let uri: hyper::Uri = url.parse().map_err(|e| format!("{METRICS_URL_ENV} {url:?}: {e}"))?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(format!(
                "{METRICS_URL_ENV} {url:?}: an http:// URL of Fluent Bit's /api/v1/metrics, or off"
            ));
        }
        Ok(Some(Self {
            uri,
            client: Client::builder(TokioExecutor::new()).build_http(),
        }))
    }

    /// The counters now, or why not (Fluent Bit's HTTP server off, not yet
    /// up, or another include).
    pub async fn read(&self) -> Result<Counters, String> {
        let fetch = async {
            let res = self
                .client
                .get(self.uri.clone())
                .await
                .map_err(|e| format!("{}: {e}", self.uri))?;
            if !res.status().is_success() {
                return Err(format!("{}: answered {}", self.uri, res.status()));
            }
            let body = Limited::new(res.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("{}: {e}", self.uri))?
                .to_bytes();
            Counters::parse(&body)
        };
        tokio::time::timeout(TIMEOUT, fetch)
            .await
            .unwrap_or_else(|_| Err(format!("{}: no answer within {TIMEOUT:?}", self.uri)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Fluent Bit 4.2.2 answered with the include in place, after 100
    /// records of which 30 were health checks (bench/multiline.py's router).
    pub const FLUENT_BIT_4_2_2: &str = include_str!("../tests/fixtures/fluent-bit-4.2.2-metrics.json");

    #[test]
    fn reads_fluent_bit_4_2_2s_answer() {
        let c = Counters::parse(FLUENT_BIT_4_2_2.as_bytes()).unwrap();
        assert_eq!(c.records_in, Some(100));
        assert_eq!(c.health_checks_dropped, Some(30));
        assert_eq!(c.records_out, 70);
        assert_eq!((c.retries, c.retries_failed, c.records_dropped), (0, 0, 0));
    }

    #[test]
    fn says_what_is_missing() {
        let e = Counters::parse(br#"{"filter": {"wasm.1": {"records": 3}}}"#).unwrap_err();
        assert!(e.contains("sink_proxy") && e.contains("Alias"), "{e}");
        // No Wasm filter (firelens-lean.conf): the output's counters alone.
        let lean = Counters::parse(
            br#"{"output": {"sink_proxy": {"proc_records": 5, "retries": 0, "retries_failed": 0, "dropped_records": 0}}}"#,
        )
        .unwrap();
        assert_eq!(
            (lean.records_in, lean.health_checks_dropped, lean.records_out),
            (None, None, 5)
        );
        assert!(Counters::parse(b"<html>").unwrap_err().starts_with("not JSON"));
    }

    #[test]
    fn settings_from_the_environment() {
        let none = |_: &str| None;
        let s = Source::from_env(&none).unwrap().unwrap();
        assert_eq!(s.uri.to_string(), DEFAULT_METRICS_URL);
        for off in ["off", "", " OFF "] {
            let env = |k: &str| (k == METRICS_URL_ENV).then(|| off.to_owned());
            assert_eq!(Source::from_env(&env).unwrap(), None, "{off:?}");
        }
        let https = |k: &str| (k == METRICS_URL_ENV).then(|| "https://x/api".to_owned());
        assert!(Source::from_env(&https).unwrap_err().contains("http://"));
    }
}
