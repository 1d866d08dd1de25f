//! Running sink-proxy as ECS does, for the reliability tests and the
//! benchmark: the real binary as its own process (so it can be killed),
//! pointed at a local AWS stand-in; chunks of the labelled corpus as Fluent
//! Bit's http output sends them; and a driver that, like Fluent Bit, sends a
//! chunk again until it is accepted.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The sink-proxy binary next to the running executable's target dir.
pub fn sink_proxy_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/release/<bin>, or target/release/deps/<test>.
    for dir in exe.ancestors().skip(1).take(2) {
        let p = dir.join("sink-proxy");
        if p.is_file() {
            return Ok(p);
        }
    }
    bail!(
        "no sink-proxy binary beside {}: cargo build --release -p sink-proxy",
        exe.display()
    )
}

/// A sink-proxy process on a fixed loopback port, with its own spool
/// directory (kept across restarts, removed on drop) unless `args` give one.
pub struct ProxyProcess {
    child: Child,
    pub addr: SocketAddr,
    endpoint: String,
    args: Vec<String>,
    pub spool_dir: Option<PathBuf>,
    extra: Extra,
}

/// More environment for the process, and where its log goes (by default
/// nowhere, at level `error`).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub env: Vec<(String, String)>,
    /// Its stderr, appended to this file.
    pub log: Option<PathBuf>,
    /// Its stdout (EMF metrics), appended to this file.
    pub stdout: Option<PathBuf>,
    /// Start returns once it answers at all, healthy or not.
    pub listening_only: bool,
}

impl ProxyProcess {
    /// Starts the binary with `args` (destinations, --config) against the
    /// AWS endpoint, and waits until it is healthy (at most 20 s).
    pub async fn start(endpoint: &str, args: &[&str]) -> Result<Self> {
        Self::start_extra(endpoint, args, Extra::default()).await
    }

    /// [`ProxyProcess::start`] with more environment and a log file.
    pub async fn start_extra(endpoint: &str, args: &[&str], extra: Extra) -> Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let spool_dir = if args.iter().any(|a| a == "--spool-dir") {
            None
        } else {
            let dir = std::env::temp_dir().join(format!("sink-proxy-spool-{}-{port}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            args.extend(["--spool-dir".to_owned(), dir.display().to_string()]);
            Some(dir)
        };
        let child = spawn(endpoint, addr, &args, &extra)?;
        let p = Self {
            child,
            addr,
            endpoint: endpoint.to_owned(),
            args,
            spool_dir,
            extra,
        };
        p.wait_up().await?;
        Ok(p)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no drain, nothing flushed.
    pub fn kill(&mut self) -> Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM, as ECS stops a task; waits (at most `limit`) for the exit.
    pub fn terminate(&mut self, limit: Duration) -> Result<()> {
        let status = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status()?;
        if !status.success() {
            bail!("kill -TERM failed");
        }
        let deadline = Instant::now() + limit;
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                bail!("sink-proxy did not exit within {limit:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) -> Result<()> {
        self.child = spawn(&self.endpoint, self.addr, &self.args, &self.extra)?;
        self.wait_up().await
    }

    /// Still running (not crashed)?
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The container health check, as ECS runs it: the binary's exit code.
    pub fn check_health(&self) -> Result<i32> {
        let out = Command::new(sink_proxy_bin()?)
            .args(["--check-health", "--listen", &self.addr.to_string()])
            .output()?;
        out.status.code().context("--check-health was killed")
    }

    /// `/healthz`: status and body.
    pub async fn healthz(&self) -> Result<(u16, String)> {
        get(self.addr, "/healthz").await
    }

    async fn wait_up(&self) -> Result<()> {
        if !self.extra.listening_only {
            return self.wait_healthy().await;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while get(self.addr, "/healthz").await.is_err() {
            if Instant::now() > deadline {
                bail!("sink-proxy did not listen on {}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Up, as the container health check sees it (an AWS outage is not
    /// unhealthy: a restart during one must count as up).
    async fn wait_healthy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((status, body)) = get(self.addr, "/healthz").await
                && sink_proxy::health::container_healthy(status, &body)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("sink-proxy did not become healthy on {}", self.addr);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// User + system CPU seconds so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))?;
        let fields: Vec<&str> = stat.rsplit_once(')').context("stat")?.1.split_whitespace().collect();
        let ticks: f64 = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output()?.stdout)?
            .trim()
            .parse()?;
        Ok((fields[11].parse::<f64>()? + fields[12].parse::<f64>()?) / ticks)
    }

    /// Peak resident memory (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .context("VmHWM")?
            .parse()?;
        Ok(kib / 1024.0)
    }

    pub async fn metrics(&self) -> Result<String> {
        Ok(get(self.addr, "/metrics").await?.1)
    }
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.spool_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn spawn(endpoint: &str, addr: SocketAddr, args: &[String], extra: &Extra) -> Result<Child> {
    let to = |file: &Option<PathBuf>| -> Result<Stdio> {
        Ok(match file {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::null(),
        })
    };
    let (stdout, stderr) = (to(&extra.stdout)?, to(&extra.log)?);
    Ok(Command::new(sink_proxy_bin()?)
        .arg("--listen")
        .arg(addr.to_string())
        .args(args)
        .envs([
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "local"),
            ("AWS_SECRET_ACCESS_KEY", "local"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("SINK_PROXY_LOG", "error"),
        ])
        .envs(extra.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(stdout)
        .stderr(stderr)
        .spawn()?)
}

async fn get(addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let resp = client
        .request(hyper::Request::get(format!("http://{addr}{path}")).body(http_body_util::Empty::<Bytes>::new())?)
        .await?;
    let status = resp.status().as_u16();
    Ok((
        status,
        String::from_utf8_lossy(&resp.into_body().collect().await?.to_bytes()).into_owned(),
    ))
}

/// A sink-proxy settings file (`--config`) in the temporary directory,
/// removed when dropped.
pub struct ConfigFile(PathBuf);

impl ConfigFile {
    /// `name` must be unique among the files a test process writes.
    pub fn new(name: &str, text: &str) -> Self {
        let p = std::env::temp_dir().join(format!("sink-proxy-{}-{name}.toml", std::process::id()));
        std::fs::write(&p, text).expect("writing a settings file in the temporary directory");
        Self(p)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A chunk as Fluent Bit's http output sends it.
pub struct Chunk {
    pub tag: String,
    /// json_lines, gzip'd.
    pub body: Vec<u8>,
    /// The lines, uncompressed.
    pub lines: Vec<String>,
    pub errors: usize,
}

impl Chunk {
    /// A json_lines chunk of `lines`, gzip'd as the shipped settings send it.
    pub fn json_lines(tag: &str, lines: Vec<String>, errors: usize) -> Result<Self> {
        let mut text = String::new();
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
        Ok(Self {
            tag: tag.to_owned(),
            body: sink_proxy::gzip::compress(text.as_bytes()),
            lines,
            errors,
        })
    }

    pub fn bytes(&self) -> usize {
        self.lines.iter().map(|l| l.len() + 1).sum()
    }
}

/// The labelled corpus as the filter leaves it (health checks dropped, errors
/// marked) and the http output writes it (`date` first), in chunks of up to
/// `lines_per_chunk` lines per tag. `round` makes every line distinct.
pub fn corpus_chunks(records: &[Value], labels: &[String], lines_per_chunk: usize, round: usize) -> Result<Vec<Chunk>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs_f64();
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, bool)>> = Default::default();
    for (i, (r, label)) in records.iter().zip(labels).enumerate() {
        if label == "health" {
            continue;
        }
        let mut m = serde_json::Map::new();
        m.insert(
            "date".into(),
            Value::from(now - 600.0 + (round * records.len() + i) as f64 / 1000.0),
        );
        m.extend(r.as_object().cloned().unwrap_or_default());
        if label == "error" {
            m.insert("log_class".into(), Value::from("error"));
        }
        by_tag
            .entry(crate::firelens_tag(r))
            .or_default()
            .push((Value::Object(m).to_string(), label == "error"));
    }
    let mut out = Vec::new();
    for (tag, lines) in by_tag {
        for part in lines.chunks(lines_per_chunk) {
            let errors = part.iter().filter(|(_, e)| *e).count();
            out.push(Chunk::json_lines(
                &tag,
                part.iter().map(|(l, _)| l.clone()).collect(),
                errors,
            )?);
        }
    }
    Ok(out)
}

/// One post; a connection error is `None` (Fluent Bit retries those too).
pub async fn post_chunk(addr: SocketAddr, c: &Chunk) -> Option<u16> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = hyper::Request::post(format!("http://{addr}/"))
        .header("Content-Type", "application/x-ndjson")
        .header("Content-Encoding", "gzip")
        .header("X-Fluent-Tag", &c.tag)
        .body(Full::new(Bytes::from(c.body.clone())))
        .ok()?;
    let resp = tokio::time::timeout(Duration::from_secs(60), client.request(req))
        .await
        .ok()?
        .ok()?;
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    Some(status)
}

/// What the driver saw.
#[derive(Debug, Default, Clone)]
pub struct Driven {
    pub posts: usize,
    /// Answers other than 200 (503, 429, 408), and connection errors.
    pub retried: usize,
    pub connection_errors: usize,
}

/// Sends every chunk like Fluent Bit: `workers` at a time, each chunk again
/// (after `backoff`, doubling to 2 s) until it is answered 200; at most
/// `max_tries` per chunk and until `deadline`. `acked` counts accepted
/// chunks, for a caller that acts mid-stream.
pub async fn drive(
    addr: SocketAddr,
    chunks: Arc<Vec<Chunk>>,
    workers: usize,
    backoff: Duration,
    max_tries: usize,
    deadline: Instant,
    acked: Arc<AtomicUsize>,
) -> Result<Driven> {
    drive_paced(
        addr,
        chunks,
        workers,
        backoff,
        max_tries,
        deadline,
        acked,
        Duration::ZERO,
    )
    .await
}

/// [`drive`] at a sustained rate: each worker starts a chunk at most every
/// `pace` (an application logging steadily, not a backlog).
#[allow(clippy::too_many_arguments)]
pub async fn drive_paced(
    addr: SocketAddr,
    chunks: Arc<Vec<Chunk>>,
    workers: usize,
    backoff: Duration,
    max_tries: usize,
    deadline: Instant,
    acked: Arc<AtomicUsize>,
    pace: Duration,
) -> Result<Driven> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (chunks, next, acked) = (chunks.clone(), next.clone(), acked.clone());
        tasks.push(tokio::spawn(async move {
            let mut seen = Driven::default();
            let mut tick = tokio::time::interval(pace.max(Duration::from_micros(1)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                if !pace.is_zero() {
                    tick.tick().await;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(c) = chunks.get(i) else {
                    return Ok::<_, anyhow::Error>(seen);
                };
                let mut wait = backoff;
                for attempt in 1.. {
                    seen.posts += 1;
                    match post_chunk(addr, c).await {
                        Some(200) => break,
                        Some(_) => seen.retried += 1,
                        None => {
                            seen.retried += 1;
                            seen.connection_errors += 1;
                        }
                    }
                    if attempt >= max_tries || Instant::now() > deadline {
                        bail!("chunk {i} not accepted after {attempt} tries");
                    }
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
                acked.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let mut total = Driven::default();
    for t in tasks {
        let d = t.await??;
        total.posts += d.posts;
        total.retried += d.retried;
        total.connection_errors += d.connection_errors;
    }
    Ok(total)
}
