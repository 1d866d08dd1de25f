//! A host that runs a filter module exactly the way Fluent Bit 4.2's `wasm`
//! filter does with `Event_Format json` (src/wasm/flb_wasm.c and
//! plugins/filter_wasm/filter_wasm.c at v4.2.2), on wasmtime:
//!
//! - one instance for the filter's lifetime, WASI preview 1 with the
//!   `Accessible_Paths` directories preopened, no args, no environment;
//!   a reactor's `_initialize` is called once, first;
//! - the NUL-terminated tag and record allocated for each call and freed
//!   after it, where WAMR allocates them ([`inputs`]): with the module's
//!   exported `malloc`/`free` when it has both, else from an app heap of
//!   `Wasm_Heap_Size` bytes; when an allocation fails the function is still
//!   called, with pointer 0, as WAMR's `module_dup_data` returns 0;
//! - the six i32 arguments; the result read as a C string at the returned
//!   address (address 0 included), copied, then the inputs freed;
//! - `""` drops the record, as do a trap, an invalid address, and a result
//!   that is not a JSON object.
//!
//! The record handed in is produced by [`fluent_bit_json`], which escapes
//! strings the way `flb_msgpack_to_json_str` does with the default
//! `json.escape_unicode on`.

pub mod corpus;
mod inputs;
pub use firelens_filter::fluent_bit_json;

use inputs::Inputs;
use std::path::{Path, PathBuf};
use wasmtime::error::Context;
use wasmtime::{Config, Engine, Linker, Memory, Module, Store, TypedFunc};
use wasmtime::{Result, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Fluent Bit's default and minimum `Wasm_Heap_Size` (smaller values are raised to it).
pub const DEFAULT_HEAP_SIZE: u32 = 8 * 1024;

/// How the module's code is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Execution {
    /// Compiled to native code (Cranelift): stands in for a WAMR AOT file.
    Compiled,
    /// Wasmtime's Pulley interpreter: stands in for WAMR's fast interpreter.
    Interpreted,
}

/// The `[FILTER]` settings of the `wasm` filter that matter to a module.
#[derive(Debug, Clone)]
pub struct FilterConfig {
    /// `Function_Name`.
    pub function_name: String,
    /// `Wasm_Heap_Size` in bytes, as Fluent Bit parsed it (`1M` is 1,000,000).
    pub heap_size: u32,
    /// `Accessible_Paths`: (directory on this machine, path the module sees).
    /// Fluent Bit uses the same path for both; tests map a temporary directory.
    pub accessible_paths: Vec<(PathBuf, String)>,
    pub execution: Execution,
    /// The most linear memory the module may have; `None` for wasm32's
    /// 4 GiB. Tests set it to make the module's `malloc` fail.
    pub max_memory_bytes: Option<usize>,
    /// Count executed Wasm instructions (wasmtime fuel): a deterministic
    /// measure of what a record costs an interpreter. Slows calls down.
    pub count_instructions: bool,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            function_name: "firelens_classify".into(),
            heap_size: DEFAULT_HEAP_SIZE,
            accessible_paths: Vec::new(),
            execution: Execution::Compiled,
            max_memory_bytes: None,
            count_instructions: false,
        }
    }
}

/// Why Fluent Bit would drop a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropReason {
    /// The module returned `""`: the filter's way to drop.
    Empty,
    /// The module trapped (`[error] Got exception running wasm code`).
    Trap(String),
    /// The returned address is outside linear memory or has no NUL after it.
    InvalidAddress,
    /// The returned text is not JSON (`[error] invalid JSON format`).
    InvalidJson,
    /// The returned JSON is not an object.
    NotAnObject,
}

/// What the function call gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Returned {
    /// The C string at the returned address (copied, without its NUL).
    Text(Vec<u8>),
    InvalidAddress,
    Trap(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The record continues down the pipeline as this JSON object.
    Kept(Vec<u8>),
    Dropped(DropReason),
}

impl Outcome {
    pub fn kept(&self) -> Option<&[u8]> {
        match self {
            Outcome::Kept(b) => Some(b),
            Outcome::Dropped(_) => None,
        }
    }
}

/// Counters of what happened, for tests to assert on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub calls: u64,
    pub kept: u64,
    pub dropped: u64,
    pub traps: u64,
    /// Inputs that could not be allocated: they did not fit the app heap
    /// (WAMR: `allocate N bytes memory failed`), or the module's `malloc`
    /// returned 0.
    pub heap_alloc_failures: u64,
}

/// A loaded filter module: one instance, like one `[FILTER]` section.
pub struct WasmFilter {
    store: Store<Host>,
    func: TypedFunc<(u32, u32, u32, u32, u32, u32), u32>,
    memory: Memory,
    inputs: Inputs,
    stderr: MemoryOutputPipe,
    pub stats: Stats,
}

/// What the store holds: WASI, and the memory limit.
pub(crate) struct Host {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

pub fn engine(execution: Execution, count_instructions: bool) -> Result<Engine> {
    let mut config = Config::new();
    config.consume_fuel(count_instructions);
    if execution == Execution::Interpreted {
        config.target(if cfg!(target_endian = "little") {
            "pulley64"
        } else {
            "pulley64be"
        })?;
    }
    Engine::new(&config)
}

impl WasmFilter {
    /// Loads and instantiates `wasm` (a module's bytes) as Fluent Bit does at startup.
    pub fn new(wasm: &[u8], config: &FilterConfig) -> Result<Self> {
        let engine = engine(config.execution, config.count_instructions)?;
        let module = Module::new(&engine, wasm).context("loading the Wasm module")?;
        Self::instantiate(&engine, &module, config)
    }

    pub fn from_file(path: &Path, config: &FilterConfig) -> Result<Self> {
        let wasm = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::new(&wasm, config)
    }

    pub fn instantiate(engine: &Engine, module: &Module, config: &FilterConfig) -> Result<Self> {
        let stderr = MemoryOutputPipe::new(64 << 20);
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        for (host, guest) in &config.accessible_paths {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)
                .with_context(|| format!("Accessible_Paths {}", host.display()))?;
        }
        let mut limits = StoreLimitsBuilder::new();
        if let Some(max) = config.max_memory_bytes {
            limits = limits.memory_size(max);
        }
        let host = Host {
            wasi: wasi.build_p1(),
            limits: limits.build(),
        };
        let mut store = Store::new(engine, host);
        store.limiter(|h| &mut h.limits);
        if config.count_instructions {
            store.set_fuel(u64::MAX)?;
        }
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |h: &mut Host| &mut h.wasi)?;
        let instance = linker.instantiate(&mut store, module)?;
        // WAMR runs a WASI reactor's `_initialize` right after instantiation
        // (wasm_runtime.c, execute_post_instantiate_functions).
        if let Some(init) = instance.get_func(&mut store, "_initialize") {
            init.typed::<(), ()>(&store)
                .context("_initialize must take and return nothing")?
                .call(&mut store, ())
                .context("_initialize trapped")?;
        }
        let memory = instance
            .get_memory(&mut store, "memory")
            .context("the module exports no memory")?;
        let func = instance
            .get_typed_func(&mut store, &config.function_name)
            .with_context(|| format!("The {} wasm function is not found.", config.function_name))?;
        let inputs = Inputs::new(&mut store, &instance, memory, config.heap_size.max(DEFAULT_HEAP_SIZE))?;
        Ok(Self {
            store,
            func,
            memory,
            inputs,
            stderr,
            stats: Stats::default(),
        })
    }

    /// One record through the filter, as `flb_wasm_call_function_format_json`
    /// and then `cb_wasm_filter` do. `record_json` must be what Fluent Bit
    /// would pass: see [`fluent_bit_json`].
    pub fn call(&mut self, tag: &str, time: (u32, u32), record_json: &[u8]) -> Outcome {
        let outcome = match self.call_raw(tag, time, record_json) {
            Returned::Trap(msg) => Outcome::Dropped(DropReason::Trap(msg)),
            Returned::InvalidAddress => Outcome::Dropped(DropReason::InvalidAddress),
            Returned::Text(s) if s.is_empty() => Outcome::Dropped(DropReason::Empty),
            Returned::Text(s) => match serde_json::from_slice::<serde_json::Value>(&s) {
                Err(_) => Outcome::Dropped(DropReason::InvalidJson),
                Ok(v) if !v.is_object() => Outcome::Dropped(DropReason::NotAnObject),
                Ok(_) => Outcome::Kept(s),
            },
        };
        match outcome {
            Outcome::Kept(_) => self.stats.kept += 1,
            Outcome::Dropped(_) => self.stats.dropped += 1,
        }
        outcome
    }

    /// The call itself: what the module returned, before Fluent Bit judges it.
    pub fn call_raw(&mut self, tag: &str, time: (u32, u32), record_json: &[u8]) -> Returned {
        self.stats.calls += 1;
        let tag_ptr = self.dup_data(tag.as_bytes());
        let record_ptr = self.dup_data(record_json);
        let args = (
            tag_ptr,
            tag.len() as u32,
            time.0,
            time.1,
            record_ptr,
            record_json.len() as u32,
        );
        let returned = match self.func.call(&mut self.store, args) {
            Err(trap) => {
                self.stats.traps += 1;
                Returned::Trap(format!("{trap:#}"))
            }
            Ok(ret) => self.c_string(ret).map_or(Returned::InvalidAddress, Returned::Text),
        };
        // The inputs are freed only after the result was copied.
        self.inputs.free_all(&mut self.store);
        returned
    }

    /// `wasm_runtime_module_dup_data(data, len + 1)`: a NUL-terminated copy in
    /// linear memory, or 0 when it cannot be allocated.
    fn dup_data(&mut self, data: &[u8]) -> u32 {
        let Some(ptr) = self.inputs.alloc(&mut self.store, data.len() as u64 + 1) else {
            self.stats.heap_alloc_failures += 1;
            return 0;
        };
        let mem = self.memory.data_mut(&mut self.store);
        let start = ptr as usize;
        mem[start..start + data.len()].copy_from_slice(data);
        mem[start + data.len()] = 0;
        ptr
    }

    /// `wasm_runtime_validate_app_str_addr` + `strdup`.
    fn c_string(&self, addr: u32) -> Option<Vec<u8>> {
        let mem = self.memory.data(&self.store);
        let tail = mem.get(addr as usize..)?;
        let len = tail.iter().position(|&b| b == 0)?;
        Some(tail[..len].to_vec())
    }

    /// Wasm instructions executed so far (with `count_instructions`), else 0.
    pub fn instructions(&self) -> u64 {
        self.store.get_fuel().map_or(0, |left| u64::MAX - left)
    }

    /// Size of the module's linear memory in bytes.
    pub fn memory_size(&self) -> u64 {
        self.memory.data_size(&self.store) as u64
    }

    /// Everything the module wrote to stderr so far (Fluent Bit's log).
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).into_owned()
    }

    /// The app heap's usable bytes, for tests sizing records around it;
    /// `None` when the module allocates its inputs itself.
    pub fn heap_size(&self) -> Option<u32> {
        self.inputs.heap_size()
    }
}
