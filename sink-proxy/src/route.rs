//! Where a record goes and what each destination receives.
//!
//! Every record goes to Firehose as one JSON line. A record carrying the
//! error mark (`"log_class":"error"` by default, set by the filter module)
//! also goes to CloudWatch Logs, to a stream named by a template, as a
//! message shaped by [`MessageFormat`].

use crate::fields::Fields;
use serde_json::{Map, Value};

/// CloudWatch stream names: 1 to 512 characters, without `:` or `*`.
pub const MAX_STREAM_NAME_CHARS: usize = 512;

/// The error mark the filter module adds (`[route]` in the config file).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mark {
    pub field: String,
    pub value: String,
}

impl Default for Mark {
    fn default() -> Self {
        Self {
            field: "log_class".into(),
            value: "error".into(),
        }
    }
}

impl Mark {
    /// `[route]` checked: both set.
    pub fn resolve(self) -> Result<Self, String> {
        if self.field.is_empty() || self.value.is_empty() {
            return Err("route.field and route.value must not be empty (the filter's mark, log_class = error)".into());
        }
        Ok(self)
    }

    pub fn is_marked(&self, record: &Fields<'_>) -> bool {
        record.str(&self.field).as_deref() == Some(self.value.as_str())
    }
}

/// A log stream name template: literal text with `{tag}` (the chunk's tag)
/// and `{field}` (a top-level field of the record) placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Tag,
    Field(String),
}

impl StreamTemplate {
    /// One stream per container of a task, like the classic
    /// `log_stream_prefix` (FireLens tags are `<container>-firelens-<task id>`).
    pub const DEFAULT: &'static str = "{tag}";

    pub fn parse(template: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Literal(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("log stream template {template:?}: unclosed '{{'"))?;
            let name = after[..close].trim();
            if name.is_empty() || name.contains('{') {
                return Err(format!("log stream template {template:?}: empty or nested placeholder"));
            }
            parts.push(if name == "tag" {
                Part::Tag
            } else {
                Part::Field(name.to_owned())
            });
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        if parts.is_empty() {
            return Err("log stream template is empty".into());
        }
        if parts
            .iter()
            .any(|p| matches!(p, Part::Literal(l) if l.contains([':', '*'])))
        {
            return Err(format!(
                "log stream template {template:?}: ':' and '*' are not allowed in stream names"
            ));
        }
        Ok(Self { parts })
    }

    /// The stream name for a record: a missing or non-string field renders
    /// as `unknown`; forbidden characters become `_`; at most 512 characters.
    pub fn render(&self, record: &Fields<'_>, tag: &str) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Literal(l) => out.push_str(l),
                Part::Tag => out.push_str(if tag.is_empty() { "unknown" } else { tag }),
                Part::Field(f) => match record.str(f) {
                    Some(s) if !s.is_empty() => out.push_str(&s),
                    Some(_) => out.push_str("unknown"),
                    None => match record.value(f) {
                        Some(Value::Number(n)) => out.push_str(&n.to_string()),
                        _ => out.push_str("unknown"),
                    },
                },
            }
        }
        out.chars()
            .map(|c| if c == ':' || c == '*' { '_' } else { c })
            .take(MAX_STREAM_NAME_CHARS)
            .collect()
    }
}

/// What a CloudWatch event's message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageFormat {
    /// The record as JSON without these keys (the classic setup removed the
    /// ECS metadata keys).
    RecordWithout(Vec<String>),
    /// Just this key's value (`log`): a string as is, anything else as JSON.
    /// A record without the key is sent whole, never as an empty message.
    Key(String),
}

impl Default for MessageFormat {
    fn default() -> Self {
        Self::RecordWithout(
            ["ecs_cluster", "ecs_task_arn", "ecs_task_definition"]
                .into_iter()
                .map(String::from)
                .collect(),
        )
    }
}

impl MessageFormat {
    /// The message for `record`. The event carries the record's time, so the
    /// time key Fluent Bit adds (`date_key`) is left out of a record message.
    pub fn render(&self, record: &Fields<'_>, date_key: &str) -> String {
        let mut out = String::new();
        match self {
            Self::RecordWithout(keys) => {
                record.write_without(|k| k == date_key || keys.iter().any(|o| o == k), &mut out);
            }
            // Never an empty message: the whole record instead.
            Self::Key(key) => match record.text(key) {
                Some(text) => out.push_str(&text),
                None => record.write_without(|_| false, &mut out),
            },
        }
        out
    }
}

/// The Firehose line for a record: its JSON, without a newline (the packer adds it).
pub fn firehose_line(record: &Map<String, Value>) -> Vec<u8> {
    Value::Object(record.clone()).to_string().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A record's line, read as [`Fields`] by `fields`.
    fn rec(v: Value) -> String {
        v.to_string()
    }

    fn fields(line: &str) -> Fields<'_> {
        Fields::parse(line.as_bytes()).unwrap()
    }

    #[test]
    fn mark_detection_is_exact() {
        let m = Mark::default();
        assert!(m.is_marked(&fields(&rec(json!({"log": "x", "log_class": "error"})))));
        assert!(!m.is_marked(&fields(&rec(json!({"log": "ERROR x"})))));
        assert!(!m.is_marked(&fields(&rec(json!({"log_class": "errors"})))));
        assert!(!m.is_marked(&fields(&rec(json!({"log_class": ["error"]})))));
        let custom = Mark {
            field: "severity_class".into(),
            value: "alert".into(),
        };
        assert!(custom.is_marked(&fields(&rec(json!({"severity_class": "alert"})))));
    }

    #[test]
    fn stream_templates() {
        let r = rec(json!({"container_name": "web", "ecs_task_arn": "arn:aws:ecs:eu-west-1:1:task/c/abc", "n": 7}));
        let t = StreamTemplate::parse(StreamTemplate::DEFAULT).unwrap();
        assert_eq!(t.render(&fields(&r), "web-firelens-abc"), "web-firelens-abc");
        let t = StreamTemplate::parse("ecs/{container_name}/{ecs_task_arn}").unwrap();
        assert_eq!(t.render(&fields(&r), "t"), "ecs/web/arn_aws_ecs_eu-west-1_1_task/c/abc");
        let t = StreamTemplate::parse("{missing}-{n}-{ tag }").unwrap();
        assert_eq!(t.render(&fields(&r), ""), "unknown-7-unknown");
        let long = rec(json!({"x": "\u{30a8}".repeat(600)}));
        assert_eq!(
            StreamTemplate::parse("{x}")
                .unwrap()
                .render(&fields(&long), "t")
                .chars()
                .count(),
            512
        );
        for bad in ["", "a{", "a{}", "x:{tag}", "{a{b}}", "*"] {
            assert!(StreamTemplate::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn messages() {
        let r = rec(
            json!({"date": 1.5, "container_name": "web", "log": "ERROR x", "ecs_cluster": "c", "ecs_task_arn": "a", "log_class": "error"}),
        );
        assert_eq!(
            MessageFormat::default().render(&fields(&r), "date"),
            r#"{"container_name":"web","log":"ERROR x","log_class":"error"}"#
        );
        assert_eq!(MessageFormat::Key("log".into()).render(&fields(&r), "date"), "ERROR x");
        let obj = rec(json!({"log": {"level": "error"}}));
        assert_eq!(
            MessageFormat::Key("log".into()).render(&fields(&obj), "date"),
            r#"{"level":"error"}"#
        );
        // Never an empty message: a missing, empty or null value sends the whole record.
        for r in [
            rec(json!({"msg": "x"})),
            rec(json!({"log": ""})),
            rec(json!({"log": null})),
        ] {
            assert_eq!(MessageFormat::Key("log".into()).render(&fields(&r), "date"), r);
        }
    }

    #[test]
    fn firehose_lines_are_compact_json_in_field_order() {
        let r = json!({"b": 1, "a": "x\ny"}).as_object().unwrap().clone();
        assert_eq!(firehose_line(&r), br#"{"b":1,"a":"x\ny"}"#);
    }
}
