//! Writes the labelled FireLens corpus (see `wasm_host::corpus`):
//! `firelens-corpus N DIR [--seed S]` gives DIR/records.jsonl and
//! DIR/expected.txt (health / error / other, one per record).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
struct Args {
    /// Records to write.
    n: usize,
    /// Directory to write them to (created).
    dir: PathBuf,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match wasm_host::corpus::generate(args.n, args.seed, &args.dir) {
        Ok(c) => {
            eprintln!("{} records in {}", c.records.len(), args.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("firelens-corpus: {e}");
            ExitCode::FAILURE
        }
    }
}
