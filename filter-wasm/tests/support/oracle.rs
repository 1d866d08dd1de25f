//! A deliberately naive classifier, written from the rules as documented
//! (README "What it decides", `fluent-bit/rules.toml`), sharing no code with
//! the crate: serde_json for the record, plain loops over every position of
//! the log line for the text rules, no prefilter, no anchors, no memo.
//! Only the `RulesFile` (the input) is the crate's.
//!
//! Its domain is what Fluent Bit writes: a record that is a JSON object
//! without duplicate keys. A log line that starts like a JSON object but is
//! not one is outside it (the module reads such a line's members leniently,
//! up to the damage); `classify` says so with `None`.

use firelens_filter::{Class, RulesFile};
use serde_json::{Map, Value};

pub struct Oracle {
    rules: RulesFile,
}

/// What a configured field path is checked for.
#[derive(Clone, Copy, Default)]
struct Kinds {
    level: bool,
    numeric_level: bool,
    status: bool,
}

impl Oracle {
    pub fn new(rules: &RulesFile) -> Self {
        Self { rules: rules.clone() }
    }

    /// The class of a record, or `None` outside the oracle's domain.
    pub fn classify(&self, record: &Map<String, Value>) -> Option<Class> {
        let line = match record.get(&self.rules.log_key) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        if line.is_some_and(|line| {
            self.rules
                .health
                .user_agents
                .iter()
                .any(|ua| line.contains(ua.as_str()))
        }) {
            return Some(Class::Health);
        }
        let mut error = record.iter().any(|(k, v)| self.field_is_error(k, v));
        if let Some(line) = line {
            error = error || self.text_is_error(line.as_bytes());
            if !error && line.trim_start_matches([' ', '\t', '\n', '\r']).starts_with('{') {
                match serde_json::from_str::<Map<String, Value>>(line) {
                    Ok(inner) => error = inner.iter().any(|(k, v)| self.field_is_error(k, v)),
                    Err(_) => return None,
                }
            }
        }
        Some(if error { Class::Error } else { Class::Other })
    }

    /// What the filter must return for `input` (Fluent Bit's JSON of
    /// `record`): `None` for a drop, else the members of the record it
    /// returns, in order.
    pub fn expected(&self, record: &Map<String, Value>, class: Class) -> Option<Vec<(String, Value)>> {
        let mut members: Vec<(String, Value)> = record.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        match class {
            Class::Health => return None,
            Class::Other => {}
            Class::Error => {
                let mark = Value::String(self.rules.mark.value.clone());
                match members.iter_mut().find(|(k, _)| *k == self.rules.mark.field) {
                    Some((_, v)) => *v = mark,
                    None => members.push((self.rules.mark.field.clone(), mark)),
                }
            }
        }
        Some(members)
    }

    // --- structured fields -------------------------------------------------

    fn kinds_of(&self, path: &str) -> Kinds {
        let e = &self.rules.error;
        let has = |list: &[String]| list.iter().any(|k| k == path);
        Kinds {
            level: has(&e.level_keys),
            numeric_level: has(&e.numeric_level_keys),
            status: has(&e.status_keys),
        }
    }

    /// A member of an object (the record, or a JSON log line) that holds a
    /// configured field with an error value. A dotted path `a.b` matches the
    /// flat key `"a.b"`, or the key `a` holding an object in which `b` is
    /// matched the same way.
    fn field_is_error(&self, key: &str, value: &Value) -> bool {
        let e = &self.rules.error;
        e.level_keys
            .iter()
            .chain(&e.numeric_level_keys)
            .chain(&e.status_keys)
            .any(|path| {
                let segments: Vec<&str> = path.split('.').collect();
                self.path_matches(key, value, &segments, self.kinds_of(path))
            })
    }

    fn path_matches(&self, key: &str, value: &Value, segments: &[&str], kinds: Kinds) -> bool {
        if key == segments.join(".") {
            return self.value_is_error(value, kinds);
        }
        match (segments.split_first(), value) {
            (Some((first, rest)), Value::Object(inner)) if !rest.is_empty() && key == *first => {
                inner.iter().any(|(k, v)| self.path_matches(k, v, rest, kinds))
            }
            _ => false,
        }
    }

    fn value_is_error(&self, value: &Value, kinds: Kinds) -> bool {
        let e = &self.rules.error;
        match value {
            // A string JSON must escape is never a level or a status.
            Value::String(s) if s.chars().any(|c| c == '"' || c == '\\' || (c as u32) < 0x20) => false,
            Value::String(s) => {
                (kinds.level && self.is_level(s.trim_matches(|c: char| c.is_ascii_whitespace())))
                    || (kinds.status
                        && s.len() == 3
                        && s.bytes().all(|c| c.is_ascii_digit())
                        && self.status_in_range(s))
            }
            Value::Number(n) => {
                // An integer, or a number with a zero fraction; no exponent.
                let int = match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => Some(i),
                    (None, Some(f)) if f.fract() == 0.0 && f.abs() < 1e15 && !n.to_string().contains(['e', 'E']) => {
                        Some(f as i64)
                    }
                    _ => None,
                };
                int.is_some_and(|i| {
                    (kinds.numeric_level && i >= e.numeric_level_min)
                        || (kinds.status && (i64::from(e.status_min)..=i64::from(e.status_max)).contains(&i))
                })
            }
            _ => false,
        }
    }

    fn is_level(&self, word: &str) -> bool {
        self.rules.error.levels.iter().any(|l| l.eq_ignore_ascii_case(word))
    }

    fn status_in_range(&self, digits: &str) -> bool {
        let e = &self.rules.error;
        digits
            .parse::<u16>()
            .is_ok_and(|s| (e.status_min..=e.status_max).contains(&s))
    }

    // --- the text of the log line -------------------------------------------

    fn text_is_error(&self, t: &[u8]) -> bool {
        let e = &self.rules.error;
        if e.stack_traces && self.is_stack_trace(t) {
            return true;
        }
        let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
        for i in 0..t.len() {
            let rest = &t[i..];
            let before = i.checked_sub(1).map(|p| t[p]);
            for w in &e.words {
                let w = w.as_bytes();
                if rest.starts_with(w) && !before.is_some_and(word) && !rest.get(w.len()).is_some_and(|&c| word(c)) {
                    return true;
                }
            }
            if e.contains.iter().any(|c| rest.starts_with(c.as_bytes())) {
                return true;
            }
            let hit = match t[i] {
                b'[' => !before.is_some_and(word) && self.bracket_is_level(&rest[1..]),
                b'=' => self.logfmt_is_error(&t[..i], &rest[1..]),
                b'"' => e.access_log && self.access_log_is_error(&rest[1..]),
                _ => false,
            };
            if hit {
                return true;
            }
        }
        false
    }

    /// A joined stack trace: a Python traceback header; a Java `Exception in
    /// thread "` or `Caused by: ` with a tab-`at ` frame; a Go `panic: `
    /// followed by a `goroutine N [running]:` line.
    fn is_stack_trace(&self, t: &[u8]) -> bool {
        let text = String::from_utf8_lossy(t);
        if text.contains("Traceback (most recent call last):") {
            return true;
        }
        let java_header = text.contains("Exception in thread \"") || text.contains("Caused by: ");
        if java_header && text.contains("\tat ") {
            return true;
        }
        (0..t.len()).any(|i| {
            let (before, from) = t.split_at(i);
            let Some(rest) = before.strip_suffix(b" ") else {
                return false;
            };
            let number = rest.iter().rev().take_while(|c| c.is_ascii_digit()).count();
            from.starts_with(b"[running]:")
                && number > 0
                && rest[..rest.len() - number].ends_with(b"goroutine ")
                && String::from_utf8_lossy(before).contains("panic: ")
        })
    }

    /// After a `[`: within 32 bytes, a `]`; the text between starts (after
    /// spaces) with a letter, and its last `:`-separated part is a level.
    fn bracket_is_level(&self, after: &[u8]) -> bool {
        let window = &after[..after.len().min(32)];
        let Some(close) = window.iter().position(|&c| c == b']') else {
            return false;
        };
        let inner = std::str::from_utf8(&window[..close]).unwrap_or("\u{0}");
        let inner = inner.trim_matches(|c: char| c.is_ascii_whitespace());
        let starts_with_letter = window
            .iter()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|c| c.is_ascii_alphabetic());
        starts_with_letter && self.is_level(inner.rsplit(':').next().unwrap_or(""))
    }

    /// `key=value`: the key is the run of letters, digits, `_ . -` before the
    /// `=`, at the start of the text or after a space, `, ; | ( [ { " '`; the
    /// value is the run of letters and digits after it (and an optional
    /// opening quote), not followed by `_`.
    fn logfmt_is_error(&self, before: &[u8], after: &[u8]) -> bool {
        let e = &self.rules.error;
        let is_key = |c: &u8| c.is_ascii_alphanumeric() || b"_.-".contains(c);
        let key_len = before.iter().rev().take_while(|c| is_key(c)).count();
        if key_len == 0 {
            return false;
        }
        let key = &before[before.len() - key_len..];
        let before_key = before.len().checked_sub(key_len + 1).map(|p| before[p]);
        if before_key.is_some_and(|c| !(c.is_ascii_whitespace() || b",;|([{\"'".contains(&c))) {
            return false;
        }
        let after = after.strip_prefix(b"\"").unwrap_or(after);
        let value_len = after.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
        if after.get(value_len) == Some(&b'_') {
            return false;
        }
        let (key, value) = (
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(&after[..value_len]),
        );
        let keyed = |list: &[String]| list.iter().any(|k| k.eq_ignore_ascii_case(&key));
        (keyed(&e.level_keys) && self.is_level(&value))
            || (keyed(&e.status_keys)
                && value.len() == 3
                && value.bytes().all(|c| c.is_ascii_digit())
                && self.status_in_range(&value))
    }

    /// After a `"`: a request line (`GET /x HTTP/1.1"`: an upper-case method
    /// of 3 to 16 letters, a space, a target, a space, `HTTP/` and a version
    /// of digits and dots) or nginx's `-"`; then spaces and a status of
    /// exactly three digits, not followed by a letter, digit or `.`.
    fn access_log_is_error(&self, rest: &[u8]) -> bool {
        let after_quote = if rest.starts_with(b"-\"") {
            &rest[2..]
        } else {
            let method = rest.iter().take_while(|c| c.is_ascii_uppercase()).count();
            if !(3..=16).contains(&method) || rest.get(method) != Some(&b' ') {
                return false;
            }
            let Some(q) = rest[method..].iter().position(|&c| c == b'"').map(|q| q + method) else {
                return false;
            };
            let inside = &rest[method..q];
            let Some(last_space) = inside.iter().rposition(|&c| c == b' ') else {
                return false;
            };
            let version = &inside[last_space + 1..];
            let target_ok = last_space > 1;
            let version_ok = version.starts_with(b"HTTP/")
                && version.len() > 5
                && version[5..].iter().all(|c| c.is_ascii_digit() || *c == b'.');
            if !(target_ok && version_ok) {
                return false;
            }
            &rest[q + 1..]
        };
        let spaces = after_quote.iter().take_while(|&&c| c == b' ').count();
        let field = &after_quote[spaces..];
        spaces > 0
            && field.len() >= 3
            && field[..3].iter().all(u8::is_ascii_digit)
            && !field.get(3).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'.')
            && self.status_in_range(std::str::from_utf8(&field[..3]).unwrap_or(""))
    }
}
