//! ns/record of the filter module through the Fluent Bit host, per class
//! (health, error, other), compiled and interpreted, measured side by side in
//! one run with two floor modules: `copy` (returns every record unchanged,
//! the cheapest possible keep) and `drop` (returns "" at once).
//!
//!   scripts/build-wasm.sh && cargo run --release -p wasm-host --bin filter-bench
//!
//! `--baseline OTHER.wasm` adds another build of the module to the same
//! rounds, for a regression check measured side by side.

use clap::Parser;
use firelens_filter::{Class, Classifier, Memo};
use std::path::PathBuf;
use std::time::Instant;
use wasm_host::corpus;
use wasm_host::{Execution, FilterConfig, WasmFilter, fluent_bit_json};

/// The floor: a filter that does nothing but the round trip.
const FLOOR_WAT: &str = r#"
(module
  (memory (export "memory") 2)
  (func (export "copy") (param i32 i32 i32 i32 i32 i32) (result i32)
    (memory.copy (i32.const 1024) (local.get 4) (local.get 5))
    (i32.store8 (i32.add (i32.const 1024) (local.get 5)) (i32.const 0))
    (i32.const 1024))
  (func (export "drop") (param i32 i32 i32 i32 i32 i32) (result i32)
    (i32.store8 (i32.const 0) (i32.const 0))
    (i32.const 0))
  ;; One pass over the record, 8 bytes per step, flagging '"' (the least a
  ;; classifier must do: a health checker can be anywhere in `log`), then copy.
  (func (export "scan") (param i32 i32 i32 i32 i32 i32) (result i32)
    (local $p i32) (local $end i32) (local $v i64) (local $acc i64)
    (local.set $p (local.get 4))
    (local.set $end (i32.add (local.get 4) (i32.and (local.get 5) (i32.const -8))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $v (i64.xor (i64.load (local.get $p)) (i64.const 0x2222222222222222)))
        (local.set $acc (i64.or (local.get $acc)
          (i64.and (i64.and (i64.sub (local.get $v) (i64.const 0x0101010101010101))
                            (i64.xor (local.get $v) (i64.const -1)))
                   (i64.const 0x8080808080808080))))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $l)))
    (memory.copy (i32.const 1024) (local.get 4) (local.get 5))
    ;; Store 0 computed from the scan so it cannot be optimised away.
    (i32.store8 (i32.add (i32.const 1024) (local.get 5)) (i32.wrap_i64 (i64.and (local.get $acc) (i64.const 0))))
    (i32.const 1024)))
"#;

#[derive(Parser)]
#[command(about = "Benchmark the FireLens filter module through a Fluent Bit-like host")]
struct Args {
    /// Records of the labelled corpus.
    #[arg(long, default_value_t = 20_000)]
    records: usize,
    /// Rounds; the median is reported. Configurations alternate within a round.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Passes over the records of a class per measurement (interpreted: 1/5 of it).
    #[arg(long, default_value_t = 5)]
    passes: usize,
    #[arg(long)]
    module: Option<PathBuf>,
    /// Another build of the module (e.g. from the previous commit), measured
    /// in the same rounds as `baseline`.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Only write the floor module (exports `copy`, `drop` and `scan`) to this file and exit.
    #[arg(long)]
    write_floor: Option<PathBuf>,
}

struct Subject {
    name: &'static str,
    execution: Execution,
    filter: WasmFilter,
}

fn main() -> wasmtime::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.write_floor {
        std::fs::write(path, wat::parse_str(FLOOR_WAT)?)?;
        return Ok(());
    }
    let module_path = args.module.unwrap_or_else(corpus::module_path);
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| wasmtime::format_err!("{}: {e}", p.display()));
    let module = read(&module_path)?;
    let baseline = args.baseline.as_ref().map(read).transpose()?;
    let floor = wat::parse_str(FLOOR_WAT)?;

    let dir = tempdir()?;
    let c = corpus::generate(args.records, 42, &dir).map_err(|e| wasmtime::format_err!("{e}"))?;
    std::fs::remove_dir_all(&dir).ok();
    let inputs: Vec<(Class, Vec<u8>)> = c
        .records
        .iter()
        .zip(&c.labels)
        .map(|(r, l)| (l.parse().unwrap_or(Class::Other), fluent_bit_json(r)))
        .collect();
    let classes = [Class::Health, Class::Error, Class::Other];
    let by_class: Vec<Vec<&[u8]>> = classes
        .iter()
        .map(|k| {
            inputs
                .iter()
                .filter(|(c, _)| c == k)
                .map(|(_, b)| b.as_slice())
                .collect()
        })
        .collect();

    let mut subjects = Vec::new();
    for execution in [Execution::Compiled, Execution::Interpreted] {
        let cfg = |name: &str| FilterConfig {
            function_name: name.into(),
            heap_size: 4_000_000,
            execution,
            ..FilterConfig::default()
        };
        subjects.push(Subject {
            name: "firelens_classify",
            execution,
            filter: WasmFilter::new(&module, &cfg("firelens_classify"))?,
        });
        if let Some(b) = &baseline {
            subjects.push(Subject {
                name: "baseline",
                execution,
                filter: WasmFilter::new(b, &cfg("firelens_classify"))?,
            });
        }
        subjects.push(Subject {
            name: "copy (floor)",
            execution,
            filter: WasmFilter::new(&floor, &cfg("copy"))?,
        });
        subjects.push(Subject {
            name: "drop (floor)",
            execution,
            filter: WasmFilter::new(&floor, &cfg("drop"))?,
        });
    }

    // samples[subject][class] = ns/record per round; native classifier last.
    let mut samples = vec![vec![Vec::new(); 3]; subjects.len() + 1];
    let native = Classifier::builtin();
    // As the module runs it: one memo for the stream.
    let (mut scratch, mut out, mut memo) = (Vec::new(), Vec::new(), Memo::new());
    for _ in 0..args.rounds {
        for (s, subject) in subjects.iter_mut().enumerate() {
            let passes = match subject.execution {
                Execution::Compiled => args.passes,
                Execution::Interpreted => args.passes.div_ceil(5),
            };
            for (k, records) in by_class.iter().enumerate() {
                let start = Instant::now();
                for _ in 0..passes {
                    for r in records {
                        std::hint::black_box(subject.filter.call_raw("app-firelens-1", (0, 0), r));
                    }
                }
                samples[s][k].push(start.elapsed().as_nanos() as f64 / (passes * records.len()) as f64);
            }
        }
        for (k, records) in by_class.iter().enumerate() {
            let start = Instant::now();
            for _ in 0..args.passes {
                for r in records {
                    std::hint::black_box(native.apply_with(r, &mut memo, &mut scratch, &mut out).ok());
                }
            }
            samples[subjects.len()][k].push(start.elapsed().as_nanos() as f64 / (args.passes * records.len()) as f64);
        }
    }

    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let med: Vec<[f64; 3]> = samples
        .iter_mut()
        .map(|s| [median(&mut s[0]), median(&mut s[1]), median(&mut s[2])])
        .collect();
    let counts: Vec<usize> = by_class.iter().map(Vec::len).collect();
    let mix = |m: &[f64; 3]| (0..3).map(|k| m[k] * counts[k] as f64).sum::<f64>() / inputs.len() as f64;

    println!("module: {} ({} bytes)", module_path.display(), module.len());
    println!(
        "corpus: {} records (health {}, error {}, other {}), median of {} rounds, ns/record incl. host call",
        inputs.len(),
        counts[0],
        counts[1],
        counts[2],
        args.rounds
    );
    println!("\n| execution | module | health | error | other | corpus mix |");
    println!("|---|---|---:|---:|---:|---:|");
    for (s, subject) in subjects.iter().enumerate() {
        let m = &med[s];
        println!(
            "| {:?} | {} | {:.0} | {:.0} | {:.0} | {:.0} |",
            subject.execution,
            subject.name,
            m[0],
            m[1],
            m[2],
            mix(m)
        );
    }
    let n = &med[subjects.len()];
    println!(
        "| native (no Wasm) | Classifier::apply_with | {:.0} | {:.0} | {:.0} | {:.0} |",
        n[0],
        n[1],
        n[2],
        mix(n)
    );

    // Executed Wasm instructions: deterministic, what an interpreter pays.
    println!("\nWasm instructions per record (deterministic):");
    println!("| module | health | error | other | corpus mix |");
    println!("|---|---:|---:|---:|---:|");
    let mut counted = vec![("firelens_classify", &module, "firelens_classify")];
    if let Some(b) = &baseline {
        counted.push(("baseline", b, "firelens_classify"));
    }
    counted.extend([("copy (floor)", &floor, "copy"), ("drop (floor)", &floor, "drop")]);
    for (name, wasm, func) in counted {
        let cfg = FilterConfig {
            function_name: func.into(),
            heap_size: 4_000_000,
            count_instructions: true,
            ..FilterConfig::default()
        };
        let mut f = WasmFilter::new(wasm, &cfg)?;
        f.call_raw("t", (0, 0), b"{}"); // first call loads the rules
        let mut per = [0f64; 3];
        for (k, records) in by_class.iter().enumerate() {
            let before = f.instructions();
            for r in records {
                f.call_raw("app-firelens-1", (0, 0), r);
            }
            per[k] = (f.instructions() - before) as f64 / records.len() as f64;
        }
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} |",
            per[0],
            per[1],
            per[2],
            mix(&per)
        );
    }

    println!("\nclassification cost over the round-trip floor (corpus mix):");
    for execution in [Execution::Compiled, Execution::Interpreted] {
        let idx = |name: &str| {
            subjects
                .iter()
                .position(|s| s.execution == execution && s.name == name)
                .unwrap_or(0)
        };
        let (f, copy, drop) = (
            mix(&med[idx("firelens_classify")]),
            mix(&med[idx("copy (floor)")]),
            mix(&med[idx("drop (floor)")]),
        );
        // What "return everything unchanged, drop the health checks" would cost
        // with zero classification work: the floor this module competes with.
        let floor = (med[idx("drop (floor)")][0] * counts[0] as f64
            + med[idx("copy (floor)")][1] * counts[1] as f64
            + med[idx("copy (floor)")][2] * counts[2] as f64)
            / inputs.len() as f64;
        println!(
            "  {execution:?}: module {f:.0} ns, copy-all {copy:.0} ns, drop-all {drop:.0} ns, same-drops floor {floor:.0} ns => module/floor {:.2}x, +{:.0} ns/record of classification",
            f / floor,
            f - floor
        );
        if baseline.is_some() {
            let b = mix(&med[idx("baseline")]);
            println!("    module/baseline {:.3}x ({f:.0} ns vs {b:.0} ns)", f / b);
        }
    }
    Ok(())
}

fn tempdir() -> wasmtime::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("filter-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
