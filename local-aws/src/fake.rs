//! A fake AWS endpoint for Firehose and CloudWatch Logs (the awsJson 1.1
//! protocol the SDK speaks) that injects faults and checks every request
//! limit moto does not: PutRecordBatch ≤ 500 records, ≤ 4 MiB, records
//! ≤ 1,000 KiB; PutLogEvents ≤ 10,000 events, ≤ 1,048,576 bytes with 26 per
//! event, chronological, ≤ 24 h. A request over a limit fails the test.

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the next call of a kind answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer normally.
    Pass,
    /// 400 ThrottlingException (CloudWatch) / LimitExceededException (Firehose).
    Throttle,
    /// 500 InternalFailure.
    ServerError,
    /// 503 ServiceUnavailableException.
    Unavailable,
    /// 400 AccessDeniedException (permissions: retrying cannot help).
    Denied,
    /// Firehose: 200, with these records (indices in the request) failed.
    FailRecords(Vec<usize>),
    /// Answer normally after this long.
    Slow(Duration),
}

#[derive(Default)]
pub struct State {
    /// Faults for the next PutRecordBatch / PutLogEvents calls, in order.
    pub firehose_faults: VecDeque<Fault>,
    pub logs_faults: VecDeque<Fault>,
    /// Every PutRecordBatch and PutLogEvents answer takes at least this long
    /// (a slow AWS: requests pile up in the proxy).
    pub delay_all: Option<Duration>,
    /// While set, every call of that kind answers 503 (an outage).
    pub firehose_down: bool,
    pub logs_down: bool,
    /// Operations (by target name: `DescribeDeliveryStream`,
    /// `CreateLogGroup`, ...) answered AccessDeniedException: a role
    /// without that permission.
    pub denied: HashSet<String>,
    /// Firehose delivery streams that throttle every call (over quota).
    pub throttled_streams: HashSet<String>,
    /// Random faults: this share of calls fail (throttle, 5xx, some records)
    /// or answer slowly, from a seeded generator.
    pub random_fault_rate: f64,
    pub rng: Option<fastrand::Rng>,
    /// Accepted Firehose records: (stream, data).
    pub records: Vec<(String, Vec<u8>)>,
    /// Accepted CloudWatch events: (group, stream, timestamp, message).
    pub events: Vec<(String, String, i64, String)>,
    pub groups: HashSet<String>,
    pub streams: HashSet<(String, String)>,
    pub retention: Vec<(String, i64)>,
    /// Calls, by target name (PutRecordBatch, CreateLogStream...).
    pub calls: std::collections::BTreeMap<String, usize>,
    /// Count only: accepted records and events are counted, not kept
    /// (benchmarks, long runs).
    pub count_only: bool,
    pub record_count: u64,
    pub record_bytes: u64,
    /// Lines in the accepted Firehose records (a last line without its
    /// newline counts too).
    pub record_lines: u64,
    /// Firehose's billing: each record rounded up to a multiple of 5 KiB.
    pub billed_units: u64,
    pub event_count: u64,
    /// Limit violations seen (must stay empty).
    pub violations: Vec<String>,
    requests: u64,
}

impl State {
    fn next_request_id(&mut self) -> String {
        self.requests += 1;
        format!("00000000-0000-4000-8000-{:012x}", self.requests)
    }

    /// Every line in every accepted Firehose record of `stream`, in order.
    pub fn firehose_lines(&self, stream: &str) -> Vec<String> {
        self.records
            .iter()
            .filter(|(s, _)| s == stream)
            .flat_map(|(_, d)| {
                assert!(d.ends_with(b"\n"), "a record must end with a newline");
                String::from_utf8(d.clone())
                    .unwrap()
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Random faults on `rate` of the calls, seeded.
    pub fn random_faults(&mut self, rate: f64, seed: u64) {
        self.random_fault_rate = rate;
        self.rng = Some(fastrand::Rng::with_seed(seed));
    }

    pub fn calls_of(&self, target: &str) -> usize {
        self.calls.get(target).copied().unwrap_or(0)
    }

    /// Every accepted CloudWatch message, in arrival order.
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        self.events.iter().map(|(_, _, _, m)| m.as_str())
    }
}

pub struct FakeAws {
    pub endpoint: String,
    pub state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    tls: Option<crate::tls::LoopbackTls>,
}

impl Drop for FakeAws {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeAws {
    /// Plain HTTP on a free loopback port.
    pub async fn start() -> Self {
        Self::serve(None).await
    }

    /// HTTPS on a free loopback port, as AWS's endpoints are: a CA made for
    /// this instance signs a certificate for 127.0.0.1; [`FakeAws::ca_file`]
    /// holds the CA's PEM for the clients to trust (`SSL_CERT_FILE` for the
    /// AWS SDK for Rust, `tls.ca_file` for Fluent Bit).
    pub async fn start_tls() -> Self {
        let tls = crate::tls::LoopbackTls::generate().expect("a loopback certificate");
        Self::serve(Some(tls)).await
    }

    /// The CA to trust, when serving HTTPS.
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.tls.as_ref().map(|t| t.ca_file.path())
    }

    async fn serve(tls: Option<crate::tls::LoopbackTls>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let endpoint = format!("{scheme}://{}", listener.local_addr().unwrap());
        let acceptor = tls.as_ref().map(|t| t.acceptor.clone());
        let state = Arc::new(Mutex::new(State::default()));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                // As AWS's endpoints do: no Nagle delay on small answers.
                let _ = stream.set_nodelay(true);
                let st = st.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(st.clone(), req));
                    let http = hyper::server::conn::http1::Builder::new();
                    let _ = match acceptor {
                        None => http.serve_connection(TokioIo::new(stream), svc).await,
                        Some(a) => match a.accept(stream).await {
                            Ok(tls) => http.serve_connection(TokioIo::new(tls), svc).await,
                            Err(_) => return,
                        },
                    };
                });
            }
        });
        Self {
            endpoint,
            state,
            task,
            tls,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

async fn answer(
    st: Arc<Mutex<State>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('.').nth(1))
        .unwrap_or("")
        .to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, answer, delay) = handle(&st, &target, &body);
    let slow = st.lock().map(|s| s.delay_all).unwrap_or_default();
    let delay = match (delay, slow) {
        (Some(d), Some(s)) => Some(d.max(s)),
        (d, s) => d.or(s),
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    let mut r = hyper::Response::new(Full::new(Bytes::from(answer.to_string())));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    let h = r.headers_mut();
    h.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    // As AWS answers: Fluent Bit's CloudWatch output takes a 200 without
    // one for a failure and sends the events again.
    let id = st.lock().map(|mut s| s.next_request_id()).unwrap_or_default();
    h.insert("x-amzn-requestid", id.parse().unwrap());
    Ok(r)
}

fn lines_in(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(data.last().is_some_and(|&b| b != b'\n'))
}

fn error(status: u16, code: &str) -> (u16, Value, Option<Duration>) {
    (
        status,
        json!({"__type": code, "message": format!("injected {code}")}),
        None,
    )
}

fn fault_answer(f: &Fault, throttle_code: &str) -> Option<(u16, Value, Option<Duration>)> {
    match f {
        Fault::Throttle => Some(error(400, throttle_code)),
        Fault::ServerError => Some(error(500, "InternalFailure")),
        Fault::Unavailable => Some(error(503, "ServiceUnavailableException")),
        Fault::Denied => Some(error(400, "AccessDeniedException")),
        _ => None,
    }
}

/// The fault for this call: scripted first, then an outage, then random.
fn next_fault(st: &mut State, firehose: bool) -> Option<Fault> {
    let scripted = if firehose {
        st.firehose_faults.pop_front()
    } else {
        st.logs_faults.pop_front()
    };
    if scripted.is_some() {
        return scripted;
    }
    if (firehose && st.firehose_down) || (!firehose && st.logs_down) {
        return Some(Fault::Unavailable);
    }
    let rate = st.random_fault_rate;
    let rng = st.rng.as_mut()?;
    if rng.f64() >= rate {
        return None;
    }
    Some(match rng.u8(0..5) {
        0 => Fault::Throttle,
        1 => Fault::ServerError,
        2 => Fault::Unavailable,
        3 => Fault::Slow(Duration::from_millis(300)),
        _ => Fault::FailRecords((0..500).filter(|_| rng.bool()).collect()),
    })
}

fn handle(state: &Mutex<State>, target: &str, body: &[u8]) -> (u16, Value, Option<Duration>) {
    let mut st = state.lock().unwrap();
    *st.calls.entry(target.to_owned()).or_default() += 1;
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return error(400, "SerializationException");
    };
    let s = |k: &str| req[k].as_str().unwrap_or("").to_owned();
    if st.denied.contains(target) {
        return error(400, "AccessDeniedException");
    }
    match target {
        "DescribeDeliveryStream" => {
            if st.firehose_down {
                return error(503, "ServiceUnavailableException");
            }
            let name = s("DeliveryStreamName");
            (
                200,
                json!({"DeliveryStreamDescription": {
                    "DeliveryStreamName": name,
                    "DeliveryStreamARN": format!("arn:aws:firehose:us-east-1:123456789012:deliverystream/{name}"),
                    "DeliveryStreamStatus": "ACTIVE",
                    "DeliveryStreamType": "DirectPut",
                    "VersionId": "1",
                    "Destinations": [],
                    "HasMoreDestinations": false,
                }}),
                None,
            )
        }
        "DescribeLogGroups" => {
            if st.logs_down {
                return error(503, "ServiceUnavailableException");
            }
            let prefix = s("logGroupNamePrefix");
            let groups: Vec<Value> = st
                .groups
                .iter()
                .filter(|g| g.starts_with(&prefix))
                .map(|g| json!({"logGroupName": g, "creationTime": 0, "arn": format!("arn:aws:logs:us-east-1:123456789012:log-group:{g}:*")}))
                .collect();
            (200, json!({"logGroups": groups}), None)
        }
        "PutRecordBatch" => {
            if st.throttled_streams.contains(&s("DeliveryStreamName")) {
                return error(400, "LimitExceededException");
            }
            let fault = next_fault(&mut st, true);
            if let Some(a) = fault.as_ref().and_then(|f| fault_answer(f, "LimitExceededException")) {
                return a;
            }
            let records: Vec<Vec<u8>> = req["Records"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| {
                            base64::engine::general_purpose::STANDARD
                                .decode(r["Data"].as_str().unwrap_or(""))
                                .unwrap()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let total: usize = records.iter().map(Vec::len).sum();
            if records.len() > 500 || total > 4 * 1024 * 1024 || records.iter().any(|r| r.len() > 1000 * 1024) {
                st.violations
                    .push(format!("PutRecordBatch: {} records, {total} bytes", records.len()));
                return error(400, "InvalidArgumentException");
            }
            let failed = match &fault {
                Some(Fault::FailRecords(f)) => f.clone(),
                _ => Vec::new(),
            };
            let stream = s("DeliveryStreamName");
            let mut responses = Vec::new();
            for (i, r) in records.into_iter().enumerate() {
                if failed.contains(&i) {
                    responses.push(json!({"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."}));
                } else {
                    st.record_count += 1;
                    st.record_bytes += r.len() as u64;
                    st.record_lines += lines_in(&r);
                    st.billed_units += (r.len() as u64).div_ceil(5120).max(1);
                    if !st.count_only {
                        st.records.push((stream.clone(), r));
                    }
                    responses.push(json!({"RecordId": format!("r{i}")}));
                }
            }
            let failed_count = responses.iter().filter(|r| r.get("ErrorCode").is_some()).count();
            let delay = match fault {
                Some(Fault::Slow(d)) => Some(d),
                _ => None,
            };
            (
                200,
                json!({"FailedPutCount": failed_count, "Encrypted": false, "RequestResponses": responses}),
                delay,
            )
        }
        "CreateLogGroup" => {
            let g = s("logGroupName");
            if !st.groups.insert(g) {
                return error(400, "ResourceAlreadyExistsException");
            }
            (200, json!({}), None)
        }
        "PutRetentionPolicy" => {
            let g = s("logGroupName");
            let days = req["retentionInDays"].as_i64().unwrap_or(0);
            st.retention.push((g, days));
            (200, json!({}), None)
        }
        "CreateLogStream" => {
            let (g, ls) = (s("logGroupName"), s("logStreamName"));
            if !st.groups.contains(&g) {
                return error(400, "ResourceNotFoundException");
            }
            if !st.streams.insert((g, ls)) {
                return error(400, "ResourceAlreadyExistsException");
            }
            (200, json!({}), None)
        }
        "PutLogEvents" => {
            let fault = next_fault(&mut st, false);
            if let Some(a) = fault.as_ref().and_then(|f| fault_answer(f, "ThrottlingException")) {
                return a;
            }
            let (g, ls) = (s("logGroupName"), s("logStreamName"));
            if !st.streams.contains(&(g.clone(), ls.clone())) {
                return error(400, "ResourceNotFoundException");
            }
            let events: Vec<(i64, String)> = req["logEvents"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            (
                                e["timestamp"].as_i64().unwrap_or(0),
                                e["message"].as_str().unwrap_or("").to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let bytes: usize = events.iter().map(|(_, m)| m.len() + 26).sum();
            let ordered = events.windows(2).all(|w| w[0].0 <= w[1].0);
            let span = events.last().map_or(0, |l| l.0) - events.first().map_or(0, |f| f.0);
            if events.is_empty()
                || events.len() > 10_000
                || bytes > 1_048_576
                || !ordered
                || span > 24 * 3600 * 1000
                || events.iter().any(|(_, m)| m.is_empty())
            {
                st.violations.push(format!(
                    "PutLogEvents: {} events, {bytes} bytes, ordered {ordered}, span {span}",
                    events.len()
                ));
                return error(400, "InvalidParameterException");
            }
            st.event_count += events.len() as u64;
            if !st.count_only {
                for (t, m) in events {
                    st.events.push((g.clone(), ls.clone(), t, m));
                }
            }
            let delay = match fault {
                Some(Fault::Slow(d)) => Some(d),
                _ => None,
            };
            (200, json!({"nextSequenceToken": "1"}), delay)
        }
        other => error(400, &format!("UnknownOperation{other}")),
    }
}
