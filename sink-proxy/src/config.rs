//! Settings: the essentials as CLI flags with environment equivalents, the
//! rest in a TOML file (`--config`); a flag wins over the file. Everything is
//! validated at start, with a message saying what to fix.

use crate::cloudwatch::batch::{DEFAULT_MAX_MESSAGE_BYTES, EVENT_OVERHEAD};
use crate::firehose::batch::MAX_RECORD_BYTES;
use crate::route::{Mark, MessageFormat, StreamTemplate};
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A chunk's working set, as counted against `delivery.max_in_flight_bytes`:
/// the body as received plus this many times its decoded size. Measured: the
/// decoded lines, the packed Firehose records, their copy in the request and
/// its base64 JSON come to about four times the decoded bytes.
pub const WORKING_SET_FACTOR: usize = 4;

/// Bytes a request with a body of `body` bytes decoding to `decoded` bytes
/// holds against the in-flight budget.
pub fn working_set(body: usize, decoded: usize) -> usize {
    body.saturating_add(decoded.saturating_mul(WORKING_SET_FACTOR))
}

/// Retention values CloudWatch Logs accepts (days).
pub const RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
];

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Receives Fluent Bit's http output and delivers to CloudWatch Logs and Firehose"
)]
pub struct Cli {
    /// Address to listen on (loopback: Fluent Bit runs in the same task).
    #[arg(long, env = "SINK_PROXY_LISTEN", default_value = "127.0.0.1:8880")]
    pub listen: SocketAddr,
    /// AWS region; else the standard aws-config chain decides.
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// CloudWatch Logs group for error records; none: errors go to Firehose only.
    #[arg(long, env = "SINK_PROXY_LOG_GROUP")]
    pub log_group: Option<String>,
    /// Log stream name template: `{tag}` and `{field}` placeholders.
    #[arg(long, env = "SINK_PROXY_LOG_STREAM")]
    pub log_stream: Option<String>,
    /// Firehose delivery stream for every record; none: CloudWatch only.
    /// Several, comma-separated, spread the records over them.
    #[arg(long, env = "SINK_PROXY_DELIVERY_STREAM")]
    pub delivery_stream: Option<String>,
    /// Durable spool directory: chunks are acknowledged once on disk there.
    /// Default /var/lib/sink-proxy/spool when writable; `off`: no spool.
    #[arg(long, env = "SINK_PROXY_SPOOL_DIR")]
    pub spool_dir: Option<String>,
    /// The spool's size limit in bytes; when full, chunks are answered 429.
    #[arg(long, env = "SINK_PROXY_SPOOL_MAX_BYTES")]
    pub spool_max_bytes: Option<u64>,
    /// TOML file with the other settings.
    #[arg(long, env = "SINK_PROXY_CONFIG")]
    pub config: Option<PathBuf>,
    /// The container health check: ask the sink-proxy on --listen; exit 1 if
    /// it is unreachable or failing in a way retrying cannot fix (access
    /// denied, missing stream), 0 otherwise (an AWS outage included).
    #[arg(long)]
    pub check_health: bool,
}

/// The TOML file. Every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileConfig {
    pub ingest: IngestFile,
    pub route: Mark,
    pub cloudwatch: CloudWatchFile,
    pub firehose: FirehoseFile,
    pub dead_letter: DeadLetterFile,
    pub delivery: DeliveryFile,
    pub spool: SpoolFile,
    pub alerts: crate::alerts::config::AlertsFile,
}

/// The durable spool (see `spool`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolFile {
    /// Directory; `"off"` turns the spool off.
    pub dir: Option<String>,
    pub max_bytes: u64,
    /// A segment file is closed past this size and deleted once delivered.
    pub segment_bytes: u64,
    /// Longest wait between attempts at a spooled entry a destination refuses.
    pub max_backoff_secs: u64,
    /// Entries delivered at once per Firehose destination (default: one per
    /// delivery stream); CloudWatch Logs always one, in order.
    pub firehose_concurrency: Option<usize>,
}

/// Where the spool goes when no directory is given.
pub const DEFAULT_SPOOL_DIR: &str = "/var/lib/sink-proxy/spool";

impl Default for SpoolFile {
    fn default() -> Self {
        Self {
            dir: None,
            // Fargate gives a task 20 GiB of ephemeral storage by default,
            // image layers included: half of it, with room for the rest.
            max_bytes: 10 << 30,
            segment_bytes: 32 << 20,
            max_backoff_secs: 30,
            firehose_concurrency: None,
        }
    }
}

/// Whether to spool, as configured.
#[derive(Debug, Clone, PartialEq)]
pub enum SpoolChoice {
    /// Turned off (`--spool-dir off`): 2xx only once AWS has a chunk.
    Off,
    /// A directory was given: it must work, or the proxy does not start.
    Required(crate::spool::Settings),
    /// The default directory: used if writable, else off with a warning.
    IfWritable(crate::spool::Settings),
}
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestFile {
    /// Path Fluent Bit posts to (its `uri`).
    pub path: String,
    pub max_body_bytes: usize,
    /// A request's head must arrive within this (slow clients are cut off).
    pub header_timeout_secs: u64,
    /// A request body must arrive within this (slow clients get 408).
    pub body_timeout_secs: u64,
    pub max_decoded_bytes: usize,
    /// Header carrying the chunk's tag (Fluent Bit `header_tag`).
    pub tag_header: String,
    /// Fluent Bit's `json_date_key`.
    pub date_key: String,
    /// Require this header with this value (Fluent Bit `header`); the value
    /// is read from the environment variable named by `token_env`.
    pub token_header: Option<String>,
    pub token_env: Option<String>,
}

impl Default for IngestFile {
    fn default() -> Self {
        Self {
            path: "/".into(),
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_body_bytes: 8 << 20,
            max_decoded_bytes: 12 << 20,
            tag_header: "X-Fluent-Tag".into(),
            date_key: "date".into(),
            token_header: None,
            token_env: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CloudWatchFile {
    pub log_group: Option<String>,
    pub log_stream: Option<String>,
    /// Set on groups this proxy creates.
    pub retention_days: Option<u32>,
    /// Send only this key's value as the message (e.g. `log`)...
    pub message_key: Option<String>,
    /// ...or the record without these keys (default: the ECS metadata keys).
    pub remove_keys: Option<Vec<String>>,
    /// Largest message in bytes before it is split (256 KiB partitions: 262118).
    pub max_event_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirehoseFile {
    pub delivery_stream: Option<String>,
    /// Several streams (instead of `delivery_stream`): records are spread
    /// over them, beyond one stream's throughput quota.
    pub delivery_streams: Option<Vec<String>>,
    pub max_record_bytes: Option<usize>,
    /// Gzip each record (off by default: S3 objects stay valid multi-member
    /// gzip, but Firehose transformations cannot read them).
    pub gzip: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetterFile {
    /// Firehose stream for dead letters; default: the records' stream.
    pub delivery_stream: Option<String>,
}

/// Retries, timeouts and admission limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeliveryFile {
    /// Attempts per AWS call before the chunk is answered 503.
    pub max_attempts: u32,
    /// Time per AWS call, retries included, before the chunk is answered 503.
    pub max_retry_secs: u64,
    /// Time for one attempt of an AWS call.
    pub attempt_timeout_secs: u64,
    /// Requests handled at once; more are answered 429.
    pub max_in_flight_requests: usize,
    /// Body bytes held by requests being handled; more are answered 429.
    pub max_in_flight_bytes: usize,
    /// Parts of failed chunks remembered, so a retry skips what was accepted.
    pub remember_parts: usize,
    pub remember_secs: u64,
    /// On SIGTERM: time to finish requests being handled.
    pub shutdown_grace_secs: u64,
}

impl Default for DeliveryFile {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_retry_secs: 20,
            attempt_timeout_secs: 10,
            max_in_flight_requests: 8,
            max_in_flight_bytes: 64 << 20,
            remember_parts: 100_000,
            remember_secs: 3600,
            shutdown_grace_secs: 25,
        }
    }
}

impl DeliveryFile {
    pub fn retry_policy(&self) -> crate::retry::RetryPolicy {
        crate::retry::RetryPolicy {
            max_attempts: self.max_attempts,
            max_elapsed: std::time::Duration::from_secs(self.max_retry_secs),
            ..crate::retry::RetryPolicy::default()
        }
    }
}

/// Validated settings.
#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub region: Option<String>,
    pub ingest: IngestFile,
    pub token: Option<(String, String)>,
    pub mark: Mark,
    pub cloudwatch: Option<CloudWatch>,
    pub firehose: Option<Firehose>,
    /// Where dead letters go; `None`: only the proxy's own log (error level).
    pub dead_letter_stream: Option<String>,
    pub delivery: DeliveryFile,
    pub spool: SpoolChoice,
    pub spool_backoff_max_secs: u64,
    pub firehose_concurrency: usize,
    /// `None`: no alert destination is set.
    pub alerts: Option<crate::alerts::config::AlertSettings>,
    /// Metrics as EMF lines on stdout; `None`: off.
    pub emf: Option<crate::emf::Settings>,
}

#[derive(Debug)]
pub struct CloudWatch {
    pub log_group: String,
    pub log_stream: StreamTemplate,
    pub retention_days: Option<u32>,
    pub message: MessageFormat,
    pub max_event_bytes: usize,
}

#[derive(Debug)]
pub struct Firehose {
    /// One or more; records are spread over them.
    pub delivery_streams: Vec<String>,
    pub max_record_bytes: usize,
    pub gzip: bool,
}

impl Config {
    /// `file_text` is the `--config` file's contents, if any; `env` looks up
    /// environment variables (for the token).
    pub fn new(cli: Cli, file_text: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let file: FileConfig = match file_text {
            Some(t) => toml::from_str(t).map_err(|e| format!("config file: {}", e.to_string().trim_end()))?,
            None => FileConfig::default(),
        };
        let FileConfig {
            ingest,
            route: mark,
            cloudwatch: cw,
            firehose: fh,
            dead_letter,
            delivery,
            spool,
            alerts,
        } = file;
        let alerts = alerts.resolve(&env)?;
        let emf = crate::emf::Settings::from_env(&env)?;
        if !ingest.path.starts_with('/') {
            return Err(format!("ingest.path {:?} must start with '/'", ingest.path));
        }
        if ingest.body_timeout_secs == 0 || ingest.header_timeout_secs == 0 {
            return Err("ingest.header_timeout_secs and ingest.body_timeout_secs must be above 0".into());
        }
        if delivery.max_attempts == 0 || delivery.attempt_timeout_secs == 0 {
            return Err("delivery.max_attempts and delivery.attempt_timeout_secs must be above 0".into());
        }
        // The largest request's working set must fit the budget, or it would
        // be answered 429 for ever.
        let largest = working_set(
            ingest.max_body_bytes,
            ingest.max_decoded_bytes.max(ingest.max_body_bytes),
        );
        if delivery.max_in_flight_requests == 0
            || delivery.max_in_flight_bytes < largest
            || delivery.max_in_flight_bytes > u32::MAX as usize
        {
            return Err(format!(
                "delivery.max_in_flight_requests must be above 0, and delivery.max_in_flight_bytes from \
                 ingest.max_body_bytes + {WORKING_SET_FACTOR} x ingest.max_decoded_bytes ({largest}) to {}",
                u32::MAX
            ));
        }
        if mark.field.is_empty() || mark.value.is_empty() {
            return Err("route.field and route.value must not be empty (the filter's mark, log_class = error)".into());
        }
        if ingest.max_body_bytes == 0 || ingest.max_decoded_bytes < ingest.max_body_bytes {
            return Err("ingest.max_decoded_bytes must be at least ingest.max_body_bytes, both above 0".into());
        }
        let token = match (&ingest.token_header, &ingest.token_env) {
            (None, None) => None,
            (Some(h), Some(var)) => {
                let v = env(var)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("ingest.token_env: environment variable {var} is not set"))?;
                Some((h.clone(), v))
            }
            _ => return Err("ingest.token_header and ingest.token_env go together".into()),
        };

        let cloudwatch = match cli.log_group.or(cw.log_group) {
            None => None,
            Some(group) => {
                if group.is_empty()
                    || group.len() > 512
                    || !group
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-/#".contains(&b))
                {
                    return Err(format!(
                        "log group {group:?}: 1-512 characters of A-Z a-z 0-9 . _ - / #"
                    ));
                }
                let template = cli
                    .log_stream
                    .or(cw.log_stream)
                    .unwrap_or_else(|| StreamTemplate::DEFAULT.into());
                if let Some(d) = cw.retention_days
                    && !RETENTION_DAYS.contains(&d)
                {
                    return Err(format!("cloudwatch.retention_days {d}: one of {RETENTION_DAYS:?}"));
                }
                let message = match (cw.message_key, cw.remove_keys) {
                    (Some(_), Some(_)) => {
                        return Err("cloudwatch.message_key and cloudwatch.remove_keys exclude each other".into());
                    }
                    (Some(k), None) => MessageFormat::Key(k),
                    (None, Some(keys)) => MessageFormat::RecordWithout(keys),
                    (None, None) => MessageFormat::default(),
                };
                let max_event_bytes = cw.max_event_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
                if !(1024..=DEFAULT_MAX_MESSAGE_BYTES).contains(&max_event_bytes) {
                    return Err(format!(
                        "cloudwatch.max_event_bytes {max_event_bytes}: 1024 to {DEFAULT_MAX_MESSAGE_BYTES} (a call is 1,048,576 bytes with {EVENT_OVERHEAD} per event)"
                    ));
                }
                Some(CloudWatch {
                    log_group: group,
                    log_stream: StreamTemplate::parse(&template)?,
                    retention_days: cw.retention_days,
                    message,
                    max_event_bytes,
                })
            }
        };

        let streams = match (cli.delivery_stream, fh.delivery_stream, fh.delivery_streams) {
            (Some(flag), _, _) => Some(flag.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>()),
            (None, Some(_), Some(_)) => {
                return Err("firehose.delivery_stream and firehose.delivery_streams exclude each other".into());
            }
            (None, one, many) => many.or(one.map(|s| vec![s])),
        };
        let firehose = match streams {
            None => None,
            Some(names) => {
                if names.is_empty() {
                    return Err("firehose.delivery_streams: name at least one stream".into());
                }
                for name in &names {
                    check_delivery_stream(name)?;
                }
                let max_record_bytes = fh.max_record_bytes.unwrap_or(MAX_RECORD_BYTES);
                if !(1024..=MAX_RECORD_BYTES).contains(&max_record_bytes) {
                    return Err(format!(
                        "firehose.max_record_bytes {max_record_bytes}: 1024 to {MAX_RECORD_BYTES}"
                    ));
                }
                Some(Firehose {
                    delivery_streams: names,
                    max_record_bytes,
                    gzip: fh.gzip,
                })
            }
        };
        if cloudwatch.is_none() && firehose.is_none() {
            return Err("no destination: set --log-group, --delivery-stream, or both".into());
        }
        let dead_letter_stream = match dead_letter.delivery_stream {
            Some(name) => {
                check_delivery_stream(&name)?;
                Some(name)
            }
            None => firehose.as_ref().and_then(|f| f.delivery_streams.first().cloned()),
        };
        let spool_settings = |dir: PathBuf| crate::spool::Settings {
            dir,
            max_bytes: cli.spool_max_bytes.unwrap_or(spool.max_bytes),
            segment_bytes: spool.segment_bytes,
        };
        let spool_choice = match cli.spool_dir.or(spool.dir) {
            Some(d) if d == "off" || d.is_empty() => SpoolChoice::Off,
            Some(d) => SpoolChoice::Required(spool_settings(d.into())),
            None => SpoolChoice::IfWritable(spool_settings(DEFAULT_SPOOL_DIR.into())),
        };
        if let SpoolChoice::Required(s) | SpoolChoice::IfWritable(s) = &spool_choice {
            // Room for the largest chunk (each destination's share of it) even
            // while every queue's last segment is still on disk.
            let least = 3 * s.segment_bytes + 4 * ingest.max_decoded_bytes as u64;
            if s.segment_bytes < 4096 || s.max_bytes < least {
                return Err(format!(
                    "spool.max_bytes {} must be at least 3 x spool.segment_bytes + 4 x ingest.max_decoded_bytes ({least}), \
                     and spool.segment_bytes at least 4096",
                    s.max_bytes
                ));
            }
        }
        if spool.max_backoff_secs == 0 || spool.firehose_concurrency == Some(0) {
            return Err("spool.max_backoff_secs and spool.firehose_concurrency must be above 0".into());
        }
        let firehose_concurrency = spool
            .firehose_concurrency
            .unwrap_or_else(|| firehose.as_ref().map_or(1, |f| f.delivery_streams.len()));
        Ok(Self {
            listen: cli.listen,
            region: cli.region,
            ingest,
            token,
            mark,
            cloudwatch,
            firehose,
            dead_letter_stream,
            delivery,
            spool: spool_choice,
            spool_backoff_max_secs: spool.max_backoff_secs,
            firehose_concurrency,
            alerts,
            emf,
        })
    }

    /// The routing settings of a chunk plan.
    pub fn routing(&self) -> crate::plan::Routing {
        crate::plan::Routing {
            mark: self.mark.clone(),
            cloudwatch: self
                .cloudwatch
                .as_ref()
                .map(|c| (c.log_stream.clone(), c.message.clone())),
            firehose_record_bytes: self.firehose.as_ref().map(|f| f.max_record_bytes),
            date_key: self.ingest.date_key.clone(),
            alerts: self.alerts.as_ref().map(|a| a.selector.clone()),
        }
    }
}

fn check_delivery_stream(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(format!(
            "delivery stream {name:?}: 1-64 characters of A-Z a-z 0-9 . _ -"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("sink-proxy").chain(args.iter().copied())).unwrap()
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn flags_alone_are_enough_and_default_to_loopback() {
        let c = Config::new(
            cli(&["--log-group", "/ecs/app-errors", "--delivery-stream", "app-logs"]),
            None,
            no_env,
        )
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8880");
        let cw = c.cloudwatch.unwrap();
        assert_eq!(cw.log_group, "/ecs/app-errors");
        assert_eq!(cw.log_stream, StreamTemplate::parse("{tag}").unwrap());
        assert_eq!(cw.message, MessageFormat::default());
        assert_eq!(c.firehose.unwrap().max_record_bytes, MAX_RECORD_BYTES);
        assert_eq!(c.mark, Mark::default());
        assert_eq!(
            c.dead_letter_stream.as_deref(),
            Some("app-logs"),
            "dead letters default to the stream"
        );
        assert_eq!(c.ingest.path, "/");
    }

    #[test]
    fn one_destination_is_enough_none_is_an_error() {
        assert!(
            Config::new(cli(&["--delivery-stream", "s"]), None, no_env)
                .unwrap()
                .cloudwatch
                .is_none()
        );
        assert!(
            Config::new(cli(&["--log-group", "g"]), None, no_env)
                .unwrap()
                .firehose
                .is_none()
        );
        let e = Config::new(cli(&[]), None, no_env).unwrap_err();
        assert!(e.contains("--log-group"), "{e}");
    }

    #[test]
    fn the_file_fills_in_and_flags_win() {
        let file = r#"
[cloudwatch]
log_group = "from-file"
log_stream = "ecs/{container_name}"
retention_days = 30
message_key = "log"
max_event_bytes = 262118
[firehose]
delivery_stream = "file-stream"
gzip = true
[ingest]
token_header = "X-Token"
token_env = "PROXY_TOKEN"
[route]
field = "severity_class"
"#;
        let env = |k: &str| (k == "PROXY_TOKEN").then(|| "s3cret".to_owned());
        let c = Config::new(cli(&["--log-group", "from-flag"]), Some(file), env).unwrap();
        let cw = c.cloudwatch.unwrap();
        assert_eq!(cw.log_group, "from-flag");
        assert_eq!(cw.retention_days, Some(30));
        assert_eq!(cw.message, MessageFormat::Key("log".into()));
        assert_eq!(cw.max_event_bytes, 262_118);
        let fh = c.firehose.unwrap();
        assert_eq!(
            (fh.delivery_streams.as_slice(), fh.gzip),
            (&["file-stream".to_owned()][..], true)
        );
        assert_eq!(c.token, Some(("X-Token".into(), "s3cret".into())));
        assert_eq!(
            c.mark,
            Mark {
                field: "severity_class".into(),
                value: "error".into()
            }
        );
    }

    #[test]
    fn the_spool_is_on_by_default_off_when_empty_and_several_streams_spread_records() {
        let c = Config::new(cli(&["--delivery-stream", "a, b"]), None, no_env).unwrap();
        assert_eq!(c.firehose.unwrap().delivery_streams, ["a", "b"]);
        assert_eq!(c.firehose_concurrency, 2, "one entry in flight per stream");
        assert_eq!(c.dead_letter_stream.as_deref(), Some("a"));
        let default = SpoolFile::default();
        assert_eq!(
            c.spool,
            SpoolChoice::IfWritable(crate::spool::Settings {
                dir: DEFAULT_SPOOL_DIR.into(),
                max_bytes: default.max_bytes,
                segment_bytes: default.segment_bytes,
            })
        );
        let c = Config::new(
            cli(&[
                "--delivery-stream",
                "a",
                "--spool-dir",
                "/x",
                "--spool-max-bytes",
                "1000000000",
            ]),
            Some("[spool]\nsegment_bytes = 1048576\nmax_backoff_secs = 5\n[firehose]\n"),
            no_env,
        )
        .unwrap();
        assert_eq!(
            c.spool,
            SpoolChoice::Required(crate::spool::Settings {
                dir: "/x".into(),
                max_bytes: 1_000_000_000,
                segment_bytes: 1 << 20,
            })
        );
        assert_eq!((c.spool_backoff_max_secs, c.firehose_concurrency), (5, 1));
        let c = Config::new(cli(&["--delivery-stream", "a", "--spool-dir", "off"]), None, no_env).unwrap();
        assert_eq!(c.spool, SpoolChoice::Off);
        let c = Config::new(cli(&["--delivery-stream", "a"]), Some("[spool]\ndir = \"\""), no_env).unwrap();
        assert_eq!(c.spool, SpoolChoice::Off);
        let c = Config::new(
            cli(&["--log-group", "g"]),
            Some("[firehose]\ndelivery_streams = [\"x\", \"y\", \"z\"]\n"),
            no_env,
        )
        .unwrap();
        assert_eq!(c.firehose.unwrap().delivery_streams, ["x", "y", "z"]);
    }

    #[test]
    fn bad_settings_say_what_to_fix() {
        let cases: [(&[&str], &str, &str); 18] = [
            (&["--delivery-stream", "a,,b"], "", "delivery stream \"\""),
            (
                &["--log-group", "g"],
                "[firehose]\ndelivery_stream = \"a\"\ndelivery_streams = [\"b\"]",
                "exclude each other",
            ),
            (
                &["--log-group", "g", "--spool-max-bytes", "1000"],
                "",
                "spool.max_bytes 1000",
            ),
            (
                &["--log-group", "g"],
                "[spool]\nmax_backoff_secs = 0",
                "max_backoff_secs",
            ),
            (&["--log-group", "g"], "[ingest]\npath = \"x\"", "ingest.path"),
            (
                &["--log-group", "g"],
                "[dead_letter]\ndelivery_stream = \"a b\"",
                "delivery stream",
            ),
            (&["--log-group", "g"], "[delivery]\nmax_attempts = 0", "max_attempts"),
            (
                &["--log-group", "g"],
                "[delivery]\nmax_in_flight_bytes = 1",
                "max_in_flight_bytes",
            ),
            (&["--log-group", "bad group!"], "", "log group"),
            (&["--log-group", "g", "--log-stream", "a:{tag}"], "", "':' and '*'"),
            (
                &["--delivery-stream", "s"],
                "[cloudwatch]\nretention_days = 8\nlog_group = \"g\"",
                "retention_days 8",
            ),
            (
                &["--delivery-stream", "s"],
                "[firehose]\nmax_record_bytes = 2000000",
                "max_record_bytes",
            ),
            (&["--delivery-stream", "s"], "[firehose]\ngzipp = true", "gzipp"),
            (
                &["--log-group", "g"],
                "[cloudwatch]\nmessage_key = \"log\"\nremove_keys = []",
                "exclude each other",
            ),
            (
                &["--log-group", "g"],
                "[cloudwatch]\nmax_event_bytes = 2000000",
                "max_event_bytes",
            ),
            (&["--log-group", "g"], "[ingest]\ntoken_header = \"X\"", "go together"),
            (&["--log-group", "g"], "[route]\nfield = \"\"", "route.field"),
            (
                &["--log-group", "g"],
                "[ingest]\ntoken_header = \"X\"\ntoken_env = \"UNSET\"",
                "UNSET is not set",
            ),
        ];
        for (args, file, needle) in cases {
            let e = Config::new(cli(args), (!file.is_empty()).then_some(file), no_env).unwrap_err();
            assert!(e.contains(needle), "{args:?} {file:?}: {e}");
        }
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The documented example file is valid, and its values are the defaults.
    #[test]
    fn example_file_parses_to_the_defaults() {
        let text = include_str!("../sink-proxy.example.toml");
        let file: FileConfig = toml::from_str(text).unwrap();
        let d = IngestFile::default();
        assert_eq!(
            (
                file.ingest.path.as_str(),
                file.ingest.max_body_bytes,
                file.ingest.max_decoded_bytes
            ),
            (d.path.as_str(), d.max_body_bytes, d.max_decoded_bytes)
        );
        assert_eq!(
            (
                file.ingest.header_timeout_secs,
                file.ingest.body_timeout_secs,
                file.ingest.tag_header.as_str()
            ),
            (d.header_timeout_secs, d.body_timeout_secs, d.tag_header.as_str())
        );
        let dd = DeliveryFile::default();
        let f = &file.delivery;
        assert_eq!(
            (
                f.max_attempts,
                f.max_retry_secs,
                f.attempt_timeout_secs,
                f.max_in_flight_requests
            ),
            (
                dd.max_attempts,
                dd.max_retry_secs,
                dd.attempt_timeout_secs,
                dd.max_in_flight_requests
            )
        );
        assert_eq!(
            (
                f.max_in_flight_bytes,
                f.remember_parts,
                f.remember_secs,
                f.shutdown_grace_secs
            ),
            (
                dd.max_in_flight_bytes,
                dd.remember_parts,
                dd.remember_secs,
                dd.shutdown_grace_secs
            )
        );
        let sd = SpoolFile::default();
        let sp = &file.spool;
        assert_eq!(
            (
                sp.dir.as_deref(),
                sp.max_bytes,
                sp.segment_bytes,
                sp.max_backoff_secs,
                sp.firehose_concurrency
            ),
            (
                None,
                sd.max_bytes,
                sd.segment_bytes,
                sd.max_backoff_secs,
                sd.firehose_concurrency
            )
        );
        assert_eq!(file.alerts, crate::alerts::config::AlertsFile::default());
        assert_eq!(file.cloudwatch.max_event_bytes, Some(DEFAULT_MAX_MESSAGE_BYTES));
        assert_eq!(file.firehose.max_record_bytes, Some(MAX_RECORD_BYTES));
        assert_eq!(
            file.cloudwatch.remove_keys.map(MessageFormat::RecordWithout),
            Some(MessageFormat::default())
        );
        assert_eq!(file.cloudwatch.log_stream.as_deref(), Some(StreamTemplate::DEFAULT));
        let c = Config::new(
            Cli::try_parse_from(["sink-proxy", "--log-group", "g"]).unwrap(),
            Some(text),
            |_| None,
        );
        assert!(c.is_ok(), "{c:?}");
    }
}
