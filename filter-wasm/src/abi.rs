//! The Fluent Bit 4.2 `wasm` filter ABI (`Event_Format json`), kept thin:
//! pointer checks, per-instance state, and the fail-open paths. All
//! classification logic is in `Classifier`.
//!
//! Host contract (Fluent Bit v4.2.2 plugins/filter_wasm/filter_wasm.c and src/wasm/flb_wasm.c):
//! the tag and record are NUL-terminated copies in our linear memory,
//! allocated with the `malloc` we export (build.rs) and freed after the
//! call; the returned C string is copied (`strdup`) before that and never
//! freed, so the output buffer is ours to reuse; `""` drops the record, and
//! a trap drops it too, so nothing here may panic.

use crate::rules::{RULES_DIR, RULES_PATH, RulesFile};
use crate::{Class, Classifier, Memo};
use std::cell::RefCell;
use std::io::{ErrorKind, Read, Write};

struct State {
    classifier: Classifier,
    memo: Memo,
    scratch: Vec<u8>,
    out: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Returned to drop a record.
static EMPTY: [u8; 1] = [0];

/// A rules file larger than this is refused (it is read once, at first call).
const MAX_RULES_BYTES: u64 = 1 << 20;

/// The WASI reactor entry point (proxy-wasm's Rust SDK exports the same):
/// WAMR calls it once, after instantiation and before any filter call. A
/// WASI module that exports neither this nor `_start` makes WAMR log "a
/// module with WASI apis should be either a command or a reactor" at every
/// Fluent Bit start.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: the linker's constructor runner, called once and first, as the
    // reactor ABI requires.
    unsafe { __wasm_call_ctors() }
}

#[unsafe(no_mangle)]
pub extern "C" fn firelens_classify(
    _tag: *const u8,
    _tag_len: u32,
    _time_sec: u32,
    _time_nsec: u32,
    record: *const u8,
    record_len: u32,
) -> *const u8 {
    let Some(rec) = guest_bytes(record, record_len) else {
        // The host could not allocate its copy of the record with our
        // exported malloc (linear memory exhausted, past 4 GiB) and calls us
        // with a null pointer. The record is already gone; Fluent Bit only
        // says so at debug level.
        log(format_args!(
            "ERROR: record of {record_len} bytes did not reach the filter (pointer {record:?}): \
             Fluent Bit could not allocate it in the module's memory; it is lost."
        ));
        return EMPTY.as_ptr();
    };
    // Fluent Bit NUL-terminates its copy of the record and strdup()s our
    // answer before freeing it, so a record kept unchanged can be answered
    // with that copy: nothing is copied.
    let terminated = nul_terminated(record, record_len);
    let result = STATE.try_with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return None;
        };
        let state = slot.get_or_insert_with(|| State {
            classifier: load_rules(),
            memo: Memo::new(),
            scratch: Vec::new(),
            out: Vec::new(),
        });
        let State {
            classifier,
            memo,
            scratch,
            out,
        } = state;
        let d = classifier.decide_with(rec, memo, scratch, out).ok()?;
        if d.class == Class::Health {
            return Some(EMPTY.as_ptr());
        }
        if !d.rewritten {
            // Kept unchanged: the host's copy is the answer (below); a host
            // that did not NUL-terminate it gets ours.
            if terminated {
                return None;
            }
            out.try_reserve(rec.len() + 1).ok()?;
            out.extend_from_slice(rec);
        }
        out.push(0); // room for it was reserved: no allocation here
        Some(out.as_ptr())
    });
    match result {
        Ok(Some(ptr)) => ptr,
        // Kept unchanged, or out of memory for our own buffer: the record itself.
        _ if terminated => record,
        _ => EMPTY.as_ptr(),
    }
}

/// The host's copy of the record ends with the NUL Fluent Bit's
/// `wasm_runtime_module_dup_data(record, len + 1)` copies.
fn nul_terminated(record: *const u8, record_len: u32) -> bool {
    guest_bytes(record, record_len.saturating_add(1)).is_some_and(|b| b.last() == Some(&0))
}

/// The bytes at a host-given pointer, if they lie within linear memory.
fn guest_bytes<'a>(ptr: *const u8, len: u32) -> Option<&'a [u8]> {
    if ptr.is_null() {
        return None;
    }
    let end = (ptr as usize).checked_add(len as usize)?;
    if end > core::arch::wasm32::memory_size(0).checked_mul(65536)? {
        return None;
    }
    // SAFETY: non-null and inside linear memory, which is always readable;
    // the host does not touch it during the call.
    Some(unsafe { core::slice::from_raw_parts(ptr, len as usize) })
}

/// Loaded at the first call: WASI is usable then, and a bad file costs one
/// message, not a failed filter. An invalid file keeps the built-in rules
/// and says so on stderr (Fluent Bit's log) at every start.
fn load_rules() -> Classifier {
    match read_rules_file() {
        Ok(None) => {
            log(format_args!("no rules file at {RULES_PATH}; using the built-in rules"));
            Classifier::builtin()
        }
        Ok(Some(text)) => match RulesFile::from_toml(&text).and_then(|r| Classifier::new(&r)) {
            Ok(c) => {
                log(format_args!("rules loaded from {RULES_PATH}"));
                c
            }
            Err(e) => {
                log(format_args!(
                    "ERROR: invalid rules file {RULES_PATH}: {e}. Using the BUILT-IN rules instead; \
                     check the file with `firelens-rules check`."
                ));
                Classifier::builtin()
            }
        },
        Err(e) => {
            log(format_args!(
                "ERROR: cannot read rules file {RULES_PATH}: {e}. Using the BUILT-IN rules instead; \
                 is {RULES_DIR} listed in the filter's Accessible_Paths?"
            ));
            Classifier::builtin()
        }
    }
}

fn read_rules_file() -> std::io::Result<Option<String>> {
    let file = match std::fs::File::open(RULES_PATH) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.take(MAX_RULES_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_RULES_BYTES {
        return Err(std::io::Error::other(format!("larger than {MAX_RULES_BYTES} bytes")));
    }
    Ok(Some(text))
}

/// One line to stderr, which Fluent Bit shares. Never panics (unlike eprintln!).
fn log(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "[firelens_classify] {args}");
}
