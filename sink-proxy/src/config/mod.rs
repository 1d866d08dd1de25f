//! Settings: the essentials as CLI flags with environment equivalents, the
//! rest in a TOML file (`--config`); a flag wins over the file. Each section
//! of the file resolves itself into a validated type (`IngestFile` into
//! `Ingest`, and so on), with a message saying what to fix.

mod cloudwatch;
mod delivery;
mod firehose;
mod ingest;
mod spool;

pub use cloudwatch::{CloudWatch, CloudWatchFile};
pub use delivery::{Delivery, DeliveryFile};
pub use firehose::{DeadLetterFile, Firehose, FirehoseFile};
pub use ingest::{CLASSIFY_HEADER, Ingest, IngestFile, Token};
pub use spool::{DEFAULT_SPOOL_DIR, Spool, SpoolChoice, SpoolFile};

use crate::alerts::config::{AlertSettings, AlertsFile};
use crate::route::Mark;
use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

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
    pub alerts: AlertsFile,
}

/// Validated settings.
#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub region: Option<String>,
    pub ingest: Ingest,
    pub mark: Mark,
    pub cloudwatch: Option<CloudWatch>,
    pub firehose: Option<Firehose>,
    /// Where dead letters go; `None`: only the proxy's own log (error level).
    pub dead_letter_stream: Option<String>,
    pub delivery: Delivery,
    pub spool: Spool,
    /// `None`: no alert destination is set.
    pub alerts: Option<AlertSettings>,
    /// Metrics as EMF lines on stdout; `None`: off.
    pub emf: Option<crate::emf::Settings>,
}

impl Config {
    /// `file_text` is the `--config` file's contents, if any; `env` looks up
    /// environment variables (the token, alert destinations, EMF).
    pub fn new(cli: Cli, file_text: Option<&str>, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let file: FileConfig = match file_text {
            Some(t) => toml::from_str(t).map_err(|e| format!("config file: {}", e.to_string().trim_end()))?,
            None => FileConfig::default(),
        };
        let ingest = file.ingest.resolve(&env)?;
        let delivery = file.delivery.resolve(&ingest)?;
        let mark = file.route.resolve()?;
        // What the proxy marks when it classifies must be what it routes: the
        // built-in rules take [route]'s mark; a rules file must agree with it.
        let mut ingest = ingest;
        let rules_mark = &mut ingest.rules.mark;
        if ingest.rules_file.is_none() {
            (rules_mark.field, rules_mark.value) = (mark.field.clone(), mark.value.clone());
        } else if (rules_mark.field.as_str(), rules_mark.value.as_str()) != (mark.field.as_str(), mark.value.as_str()) {
            return Err(format!(
                "ingest.rules_file marks errors {}={} but [route] routes {}={}: they must agree",
                rules_mark.field, rules_mark.value, mark.field, mark.value
            ));
        }
        let cloudwatch = file.cloudwatch.resolve(cli.log_group, cli.log_stream)?;
        let firehose = file.firehose.resolve(cli.delivery_stream)?;
        if cloudwatch.is_none() && firehose.is_none() {
            return Err("no destination: set --log-group, --delivery-stream, or both".into());
        }
        let dead_letter_stream = file.dead_letter.resolve(firehose.as_ref())?;
        let streams = firehose.as_ref().map_or(0, |f| f.delivery_streams.len());
        let spool = file
            .spool
            .resolve(cli.spool_dir, cli.spool_max_bytes, &ingest, streams)?;
        Ok(Self {
            listen: cli.listen,
            region: cli.region,
            ingest,
            mark,
            cloudwatch,
            firehose,
            dead_letter_stream,
            delivery,
            spool,
            alerts: file.alerts.resolve(&env)?,
            emf: crate::emf::Settings::from_env(&env)?,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firehose::batch::MAX_RECORD_BYTES;
    use crate::route::{MessageFormat, StreamTemplate};

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
        let token = c.ingest.token.as_ref().unwrap();
        assert_eq!((token.header.as_str(), token.value.expose()), ("X-Token", "s3cret"));
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
        assert_eq!(c.spool.firehose_concurrency, 2, "one entry in flight per stream");
        assert_eq!(c.dead_letter_stream.as_deref(), Some("a"));
        let default = SpoolFile::default();
        assert_eq!(
            c.spool.choice,
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
            c.spool.choice,
            SpoolChoice::Required(crate::spool::Settings {
                dir: "/x".into(),
                max_bytes: 1_000_000_000,
                segment_bytes: 1 << 20,
            })
        );
        assert_eq!((c.spool.max_backoff.as_secs(), c.spool.firehose_concurrency), (5, 1));
        let c = Config::new(cli(&["--delivery-stream", "a", "--spool-dir", "off"]), None, no_env).unwrap();
        assert_eq!(c.spool.choice, SpoolChoice::Off);
        let c = Config::new(cli(&["--delivery-stream", "a"]), Some("[spool]\ndir = \"\""), no_env).unwrap();
        assert_eq!(c.spool.choice, SpoolChoice::Off);
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
mod classify_rules {
    use super::*;

    fn config(file: &str) -> Result<Config, String> {
        let cli = Cli::try_parse_from(["sink-proxy", "--log-group", "g"]).unwrap();
        Config::new(cli, Some(file), |_| None)
    }

    /// What the proxy marks when it classifies is what it routes.
    #[test]
    fn the_rules_mark_what_the_route_routes() {
        // Built-in rules take [route]'s mark.
        let c = config("[route]\nfield = \"severity\"\nvalue = \"bad\"\n").unwrap();
        assert_eq!(
            (c.ingest.rules.mark.field.as_str(), c.ingest.rules.mark.value.as_str()),
            ("severity", "bad")
        );
        // A rules file must agree with it.
        let dir = std::env::temp_dir().join(format!("sink-proxy-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let rules = dir.join("rules.toml");
        std::fs::write(&rules, "[error]\nwords = [\"OOPS\"]\n").unwrap();
        let with = |route: &str| {
            config(&format!(
                "[ingest]\nrules_file = {:?}\n{route}",
                rules.display().to_string()
            ))
        };
        let c = with("").unwrap();
        assert_eq!(c.ingest.rules.error.words, ["OOPS"]);
        let e = with("[route]\nfield = \"severity\"\n").unwrap_err();
        assert!(e.contains("must agree"), "{e}");
        std::fs::write(&rules, "[error]\nwords = 3\n").unwrap();
        assert!(with("").unwrap_err().contains("ingest.rules_file"));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            with("").unwrap_err().contains("ingest.rules_file"),
            "a missing file is an error"
        );
    }
}

#[cfg(test)]
mod example_file {
    use super::*;

    /// The documented example file is valid, and every setting it holds
    /// resolves to the default: the two configurations print the same.
    #[test]
    fn example_file_resolves_to_the_defaults() {
        let text = include_str!("../../sink-proxy.example.toml");
        let cli = || Cli::try_parse_from(["sink-proxy", "--log-group", "g", "--delivery-stream", "s"]).unwrap();
        // An alert destination, so that `[alerts]` resolves too.
        let env = |name: &str| (name == crate::alerts::config::SLACK_ENV).then(|| "https://hooks.example/x".to_owned());
        let from_file = Config::new(cli(), Some(text), env).unwrap();
        let defaults = Config::new(cli(), None, env).unwrap();
        assert!(defaults.alerts.is_some());
        assert_eq!(format!("{from_file:#?}"), format!("{defaults:#?}"));
        // Every section of the file is in the example.
        let sections: toml::Table = toml::from_str(text).unwrap();
        for section in [
            "ingest",
            "route",
            "cloudwatch",
            "firehose",
            "dead_letter",
            "delivery",
            "spool",
            "alerts",
        ] {
            assert!(sections.contains_key(section), "[{section}] missing from the example");
        }
    }
}
