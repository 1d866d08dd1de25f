//! The shared FireLens corpus (shared/corpus/gen_firelens.py), generated on demand.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `shared/` beside the repository, or `$FIRELENS_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("FIRELENS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared"))
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The built filter module (scripts/build-wasm.sh), or `$FIRELENS_WASM`.
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FIRELENS_WASM") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace_root().join("target"), PathBuf::from);
    target.join("wasm32-wasip1/wasm/firelens_filter.wasm")
}

pub struct Corpus {
    /// Each record as the generator wrote it (one JSON object per line).
    pub records: Vec<serde_json::Value>,
    /// `health`, `error` or `other`, one per record.
    pub labels: Vec<String>,
}

/// Runs the generator for `n` records with `seed` into `dir`.
pub fn generate(n: usize, seed: u64, dir: &Path) -> Result<Corpus, String> {
    let script = shared_dir().join("corpus/gen_firelens.py");
    let status = Command::new("python3")
        .arg(&script)
        .arg(n.to_string())
        .arg(dir)
        .args(["--seed", &seed.to_string()])
        .status()
        .map_err(|e| format!("running {}: {e}", script.display()))?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()));
    }
    load(dir)
}

/// Reads `records.jsonl` and `expected.txt` from `dir`.
pub fn load(dir: &Path) -> Result<Corpus, String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(|e| format!("{name}: {e}"));
    let records = read("records.jsonl")?
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("records.jsonl: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let labels: Vec<String> = read("expected.txt")?.lines().map(str::to_owned).collect();
    if labels.len() != records.len() {
        return Err(format!("{} records but {} labels", records.len(), labels.len()));
    }
    Ok(Corpus { records, labels })
}

/// A deterministic xorshift64 stream for mutation tests: the same seed gives
/// the same inputs on every run.
pub fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
