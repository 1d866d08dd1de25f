//! Check a rules file before deploying it, and see how it classifies lines.
//!
//!   firelens-rules check rules.toml
//!   some-app | firelens-rules classify --rules rules.toml

use clap::{Parser, Subcommand};
use firelens_filter::{Class, Classifier, RulesFile};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(version, about = "Validate FireLens filter rules and classify sample log lines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a rules file exactly as the Wasm module will read it. Exit 1 if invalid.
    Check { rules: PathBuf },
    /// Classify lines from stdin, printing `health|error|other<TAB>line`.
    /// A line that is a JSON object is taken as a whole FireLens record;
    /// any other line as the record's log line.
    Classify {
        /// Rules file; the built-in rules when left out.
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Take every line as a log line, even one that is JSON.
        #[arg(long)]
        raw: bool,
        /// Print the record the filter would return instead of the input line.
        #[arg(long)]
        output: bool,
    },
}

fn load(path: &Path) -> Result<Classifier, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    RulesFile::from_toml(&text)
        .and_then(|r| Classifier::new(&r))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firelens-rules: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Check { rules } => {
            load(&rules)?;
            println!("{}: OK", rules.display());
            Ok(())
        }
        Command::Classify { rules, raw, output } => {
            let classifier = match rules {
                Some(p) => load(&p)?,
                None => Classifier::builtin(),
            };
            classify_stdin(&classifier, raw, output).map_err(|e| e.to_string())
        }
    }
}

fn classify_stdin(c: &Classifier, raw: bool, output: bool) -> std::io::Result<()> {
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    let mut counts = [0usize; 3];
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().split(b'\n') {
        let mut line = line?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        let is_record = !raw && serde_json::from_slice::<serde_json::Map<_, _>>(&line).is_ok();
        let record = if is_record {
            line.clone()
        } else {
            // Wrap a bare line as Fluent Bit would hand it to the module.
            serde_json::to_vec(&serde_json::json!({ "log": String::from_utf8_lossy(&line) }))?
        };
        let class = c.apply(&record, &mut scratch, &mut out).unwrap_or(Class::Other);
        counts[class as usize] += 1;
        w.write_all(class.as_str().as_bytes())?;
        w.write_all(b"\t")?;
        w.write_all(if output { &out } else { &line })?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    eprintln!(
        "health {} (dropped), error {}, other {}",
        counts[0], counts[1], counts[2]
    );
    Ok(())
}
