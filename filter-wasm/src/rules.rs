//! Rules are data: this is their file format (TOML), the built-in defaults
//! (the README's "What it decides"), and validation. `Classifier::new` compiles
//! a validated `RulesFile` into the form the per-record path uses.

use serde::Deserialize;
use std::fmt;

/// Where the Wasm module looks for a rules file (through WASI). The shipped
/// Fluent Bit config lists its directory in `Accessible_Paths`.
pub const RULES_DIR: &str = "/fluent-bit/firelens-rules";
pub const RULES_PATH: &str = "/fluent-bit/firelens-rules/rules.toml";

/// Limits of the compiled form (a `u64` bit set of keys, bounded nesting).
pub(crate) const MAX_FIELD_KEYS: usize = 64;
pub(crate) const MAX_KEY_SEGMENTS: usize = 8;
/// Literal patterns (user agents, words, `contains`) are indexed with `u16`.
pub(crate) const MAX_LITERALS: usize = 4096;

/// The whole rules file. Every section and key is optional; what is left out
/// keeps its default. A list given in the file replaces the default list.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RulesFile {
    /// The record key holding the application's log line.
    pub log_key: String,
    pub mark: MarkRules,
    pub health: HealthRules,
    pub error: ErrorRules,
}

/// What an error record gets added.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct MarkRules {
    pub field: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct HealthRules {
    /// Case-sensitive substrings of the log line that identify a health checker.
    pub user_agents: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ErrorRules {
    /// Case-sensitive whole words (`ERROR`, not `ERRORS` or `NO_ERROR`).
    pub words: Vec<String>,
    /// Level names of error or worse, matched in any case: inside brackets
    /// (`[error]`, `[core:crit]`), as logfmt values (`level=error`) and as
    /// structured values (`"level":"ERROR"`).
    pub levels: Vec<String>,
    /// Keys whose value is a level: logfmt keys in the line, and field paths
    /// (`log.level` matches a flat `"log.level"` key or `{"log":{"level":…}}`)
    /// in the record and in a JSON log line.
    pub level_keys: Vec<String>,
    /// Field paths whose numeric value is a pino/bunyan level.
    pub numeric_level_keys: Vec<String>,
    /// A numeric level at or above this is an error (pino/bunyan: 50 error, 60 fatal).
    pub numeric_level_min: i64,
    /// Keys whose value is an HTTP status: logfmt keys and field paths.
    pub status_keys: Vec<String>,
    /// Recognise the status field right after a quoted request line
    /// (Common/Combined Log Format, nginx, Envoy, uvicorn, ...).
    pub access_log: bool,
    /// HTTP statuses in this inclusive range are errors.
    pub status_min: u16,
    pub status_max: u16,
    /// Extra case-sensitive substrings that mark an error (none by default).
    pub contains: Vec<String>,
    /// A joined stack trace is an error: a Python traceback header, a Java
    /// `Exception in thread "` or `Caused by: ` with `\tat ` frames, a Go
    /// `panic: ` with a `goroutine N [running]:` dump.
    pub stack_traces: bool,
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl Default for RulesFile {
    fn default() -> Self {
        Self {
            log_key: "log".into(),
            mark: MarkRules::default(),
            health: HealthRules::default(),
            error: ErrorRules::default(),
        }
    }
}

impl Default for MarkRules {
    fn default() -> Self {
        Self {
            field: "log_class".into(),
            value: "error".into(),
        }
    }
}

impl Default for HealthRules {
    fn default() -> Self {
        Self {
            user_agents: strings(&[
                "ELB-HealthChecker/",
                "Amazon-Route53-Health-Check-Service",
                "kube-probe/",
                "GoogleHC/",
            ]),
        }
    }
}

impl Default for ErrorRules {
    fn default() -> Self {
        Self {
            words: strings(&["ERROR", "FATAL", "CRITICAL", "PANIC", "ALERT", "EMERG", "SEVERE"]),
            levels: strings(&[
                "error",
                "err",
                "fatal",
                "critical",
                "crit",
                "panic",
                "alert",
                "emerg",
                "emergency",
                "severe",
            ]),
            level_keys: strings(&["level", "severity", "lvl", "log.level", "levelname"]),
            numeric_level_keys: strings(&["level"]),
            numeric_level_min: 50,
            status_keys: strings(&[
                "status",
                "status_code",
                "statusCode",
                "http_status",
                "http.status_code",
                "http.response.status_code",
                "res.statusCode",
            ]),
            access_log: true,
            status_min: 400,
            status_max: 599,
            contains: Vec::new(),
            stack_traces: true,
        }
    }
}

/// Why a rules file was refused. The message names the file position or key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesError(pub String);

impl fmt::Display for RulesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RulesError {}

impl RulesFile {
    /// Parses and validates a rules file. Unknown keys are errors, so a typo
    /// can't quietly leave a default in force.
    pub fn from_toml(text: &str) -> Result<Self, RulesError> {
        let rules: Self = toml::from_str(text).map_err(|e| RulesError(e.to_string().trim_end().to_owned()))?;
        rules.validate()?;
        Ok(rules)
    }

    pub fn validate(&self) -> Result<(), RulesError> {
        let err = |m: String| Err(RulesError(m));
        if self.log_key.is_empty() {
            return err("log_key must not be empty".into());
        }
        if self.mark.field.is_empty() {
            return err("mark.field must not be empty".into());
        }
        if self.mark.field == self.log_key {
            return err(format!("mark.field {:?} must differ from log_key", self.mark.field));
        }
        let lists: [(&str, &[String]); 7] = [
            ("health.user_agents", &self.health.user_agents),
            ("error.words", &self.error.words),
            ("error.levels", &self.error.levels),
            ("error.level_keys", &self.error.level_keys),
            ("error.numeric_level_keys", &self.error.numeric_level_keys),
            ("error.status_keys", &self.error.status_keys),
            ("error.contains", &self.error.contains),
        ];
        for (name, list) in lists {
            if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
                return err(format!("{name}[{i}] is empty; an empty pattern would match every line"));
            }
        }
        for (i, w) in self.error.levels.iter().enumerate() {
            if !w.bytes().all(|c| c.is_ascii_alphanumeric()) {
                return err(format!("error.levels[{i}] {w:?}: levels are single ASCII words"));
            }
        }
        let keys = [
            ("error.level_keys", &self.error.level_keys),
            ("error.numeric_level_keys", &self.error.numeric_level_keys),
            ("error.status_keys", &self.error.status_keys),
        ];
        for (name, list) in keys {
            for (i, k) in list.iter().enumerate() {
                if k.split('.').any(str::is_empty) || k.contains(['"', '\\', '=', ' ']) {
                    return err(format!(
                        "{name}[{i}] {k:?}: a key is dot-separated names without quotes, spaces or '='"
                    ));
                }
            }
        }
        let mut distinct: Vec<&str> = keys.iter().flat_map(|(_, l)| l.iter().map(String::as_str)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() > MAX_FIELD_KEYS {
            return err(format!(
                "at most {MAX_FIELD_KEYS} distinct level and status keys, got {}",
                distinct.len()
            ));
        }
        if let Some(k) = distinct.iter().find(|k| k.split('.').count() > MAX_KEY_SEGMENTS) {
            return err(format!(
                "key {k:?} has more than {MAX_KEY_SEGMENTS} dot-separated segments"
            ));
        }
        let literals = self.health.user_agents.len() + self.error.words.len() + self.error.contains.len();
        if literals > MAX_LITERALS {
            return err(format!(
                "at most {MAX_LITERALS} user agents, words and contains patterns together, got {literals}"
            ));
        }
        let (lo, hi) = (self.error.status_min, self.error.status_max);
        if !(100..=999).contains(&lo) || !(100..=999).contains(&hi) || lo > hi {
            return err(format!(
                "error.status_min..status_max must be a range of 3-digit codes, got {lo}..{hi}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        assert_eq!(RulesFile::from_toml("").unwrap(), RulesFile::default());
    }

    #[test]
    fn partial_file_keeps_other_defaults() {
        let r = RulesFile::from_toml("[health]\nuser_agents = [\"Pingdom\"]\n").unwrap();
        assert_eq!(r.health.user_agents, vec!["Pingdom"]);
        assert_eq!(r.error, ErrorRules::default());
    }

    #[test]
    fn typos_and_bad_values_are_refused_with_a_useful_message() {
        let cases = [
            ("[helth]\nuser_agents=[]", "helth"),
            ("[error]\nwordz=[\"X\"]", "wordz"),
            ("[error]\nwords=[\"\"]", "error.words[0]"),
            ("[error]\nstatus_min=500\nstatus_max=400", "500..400"),
            ("[error]\nlevels=[\"very bad\"]", "error.levels[0]"),
            ("[error]\nlevel_keys=[\"a..b\"]", "error.level_keys[0]"),
            ("[error]\nlevel_keys=[\"a.b.c.d.e.f.g.h.i\"]", "segments"),
            ("[mark]\nfield=\"log\"", "must differ"),
            (
                &format!("[error]\ncontains=[{}]", vec!["\"x\""; 5000].join(",")),
                "at most 4096",
            ),
            ("log_key = 3", "log_key"),
            ("[error", "error"),
        ];
        for (text, needle) in cases {
            let e = RulesFile::from_toml(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e:?} lacks {needle:?}");
        }
    }
}
