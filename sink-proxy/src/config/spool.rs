//! `[spool]`: the durable spool (see `crate::spool`).

use super::ingest::Ingest;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where the spool goes when no directory is given.
pub const DEFAULT_SPOOL_DIR: &str = "/var/lib/sink-proxy/spool";

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

/// Validated `[spool]`.
#[derive(Debug)]
pub struct Spool {
    pub choice: SpoolChoice,
    pub max_backoff: Duration,
    pub firehose_concurrency: usize,
}

impl SpoolFile {
    /// `dir`, `max_bytes`: the command line's, which win over the file's.
    /// `firehose_streams`: how many delivery streams there are.
    pub fn resolve(
        self,
        dir: Option<String>,
        max_bytes: Option<u64>,
        ingest: &Ingest,
        firehose_streams: usize,
    ) -> Result<Spool, String> {
        let settings = |dir: PathBuf| crate::spool::Settings {
            dir,
            max_bytes: max_bytes.unwrap_or(self.max_bytes),
            segment_bytes: self.segment_bytes,
        };
        let choice = match dir.or(self.dir.clone()) {
            Some(d) if d == "off" || d.is_empty() => SpoolChoice::Off,
            Some(d) => SpoolChoice::Required(settings(d.into())),
            None => SpoolChoice::IfWritable(settings(DEFAULT_SPOOL_DIR.into())),
        };
        if let SpoolChoice::Required(s) | SpoolChoice::IfWritable(s) = &choice {
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
        if self.max_backoff_secs == 0 || self.firehose_concurrency == Some(0) {
            return Err("spool.max_backoff_secs and spool.firehose_concurrency must be above 0".into());
        }
        Ok(Spool {
            choice,
            max_backoff: Duration::from_secs(self.max_backoff_secs),
            firehose_concurrency: self.firehose_concurrency.unwrap_or(firehose_streams.max(1)),
        })
    }
}
