//! `sink-proxy`: see `--help` and the README.

use clap::Parser;
use sink_proxy::config::{Cli, Config, SpoolChoice};
use sink_proxy::proxy::Proxy;
use sink_proxy::spool::{Recovery, Settings};
use std::process::ExitCode;
use std::sync::Arc;

/// glibc's malloc serves blocks over 128 KiB to 32 MiB (its dynamic mmap
/// threshold) with mmap and gives them back to the kernel when freed; a
/// chunk's bodies and request buffers are megabytes, so every chunk faulted
/// its memory in again. Served from the heap and kept (up to 64 MiB free),
/// they are reused: about the CPU mimalloc saves (20 %), at glibc's peak RSS
/// (about 40 MiB) instead of mimalloc's (about 100 MiB). Two arenas: as many
/// as the tokio workers on the 2 vCPU the README sizes for. The image ships
/// this glibc build; a static musl build took 1.14x to 1.39x its CPU with
/// jemalloc or mimalloc, 3.5x with musl's own malloc (README: "The shipped
/// binary"). mallopt is not documented as thread-safe: `main` calls this
/// before it starts the runtime's threads.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called once, while
    // this is the process's only thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Time for the last alert digests at shutdown, beyond the grace period
/// if it was used up (the examples' stopTimeout leaves 5 s after it).
const ALERT_FLUSH: std::time::Duration = std::time::Duration::from_secs(3);

fn main() -> ExitCode {
    // Before the runtime's worker threads exist.
    keep_freed_memory();
    let cli = Cli::parse();
    if cli.check_health {
        return check_health(cli.listen);
    }
    match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => {
            eprintln!("sink-proxy: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> ExitCode {
    init_tracing();
    let file_text = match &cli.config {
        None => None,
        Some(path) => match std::fs::read_to_string(path) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("sink-proxy: cannot read config file {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
    };
    let config = match Config::new(cli, file_text.as_deref(), |k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sink-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sink-proxy: cannot listen on {}: {e}", config.listen);
            return ExitCode::from(1);
        }
    };
    let spool = spool_settings(&config.spool.choice);
    tracing::info!(
        listen = %config.listen,
        log_group = config.cloudwatch.as_ref().map(|c| c.log_group.as_str()),
        delivery_streams = config.firehose.as_ref().map(|f| f.delivery_streams.join(",")),
        dead_letter_stream = config.dead_letter_stream.as_deref(),
        spool = spool.as_ref().map(|s| s.dir.display().to_string()),
        "sink-proxy listening"
    );
    let grace = config.delivery.shutdown_grace;
    let emf = config.emf.clone();
    let mut proxy = Proxy::from_env(config).await;
    if let Some(settings) = spool {
        proxy = match proxy.open_spool(&settings) {
            Ok((proxy, recovery)) => {
                log_recovery(&settings, &recovery);
                proxy
            }
            Err(e) => {
                eprintln!("sink-proxy: spool: {}: {e}", settings.dir.display());
                return ExitCode::from(2);
            }
        };
    }
    let proxy = Arc::new(proxy);
    let drains = proxy.start_drains();
    tokio::spawn(sink_proxy::startup::run(proxy.clone()));
    let alerts = proxy.start_alerts();
    let emf = emf.map(|settings| proxy.start_emf(settings));
    let destinations = proxy.alert_destinations();
    if destinations.is_empty() {
        tracing::info!(
            "alerts: none (set SINK_PROXY_SLACK_WEBHOOK_URL, SINK_PROXY_ALERT_WEBHOOK_URL or SINK_PROXY_ALERT_SNS_TOPIC_ARN)"
        );
    } else {
        tracing::info!(destinations = destinations.join(","), "alerts on");
    }
    // The grace period counts from the signal: first for the requests in
    // flight, then for the drains to deliver what they can.
    let stopping = Arc::new(std::sync::OnceLock::new());
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown_signal().await;
            let _ = stopping.set(std::time::Instant::now());
        }
    };
    sink_proxy::server::serve(listener, proxy.clone(), signal).await;
    let deadline = stopping.get().copied().unwrap_or_else(std::time::Instant::now) + grace;
    drains.finish(deadline).await;
    if let Some(alerts) = alerts {
        // The last digests go out even if delivery used the whole grace.
        alerts
            .finish(deadline.max(std::time::Instant::now() + ALERT_FLUSH))
            .await;
    }
    if let Some(emf) = emf {
        emf.finish().await;
    }
    if let Some(spool) = proxy.spool() {
        spool.sync();
        tracing::info!(
            left_bytes = spool.used(),
            "spool: what was not delivered stays for the next start"
        );
    }
    tracing::info!("sink-proxy stopped");
    ExitCode::SUCCESS
}

/// The spool to open as configured: `None` when off (by choice, or because
/// the default directory is not writable, said loudly).
fn spool_settings(choice: &SpoolChoice) -> Option<Settings> {
    match choice {
        SpoolChoice::Off => {
            tracing::warn!("spool off: chunks are acknowledged only once AWS has them");
            None
        }
        SpoolChoice::IfWritable(s) => match sink_proxy::spool::usable(&s.dir) {
            Ok(()) => Some(s.clone()),
            Err(why) => {
                tracing::warn!(%why, "spool off (default directory unusable): chunks are acknowledged only once AWS has them; set --spool-dir");
                None
            }
        },
        SpoolChoice::Required(s) => Some(s.clone()),
    }
}

fn log_recovery(settings: &Settings, recovery: &Recovery) {
    if recovery.torn_bytes > 0 {
        tracing::warn!(
            bytes = recovery.torn_bytes,
            "spool: cut a write torn by a crash (it was never acknowledged)"
        );
    }
    for queue in &recovery.cursor_lost {
        tracing::warn!(
            queue,
            "spool: position lost; delivering this queue again from its oldest entry (duplicates, no loss)"
        );
    }
    tracing::info!(
        dir = %settings.dir.display(),
        pending_bytes = recovery.pending_bytes,
        max_bytes = settings.max_bytes,
        "spool open"
    );
}

/// The container health check: `GET /healthz` on the proxy's own address,
/// bounded to 3 s; see `health::container_healthy`.
fn check_health(addr: std::net::SocketAddr) -> ExitCode {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(3);
    let answer = std::net::TcpStream::connect_timeout(&addr, timeout).and_then(|mut s| {
        s.set_read_timeout(Some(timeout))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
        let mut text = String::new();
        s.take(64 * 1024).read_to_string(&mut text)?;
        Ok(text)
    });
    let text = match answer {
        Ok(t) => t,
        Err(e) => {
            eprintln!("sink-proxy at {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b.trim());
    if status != 200 {
        eprintln!("sink-proxy at {addr}: {status} {body}");
    }
    if sink_proxy::health::container_healthy(status, body) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// SIGTERM (ECS stopping the task) or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// `SINK_PROXY_LOG` filters (default `info`); `SINK_PROXY_LOG_FORMAT=json`
/// writes one JSON object per line (CloudWatch Logs Insights reads its fields).
fn init_tracing() {
    let filter = log_filter(std::env::var("SINK_PROXY_LOG").ok().as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("SINK_PROXY_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The log filter. hyper-util's client names the host and port it connects
/// to at debug level, and an alert webhook's URL is a secret: unless the
/// filter names `hyper_util` itself, its client logs stop at info.
fn log_filter(spec: Option<&str>) -> tracing_subscriber::EnvFilter {
    let spec = spec.filter(|s| !s.trim().is_empty()).unwrap_or("info");
    let spec = if spec.contains("hyper_util") {
        spec.to_owned()
    } else {
        format!("{spec},hyper_util::client=info")
    };
    tracing_subscriber::EnvFilter::try_new(&spec).unwrap_or_else(|e| {
        eprintln!("sink-proxy: SINK_PROXY_LOG {spec:?}: {e}; logging at info");
        tracing_subscriber::EnvFilter::new("info,hyper_util::client=info")
    })
}
