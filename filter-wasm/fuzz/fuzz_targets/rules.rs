//! Any text as a rules file: refused with an error or compiled, never a panic;
//! compiled rules then classify without panicking.
#![no_main]

use firelens_filter::{Classifier, RulesFile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rules) = RulesFile::from_toml(text) else { return };
    let c = Classifier::new(&rules).expect("validated rules compile");
    let mut scratch = Vec::new();
    for line in [
        &br#"{"log":"ERROR x","level":"error"}"#[..],
        br#"{"log":"\"GET / HTTP/1.1\" 503 1 level=fatal [crit]"}"#,
        data,
    ] {
        c.classify(line, &mut scratch);
    }
});
