//! Running sink-proxy as ECS does, for the reliability tests and the
//! benchmarks: the real binary as its own process (so it can be killed),
//! pointed at a local AWS stand-in.

use anyhow::{Context, Result, bail};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Names the sink-proxy binary the tests and benchmarks run: the one the
/// image ships (scripts/test.sh sets it to target/image/sink-proxy, which
/// scripts/image_check.py builds as the Dockerfile does).
pub const BIN_ENV: &str = "SINK_PROXY_BIN";

/// The sink-proxy binary: `$SINK_PROXY_BIN`, else the one next to the
/// running executable's target dir (this machine's build).
pub fn sink_proxy_bin() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os(BIN_ENV).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!("{BIN_ENV}={} is not a file", p.display());
        }
        return Ok(p);
    }
    local_sink_proxy_bin()
}

/// The sink-proxy binary of this machine's build, beside the tests.
pub fn local_sink_proxy_bin() -> Result<PathBuf> {
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
    /// Another sink-proxy binary than the one beside the tests (a baseline build).
    pub binary: Option<PathBuf>,
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
        cpu_seconds(self.pid())
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

/// User + system CPU seconds a running process has used so far (Linux).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = stat.rsplit_once(')').context("stat")?.1.split_whitespace().collect();
    let ticks: f64 = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output()?.stdout)?
        .trim()
        .parse()?;
    Ok((fields[11].parse::<f64>()? + fields[12].parse::<f64>()?) / ticks)
}

fn spawn(endpoint: &str, addr: SocketAddr, args: &[String], extra: &Extra) -> Result<Child> {
    let to = |file: &Option<PathBuf>| -> Result<Stdio> {
        Ok(match file {
            Some(path) => Stdio::from(std::fs::OpenOptions::new().create(true).append(true).open(path)?),
            None => Stdio::null(),
        })
    };
    let (stdout, stderr) = (to(&extra.stdout)?, to(&extra.log)?);
    let binary = match &extra.binary {
        Some(b) => b.clone(),
        None => sink_proxy_bin()?,
    };
    Ok(Command::new(binary)
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
    let r = crate::fluent_bit::get(addr, path).await?;
    Ok((r.status, r.body))
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
