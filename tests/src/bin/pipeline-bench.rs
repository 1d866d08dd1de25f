//! The whole pipeline's CPU against the classic setup it replaces, side by
//! side in one run: a real Fluent Bit (the user's binary) reads the same
//! FireLens corpus with tail + the JSON parser, and either
//!
//! - `classic`: grep + rewrite_tag + record_modifier, then Fluent Bit's own
//!   `cloudwatch_logs` (errors) and `kinesis_firehose` (everything kept), or
//! - `shipped`: `fluent-bit/firelens.conf` as shipped (partial join, the
//!   module, AOT, the `http` output) into sink-proxy (spool on, as
//!   deployed), which delivers to both, or
//! - `lean`: `fluent-bit/firelens-lean.conf` (partial join, `http` msgpack)
//!   into sink-proxy, which classifies with the module's rules,
//!
//! each inside the config the ECS agent generates for the shipped task
//! definition (`firelens_e2e::ecs_firelens`: FireLens's forward and health
//! check inputs, idle here, and its metadata filter, which adds the ECS
//! keys that the corpus's records are written without), against one strict
//! AWS stand-in over TLS (a CA made at start; sink-proxy
//! trusts it through `SSL_CERT_FILE`, Fluent Bit with `tls.ca_file`). CPU is
//! user+sys of Fluent Bit plus sink-proxy, read once the stand-in holds every
//! line and event the pipeline must deliver (exactly: more or fewer fails
//! the run). Rows alternate within each round, so the machine's noise hits
//! all of them; medians.
//!
//!   FLUENT_BIT=/path/to/fluent-bit bench/fluent-bit-pipeline.sh [RECORDS] [ROUNDS] [ROWS]
//!
//! `include[Key=Value;...]` and `lean[...]` rows change that include's `http`
//! output, or with `service.Key=Value` its `[SERVICE]` (`Flush`): a lever
//! measured beside the shipped setting; `Value` `-` removes the key. `-null` rows (`none-null`, `classic-null`, `include-null`,
//! `lean-null`) send to Fluent Bit's `null` output instead: what the filters
//! alone cost, so that the outputs' share is known.

use anyhow::{Context, Result, bail};
use clap::Parser;
use local_aws::fake::FakeAws;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use test_support::process::{Extra, ProxyProcess, cpu_seconds};

#[derive(Parser)]
struct Args {
    /// The Fluent Bit binary (a release build: `-DFLB_RELEASE=On`).
    #[arg(long, env = "FLUENT_BIT")]
    fluent_bit: PathBuf,
    /// The filter module Fluent Bit loads (default: the AOT file
    /// scripts/build-wasm.sh writes with WAMRC set).
    #[arg(long)]
    module: Option<PathBuf>,
    /// Records of the labelled corpus.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Rows, comma-separated (see above).
    #[arg(long, default_value = "classic,shipped")]
    rows: String,
}

/// What one pipeline must deliver before its CPU is read.
#[derive(Clone, Copy, Debug)]
struct Expected {
    lines: u64,
    events: u64,
}

struct Measure {
    fluent_bit: f64,
    proxy: f64,
    /// Of `proxy`: its CPU when it was ready, before Fluent Bit started.
    proxy_start: f64,
    firehose_records: u64,
    billed_units: u64,
    put_log_events: usize,
}

const CLASSIC_FILTERS: &str = r"[FILTER]
    Name         grep
    Match        *
    Exclude      log ELB-HealthChecker/2.0
[FILTER]
    Name         rewrite_tag
    Match        web-*
    Rule         $log (ERROR|\s4\d{2}\s|\s5\d{2}\s) error-$TAG true
[FILTER]
    Name         record_modifier
    Match        *
    Remove_key   ecs_cluster
    Remove_key   ecs_task_arn
    Remove_key   ecs_task_definition";

/// What the classic chain keeps and copies to CloudWatch, decided as its
/// filters decide (grep's `ELB-HealthChecker/2.0`, rewrite_tag's regex),
/// written out by hand so that the bench needs no regex engine.
fn classic_expected(logs: &[String]) -> Expected {
    let kept: Vec<&String> = logs.iter().filter(|l| !is_elb_health(l)).collect();
    Expected {
        lines: kept.len() as u64,
        events: kept.iter().filter(|l| classic_error(l)).count() as u64,
    }
}

fn is_elb_health(log: &str) -> bool {
    // `ELB-HealthChecker/2.0`: the `.` matches any one character.
    let pat = "ELB-HealthChecker/2";
    log.match_indices(pat).any(|(i, _)| {
        let rest = &log[i + pat.len()..];
        let mut cs = rest.chars();
        cs.next().is_some() && cs.next() == Some('0')
    })
}

fn classic_error(log: &str) -> bool {
    if log.contains("ERROR") {
        return true;
    }
    // `\s[45]\d{2}\s`
    let cs: Vec<char> = log.chars().collect();
    cs.windows(5).any(|w| {
        w[0].is_whitespace()
            && matches!(w[1], '4' | '5')
            && w[2].is_ascii_digit()
            && w[3].is_ascii_digit()
            && w[4].is_whitespace()
    })
}

/// A row: the classic chain, or the include with its `http` output changed;
/// `-null` rows send to Fluent Bit's `null` output instead (no AWS, no
/// proxy): what the filters cost, so that the outputs' share is known.
#[derive(Clone, Debug, PartialEq)]
enum Row {
    /// Tail and the JSON parser only, `null` output.
    NoneNull,
    Classic {
        null: bool,
    },
    /// An include (`fluent-bit/<file>`), its `http` output changed by `sets`.
    Include {
        file: &'static str,
        sets: Vec<(String, String)>,
        null: bool,
    },
}

const SHIPPED: &str = "firelens.conf";
const LEAN: &str = "firelens-lean.conf";

impl Row {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "none-null" => Ok(Self::NoneNull),
            "classic" => Ok(Self::Classic { null: false }),
            "classic-null" => Ok(Self::Classic { null: true }),
            "shipped" | "lean" => Ok(Self::Include {
                file: if s == "lean" { LEAN } else { SHIPPED },
                sets: Vec::new(),
                null: false,
            }),
            "include-null" | "lean-null" => Ok(Self::Include {
                file: if s == "lean-null" { LEAN } else { SHIPPED },
                sets: Vec::new(),
                null: true,
            }),
            _ => {
                let (file, inner) = match s.strip_prefix("lean[") {
                    Some(rest) => (LEAN, Some(rest)),
                    None => (SHIPPED, s.strip_prefix("include[")),
                };
                let inner = inner.and_then(|r| r.strip_suffix(']')).with_context(|| {
                    format!(
                        "row {s:?}: classic, shipped, lean, include[Key=Value;...], lean[Key=Value;...], \
                             none-null, classic-null, include-null or lean-null"
                    )
                })?;
                let sets = inner
                    .split(';')
                    .map(|kv| {
                        kv.split_once('=')
                            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                            .with_context(|| format!("{kv:?}: Key=Value"))
                    })
                    .collect::<Result<Vec<_>>>()?;
                let null = sets.iter().any(|(k, v)| k == "output" && v == "null");
                let sets = sets.into_iter().filter(|(k, _)| k != "output").collect();
                Ok(Self::Include { file, sets, null })
            }
        }
    }

    fn label(&self) -> String {
        match self {
            Self::NoneNull => "no filter, `null` output (tail + parser)".into(),
            Self::Classic { null: false } => "classic chain + `cloudwatch_logs` + `kinesis_firehose`".into(),
            Self::Classic { null: true } => "classic chain, `null` output".into(),
            Self::Include { file, sets, null } => {
                let mut s: Vec<String> = sets.iter().map(|(k, v)| format!("{k} {v}")).collect();
                if *null {
                    s.push("`null` output".into());
                }
                let changes = if s.is_empty() {
                    " as shipped".to_owned()
                } else {
                    format!(", {}", s.join(", "))
                };
                let to = if *null { "" } else { " → sink-proxy" };
                format!("`{file}`{changes}{to}")
            }
        }
    }

    fn is_classic(&self) -> bool {
        matches!(self, Self::Classic { null: false })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::NoneNull => "none",
            Self::Classic { .. } => "classic",
            Self::Include { .. } => "include",
        }
    }
}

/// The shipped include with local paths, the proxy's port and the row's
/// changes to its `http` output section.
fn include_text(
    shipped: &str,
    module: &Path,
    rules: &Path,
    proxy_port: u16,
    sets: &[(String, String)],
    null: bool,
) -> Result<String> {
    // `wasm=off`: without the filter module (an experiment, not a setting).
    let no_wasm = sets.iter().any(|(k, v)| k == "wasm" && v == "off");
    // `service.KEY=V` sets a key of the include's [SERVICE] (`Flush`, say);
    // any other key one of its http output.
    let (mut service, mut http) = (Vec::new(), Vec::new());
    for (k, v) in sets.iter().filter(|(k, _)| k != "wasm") {
        match k.strip_prefix("service.") {
            Some(key) => service.push((key.to_owned(), v.clone())),
            None => http.push((k.clone(), v.clone())),
        }
    }
    let sets = http;
    let mut out = String::new();
    let mut kind = "";
    let mut section = String::new();
    let flush = |section: &mut String, out: &mut String, kind: &str| -> Result<()> {
        match kind {
            "http" if null => *section = NULL_OUTPUT.to_owned(),
            "http" => *section = set_keys(section, &sets)?,
            "service" => *section = set_keys(section, &service)?,
            "wasm" if no_wasm => section.clear(),
            _ => {}
        }
        out.push_str(section);
        section.clear();
        Ok(())
    };
    for line in shipped.lines() {
        if line.starts_with('[') {
            flush(&mut section, &mut out, kind)?;
            kind = if line.trim().eq_ignore_ascii_case("[SERVICE]") {
                "service"
            } else {
                ""
            };
        }
        let key_value = line.split_whitespace().collect::<Vec<_>>();
        let line = match key_value.as_slice() {
            ["Name", name @ ("http" | "wasm")] => {
                kind = name;
                line.to_owned()
            }
            ["Wasm_Path", _] => format!("    Wasm_Path {}", module.display()),
            ["Accessible_Paths", _] => format!("    Accessible_Paths {}", rules.display()),
            ["Port", _] if kind == "http" => format!("    Port {proxy_port}"),
            _ => line.to_owned(),
        };
        section.push_str(&line);
        section.push('\n');
    }
    flush(&mut section, &mut out, kind)?;
    Ok(out)
}

fn set_keys(section: &str, sets: &[(String, String)]) -> Result<String> {
    let mut lines: Vec<String> = section.lines().map(str::to_owned).collect();
    for (k, v) in sets {
        let at = lines
            .iter()
            .position(|l| l.split_whitespace().next().is_some_and(|w| w.eq_ignore_ascii_case(k)));
        match (at, v.as_str()) {
            (Some(i), "-") => {
                lines.remove(i);
            }
            (Some(i), _) => lines[i] = format!("    {k} {v}"),
            (None, "-") => bail!("the include's section has no {k} to remove"),
            (None, _) => lines.push(format!("    {k} {v}")),
        }
    }
    Ok(lines.join("\n") + "\n")
}

/// Named `null.0` (no Alias), as [`null_records`] reads it.
const NULL_OUTPUT: &str = "[OUTPUT]\n    Name null\n    Match *\n";
/// Fluent Bit's own HTTP server (the include turns it on at this port).
const FLUENT_BIT_METRICS: &str = "127.0.0.1:2020";

/// Records the `null` output has taken so far.
async fn null_records() -> Option<u64> {
    let r = test_support::fluent_bit::get(FLUENT_BIT_METRICS.parse().ok()?, "/api/v1/metrics")
        .await
        .ok()?;
    let v: serde_json::Value = serde_json::from_str(&r.body).ok()?;
    v["output"]["null.0"]["proc_records"].as_u64()
}

struct Work {
    dir: PathBuf,
    /// The ECS agent's config around the include: before and after its
    /// `@INCLUDE`.
    firelens: (String, String),
    corpus: PathBuf,
    fluent_bit: PathBuf,
    module: PathBuf,
    /// The repository: the includes are read from `fluent-bit/`.
    root: PathBuf,
}

impl Work {
    /// The part every row shares: tail + JSON parser over the corpus, as the
    /// CPU bench reads it, then the ECS agent's inputs and filters.
    fn head(&self, service: &str) -> String {
        format!(
            "[SERVICE]\n    Flush 1\n    Grace 5\n    Log_Level warn\n    Parsers_File {dir}/parsers.conf\n{service}\
             [INPUT]\n    Name tail\n    Path {corpus}\n    Parser json\n    Tag web-firelens-1\n    \
             Read_From_Head true\n    Buffer_Max_Size 2M\n{firelens}\n",
            dir = self.dir.display(),
            corpus = self.corpus.display(),
            firelens = self.firelens.0,
        )
    }

    /// What the ECS agent puts after the include (its health check's output).
    fn tail(&self) -> &str {
        &self.firelens.1
    }
}

fn endpoint_port(fake: &FakeAws) -> Result<u16> {
    Ok(fake.endpoint.rsplit(':').next().context("endpoint port")?.parse()?)
}

/// Runs one row once, with a stand-in of its own.
async fn run(work: &Work, row: &Row, expected: Expected, round: usize) -> Result<Measure> {
    let fake = FakeAws::start_tls().await;
    fake.with(|st| st.count_only = true);
    let ca = fake.ca_file().context("TLS stand-in")?.to_path_buf();
    let port = endpoint_port(&fake)?;
    let name = format!("{}-{round}", row.name());
    let config = work.dir.join(format!("{name}.conf"));
    // The null rows' progress comes from Fluent Bit's HTTP server.
    let metrics_server = "    HTTP_Server On\n    HTTP_Listen 127.0.0.1\n    HTTP_Port 2020\n";
    let mut proxy = None;
    let mut proxy_start = 0.0;
    match row {
        Row::NoneNull => std::fs::write(
            &config,
            format!("{}{NULL_OUTPUT}{}", work.head(metrics_server), work.tail()),
        )?,
        Row::Classic { null: true } => std::fs::write(
            &config,
            format!(
                "{}{CLASSIC_FILTERS}\n{NULL_OUTPUT}{}",
                work.head(metrics_server),
                work.tail()
            ),
        )?,
        Row::Classic { null: false } => {
            // Fluent Bit's AWS outputs always speak TLS (no `tls On` needed).
            let tls = format!("    tls.verify On\n    tls.ca_file {}\n", ca.display());
            let text = format!(
                "{head}{CLASSIC_FILTERS}\n\
                 [OUTPUT]\n    Name cloudwatch_logs\n    Match error-*\n    region us-east-1\n    \
                 log_group_name /bench/errors\n    log_stream_prefix from-\n    auto_create_group true\n    \
                 endpoint 127.0.0.1\n    Port {port}\n{tls}\
                 [OUTPUT]\n    Name kinesis_firehose\n    Match web-*\n    region us-east-1\n    \
                 delivery_stream bench\n    endpoint 127.0.0.1\n    Port {port}\n{tls}{tail}",
                head = work.head(""),
                tail = work.tail(),
            );
            std::fs::write(&config, text)?;
        }
        Row::Include { file, sets, null } => {
            let proxy_port = if *null {
                0
            } else {
                let extra = Extra {
                    env: vec![("SSL_CERT_FILE".into(), ca.display().to_string())],
                    log: Some(work.dir.join(format!("{name}.proxy.log"))),
                    ..Extra::default()
                };
                let p = ProxyProcess::start_extra(
                    &fake.endpoint,
                    &["--log-group", "/bench/errors", "--delivery-stream", "bench"],
                    extra,
                )
                .await?;
                let port = p.addr.port();
                proxy_start = p.cpu_seconds()?;
                proxy = Some(p);
                port
            };
            let rules = work.dir.join("rules");
            std::fs::create_dir_all(&rules)?;
            let include = work.dir.join(format!("{name}.include.conf"));
            let shipped = std::fs::read_to_string(work.root.join("fluent-bit").join(file))?;
            let text = include_text(&shipped, &work.module, &rules, proxy_port, sets, *null)?;
            std::fs::write(&include, text)?;
            // As FireLens writes it: its inputs and filters, then the include.
            std::fs::write(
                &config,
                format!("{}@INCLUDE {}\n{}", work.head(""), include.display(), work.tail()),
            )?;
        }
    }
    let log = work.dir.join(format!("{name}.fluent-bit.log"));
    let mut fb = FluentBit::start(&work.fluent_bit, &config, &log)?;
    let null = !matches!(row, Row::Classic { null: false } | Row::Include { null: false, .. });
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (lines, events) = if null {
            // Everything the outputs would have sent, through `null`.
            (null_records().await.unwrap_or(0), expected.events)
        } else {
            fake.with(|st| (st.record_lines, st.event_count))
        };
        if lines >= expected.lines && events >= expected.events {
            break;
        }
        if Instant::now() > deadline || !fb.alive() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail = &tail[tail.len().saturating_sub(3000)..];
            bail!(
                "{}: {lines}/{} lines and {events}/{} events delivered {}; Fluent Bit's log ends:\n{tail}",
                row.label(),
                expected.lines,
                expected.events,
                if fb.alive() {
                    "in 300 s"
                } else {
                    "when Fluent Bit exited"
                },
            );
        }
        // The null rows poll Fluent Bit itself: not too often.
        tokio::time::sleep(Duration::from_millis(if null { 100 } else { 20 })).await;
    }
    let fluent_bit = cpu_seconds(fb.pid())?;
    let proxy_cpu = match &proxy {
        Some(p) => p.cpu_seconds()?,
        None => 0.0,
    };
    fb.stop();
    if let Some(mut p) = proxy {
        p.terminate(Duration::from_secs(30))?;
    }
    let (lines, events, firehose_records, billed_units, put_log_events, violations) = fake.with(|st| {
        (
            st.record_lines,
            st.event_count,
            st.record_count,
            st.billed_units,
            st.calls_of("PutLogEvents"),
            st.violations.clone(),
        )
    });
    if !null && (lines != expected.lines || events != expected.events || !violations.is_empty()) {
        bail!(
            "{}: {lines} lines and {events} events delivered, expected {expected:?}; limit violations: {violations:?}",
            row.label()
        );
    }
    Ok(Measure {
        fluent_bit,
        proxy: proxy_cpu,
        proxy_start,
        firehose_records,
        billed_units,
        put_log_events,
    })
}

struct FluentBit(Child);

impl FluentBit {
    fn start(bin: &Path, config: &Path, log: &Path) -> Result<Self> {
        let log = std::fs::File::create(log)?;
        Ok(Self(
            Command::new(bin)
                .arg("-c")
                .arg(config)
                .envs([
                    ("AWS_ACCESS_KEY_ID", "local"),
                    ("AWS_SECRET_ACCESS_KEY", "local"),
                    ("AWS_REGION", "us-east-1"),
                ])
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?,
        ))
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }

    /// SIGTERM; killed if still running 30 s later (everything is delivered
    /// by now, so this only ends the process).
    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for FluentBit {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The config the ECS agent generates for examples/ecs/task-definition.json,
/// split at its `@INCLUDE`; its listening addresses moved to free ones.
fn firelens_around(root: &Path, dir: &Path) -> Result<(String, String)> {
    use firelens_e2e::ecs_firelens::{Context, generate_for_task};
    let task: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
        root.join("examples/ecs/task-definition.json"),
    )?)?;
    let free = || -> Result<u16> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port()) };
    let ctx = Context {
        socket_path: dir.join("fluent.sock").display().to_string(),
        forward_port: free()?,
        health_port: free()?,
        include_path: Some("INCLUDE".into()),
        ..Context::ecs("shop-web")
    };
    let text = generate_for_task(&task, &ctx)?.text;
    let (before, after) = text
        .split_once("@INCLUDE INCLUDE\n")
        .context("the generated config includes the include")?;
    Ok((before.to_owned(), after.to_owned()))
}

/// The corpus's records as the app's log driver sends them: without the ECS
/// keys, which the agent's record_modifier adds.
fn strip_ecs_metadata(path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)?;
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut record: serde_json::Map<String, serde_json::Value> = serde_json::from_str(line)?;
        for key in ["ecs_cluster", "ecs_task_arn", "ecs_task_definition"] {
            record.shift_remove(key);
        }
        out.push_str(&serde_json::to_string(&record)?);
        out.push('\n');
    }
    std::fs::write(path, out)?;
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn default_module() -> PathBuf {
    let arch = std::env::consts::ARCH;
    wasm_host::corpus::module_path().with_file_name(format!("firelens_filter.{arch}.aot"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let rows: Vec<Row> = args.rows.split(',').map(Row::parse).collect::<Result<_>>()?;
    let module = args.module.clone().unwrap_or_else(default_module);
    if !module.is_file() {
        bail!(
            "no module at {}: WAMRC=/path/to/wamrc scripts/build-wasm.sh writes the AOT file (or pass --module)",
            module.display()
        );
    }
    let root = wasm_host::corpus::workspace_root();
    let dir = std::env::temp_dir().join(format!("pipeline-bench-{}", std::process::id()));
    let corpus = wasm_host::corpus::generate(args.records, 5, &dir).map_err(anyhow::Error::msg)?;
    std::fs::write(dir.join("parsers.conf"), "[PARSER]\n    Name json\n    Format json\n")?;
    let firelens = firelens_around(&root, &dir)?;
    strip_ecs_metadata(&dir.join("records.jsonl"))?;
    let work = Work {
        firelens,
        corpus: dir.join("records.jsonl"),
        dir: dir.clone(),
        fluent_bit: args.fluent_bit.clone(),
        module,
        root: root.clone(),
    };
    let logs: Vec<String> = corpus
        .records
        .iter()
        .map(|r| r["log"].as_str().unwrap_or_default().to_owned())
        .collect();
    let classic = classic_expected(&logs);
    let ours = Expected {
        lines: corpus.labels.iter().filter(|l| *l != "health").count() as u64,
        events: corpus.labels.iter().filter(|l| *l == "error").count() as u64,
    };
    let version = Command::new(&work.fluent_bit).arg("--version").output()?;
    println!(
        "{} records ({:.1} MB), {}; {} rounds, rows alternating; TLS to one strict AWS stand-in",
        args.records,
        std::fs::metadata(&work.corpus)?.len() as f64 / 1e6,
        String::from_utf8_lossy(&version.stdout)
            .lines()
            .next()
            .unwrap_or("fluent-bit"),
        args.rounds,
    );
    println!(
        "classic delivers {} lines and {} CloudWatch events; the include {} and {}",
        classic.lines, classic.events, ours.lines, ours.events
    );
    let mut results: Vec<Vec<Measure>> = rows.iter().map(|_| Vec::new()).collect();
    for round in 0..args.rounds {
        for (i, row) in rows.iter().enumerate() {
            let expected = match row {
                Row::NoneNull => Expected {
                    lines: args.records as u64,
                    events: 0,
                },
                // rewrite_tag's copies go through `null` too.
                Row::Classic { null: true } => Expected {
                    lines: classic.lines + classic.events,
                    events: 0,
                },
                Row::Classic { null: false } => classic,
                // Without the module nothing is dropped or marked.
                Row::Include { sets, .. } if sets.iter().any(|(k, v)| k == "wasm" && v == "off") => Expected {
                    lines: args.records as u64,
                    events: 0,
                },
                Row::Include { .. } => ours,
            };
            let m = run(&work, row, expected, round).await?;
            eprintln!(
                "round {}: {}: Fluent Bit {:.2} s + sink-proxy {:.2} s ({:.2} s of it start-up)",
                round + 1,
                row.label(),
                m.fluent_bit,
                m.proxy,
                m.proxy_start
            );
            results[i].push(m);
        }
    }
    let total = |ms: &[Measure]| median(ms.iter().map(|m| m.fluent_bit + m.proxy).collect());
    let classic = rows.iter().position(Row::is_classic);
    let base = classic.map(|i| total(&results[i]));
    // Each round's ratio to the classic row of the same round: the rows of
    // a round ran back to back, so this pairs away the machine's drift.
    let per_round = |ms: &[Measure]| {
        classic.map(|c| {
            median(
                ms.iter()
                    .zip(&results[c])
                    .map(|(m, b)| (m.fluent_bit + m.proxy) / (b.fluent_bit + b.proxy))
                    .collect(),
            )
        })
    };
    println!();
    println!(
        "| pipeline | CPU s (median) | Fluent Bit | sink-proxy | of it start-up | × classic | × classic, per round | Firehose records | billed 5 KiB units | PutLogEvents calls |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (row, ms) in rows.iter().zip(&results) {
        let t = total(ms);
        let last = ms.last().context("no rounds")?;
        let with_proxy = matches!(row, Row::Include { null: false, .. });
        let proxy_median = |f: fn(&Measure) -> f64| {
            if with_proxy {
                format!("{:.2}", median(ms.iter().map(f).collect()))
            } else {
                "-".to_owned()
            }
        };
        println!(
            "| {} | {t:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} |",
            row.label(),
            median(ms.iter().map(|m| m.fluent_bit).collect()),
            proxy_median(|m| m.proxy),
            proxy_median(|m| m.proxy_start),
            base.map_or("-".into(), |b| format!("{:.2}", t / b)),
            per_round(ms).map_or("-".into(), |r| format!("{r:.2}")),
            last.firehose_records,
            last.billed_units,
            last.put_log_events,
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
