//! `[ingest]`: how chunks are received.

use crate::secret::Secret;
use firelens_filter::RulesFile;
use serde::Deserialize;
use std::time::Duration;

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
    /// The filter module's rules file (rules.toml), for chunks that ask the
    /// proxy to classify them ([`CLASSIFY_HEADER`]); default: the file the
    /// module reads in the image ([`firelens_filter::RULES_PATH`]) if there
    /// is one, else the built-in rules.
    pub rules_file: Option<std::path::PathBuf>,
}

/// A chunk with this header set to `on` is classified by the proxy, with the
/// filter module's rules, instead of by the module in Fluent Bit: the
/// include that sends it has no Wasm filter.
pub const CLASSIFY_HEADER: &str = "X-Sink-Proxy-Classify";

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
            rules_file: None,
        }
    }
}

/// Validated `[ingest]`.
#[derive(Debug)]
pub struct Ingest {
    pub path: String,
    pub max_body_bytes: usize,
    pub max_decoded_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub tag_header: String,
    pub date_key: String,
    /// A header every chunk must carry, with this value.
    pub token: Option<Token>,
    /// The rules for chunks the proxy classifies...
    pub rules: RulesFile,
    /// ...read from this file (`None`: the built-in rules).
    pub rules_file: Option<std::path::PathBuf>,
}

#[derive(Debug)]
pub struct Token {
    pub header: String,
    pub value: Secret,
}

impl IngestFile {
    pub fn resolve(self, env: &impl Fn(&str) -> Option<String>) -> Result<Ingest, String> {
        self.resolve_with(env, std::path::Path::new(firelens_filter::RULES_PATH))
    }

    /// `image_rules`: where the module reads its rules. A derived image that
    /// puts its own file there changes the rules of both includes, so the
    /// proxy classifies with that file too unless told otherwise.
    fn resolve_with(
        mut self,
        env: &impl Fn(&str) -> Option<String>,
        image_rules: &std::path::Path,
    ) -> Result<Ingest, String> {
        if self.rules_file.is_none() && image_rules.is_file() {
            self.rules_file = Some(image_rules.to_owned());
        }
        if !self.path.starts_with('/') {
            return Err(format!("ingest.path {:?} must start with '/'", self.path));
        }
        if self.body_timeout_secs == 0 || self.header_timeout_secs == 0 {
            return Err("ingest.header_timeout_secs and ingest.body_timeout_secs must be above 0".into());
        }
        if self.max_body_bytes == 0 || self.max_decoded_bytes < self.max_body_bytes {
            return Err("ingest.max_decoded_bytes must be at least ingest.max_body_bytes, both above 0".into());
        }
        let token = match (self.token_header, self.token_env) {
            (None, None) => None,
            (Some(header), Some(var)) => {
                let value = env(&var)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| format!("ingest.token_env: environment variable {var} is not set"))?;
                Some(Token {
                    header,
                    value: Secret::new(value),
                })
            }
            _ => return Err("ingest.token_header and ingest.token_env go together".into()),
        };
        let rules = match &self.rules_file {
            None => RulesFile::default(),
            Some(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| format!("ingest.rules_file {}: {e}", path.display()))?;
                let rules =
                    RulesFile::from_toml(&text).map_err(|e| format!("ingest.rules_file {}: {e}", path.display()))?;
                rules
                    .validate()
                    .map_err(|e| format!("ingest.rules_file {}: {e}", path.display()))?;
                rules
            }
        };
        Ok(Ingest {
            rules,
            rules_file: self.rules_file,
            path: self.path,
            max_body_bytes: self.max_body_bytes,
            max_decoded_bytes: self.max_decoded_bytes,
            header_timeout: Duration::from_secs(self.header_timeout_secs),
            body_timeout: Duration::from_secs(self.body_timeout_secs),
            tag_header: self.tag_header,
            date_key: self.date_key,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without `rules_file`, the module's file in the image is used when
    /// there is one, so a derived image's rules hold for either include.
    #[test]
    fn rules_default_to_the_image_file_if_present() {
        let no_env = |_: &str| None;
        let dir = std::env::temp_dir().join(format!("sink-proxy-image-rules-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let image = dir.join("rules.toml");
        let missing = IngestFile::default().resolve_with(&no_env, &image).unwrap();
        assert_eq!(
            (missing.rules_file, missing.rules.error.words),
            (None, RulesFile::default().error.words)
        );
        std::fs::write(&image, "[error]\nwords = [\"OOPS\"]\n").unwrap();
        let found = IngestFile::default().resolve_with(&no_env, &image).unwrap();
        assert_eq!(found.rules_file.as_deref(), Some(image.as_path()));
        assert_eq!(found.rules.error.words, ["OOPS"]);
        let other = dir.join("other.toml");
        std::fs::write(&other, "[error]\nwords = [\"MINE\"]\n").unwrap();
        let set = IngestFile {
            rules_file: Some(other.clone()),
            ..IngestFile::default()
        };
        assert_eq!(
            set.resolve_with(&no_env, &image).unwrap().rules.error.words,
            ["MINE"],
            "a set rules_file wins"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
