//! `[firehose]` and `[dead_letter]`: where every record goes, and where
//! what cannot be delivered goes.

use crate::firehose::batch::MAX_RECORD_BYTES;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FirehoseFile {
    pub delivery_stream: Option<String>,
    /// Several streams (instead of `delivery_stream`): records are spread
    /// over them, beyond one stream's throughput quota.
    pub delivery_streams: Option<Vec<String>>,
    pub max_record_bytes: usize,
    /// Gzip each record (off by default: S3 objects stay valid multi-member
    /// gzip, but Firehose transformations cannot read them).
    pub gzip: bool,
}

impl Default for FirehoseFile {
    fn default() -> Self {
        Self {
            delivery_stream: None,
            delivery_streams: None,
            max_record_bytes: MAX_RECORD_BYTES,
            gzip: false,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeadLetterFile {
    /// Firehose stream for dead letters; default: the records' stream.
    pub delivery_stream: Option<String>,
}

/// Validated `[firehose]`: there is at least one stream.
#[derive(Debug)]
pub struct Firehose {
    /// One or more; records are spread over them.
    pub delivery_streams: Vec<String>,
    pub max_record_bytes: usize,
    pub gzip: bool,
}

impl FirehoseFile {
    /// `streams`: the command line's (comma-separated), which win over the
    /// file's. `None` when no stream is set: CloudWatch only.
    pub fn resolve(self, streams: Option<String>) -> Result<Option<Firehose>, String> {
        let names = match (streams, self.delivery_stream, self.delivery_streams) {
            (Some(flag), _, _) => flag.split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>(),
            (None, Some(_), Some(_)) => {
                return Err("firehose.delivery_stream and firehose.delivery_streams exclude each other".into());
            }
            (None, None, None) => return Ok(None),
            (None, one, many) => many.or(one.map(|s| vec![s])).unwrap_or_default(),
        };
        if names.is_empty() {
            return Err("firehose.delivery_streams: name at least one stream".into());
        }
        for name in &names {
            check_delivery_stream(name)?;
        }
        let max_record_bytes = self.max_record_bytes;
        if !(1024..=MAX_RECORD_BYTES).contains(&max_record_bytes) {
            return Err(format!(
                "firehose.max_record_bytes {max_record_bytes}: 1024 to {MAX_RECORD_BYTES}"
            ));
        }
        Ok(Some(Firehose {
            delivery_streams: names,
            max_record_bytes,
            gzip: self.gzip,
        }))
    }
}

impl DeadLetterFile {
    /// Where dead letters go; `None`: only the proxy's own log (error level).
    pub fn resolve(self, firehose: Option<&Firehose>) -> Result<Option<String>, String> {
        match self.delivery_stream {
            Some(name) => check_delivery_stream(&name).map(|()| Some(name)),
            None => Ok(firehose.and_then(|f| f.delivery_streams.first().cloned())),
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
