//! Where the host puts the tag and record it passes in, as WAMR 2.4.1 does
//! (`wasm_runtime_module_malloc`): with the module's own allocator when the
//! module exports `malloc(i32) -> i32` and `free(i32)` (WAMR then creates no
//! app heap at all, whatever `Wasm_Heap_Size` says), else from the app heap
//! of `Wasm_Heap_Size` bytes that WAMR inserts into linear memory.

use crate::Host;
use wasmtime::error::Context;
use wasmtime::{Instance, Memory, Result, Store, TypedFunc, Val, bail};

const PAGE: u64 = 65536;
/// ems allocator: a 4-byte header per object, 8-byte alignment, and a few
/// bytes of padding at the start of the pool.
const EMS_OBJ_HEADER: u32 = 4;
const EMS_POOL_PADDING: u32 = 8;

pub(crate) enum Inputs {
    AppHeap(AppHeap),
    Module {
        malloc: TypedFunc<u32, u32>,
        free: TypedFunc<u32, ()>,
        /// Allocated for the current call, freed after it.
        live: Vec<u32>,
    },
}

impl Inputs {
    pub(crate) fn new(store: &mut Store<Host>, instance: &Instance, memory: Memory, heap_size: u32) -> Result<Self> {
        // WAMR's loader takes them only with exactly these signatures.
        let malloc = instance.get_typed_func::<u32, u32>(&mut *store, "malloc");
        let free = instance.get_typed_func::<u32, ()>(&mut *store, "free");
        Ok(match (malloc, free) {
            (Ok(malloc), Ok(free)) => Inputs::Module {
                malloc,
                free,
                live: Vec::new(),
            },
            _ => Inputs::AppHeap(AppHeap::insert(store, instance, memory, heap_size)?),
        })
    }

    /// `n` bytes, or `None` as WAMR's `module_malloc` returns 0 (a trap in
    /// the module's `malloc` included).
    pub(crate) fn alloc(&mut self, store: &mut Store<Host>, n: u64) -> Option<u32> {
        match self {
            Inputs::AppHeap(heap) => heap.alloc(n),
            Inputs::Module { malloc, live, .. } => {
                let ptr = malloc.call(&mut *store, u32::try_from(n).ok()?).ok()?;
                (ptr != 0).then(|| {
                    live.push(ptr);
                    ptr
                })
            }
        }
    }

    /// After the call: `wasm_runtime_module_free` of each input.
    pub(crate) fn free_all(&mut self, store: &mut Store<Host>) {
        match self {
            Inputs::AppHeap(heap) => heap.reset(),
            Inputs::Module { free, live, .. } => {
                for ptr in live.drain(..) {
                    // WAMR ignores a trap in `free`; so does the host.
                    let _ = free.call(&mut *store, ptr);
                }
            }
        }
    }

    pub(crate) fn heap_size(&self) -> Option<u32> {
        match self {
            Inputs::AppHeap(heap) => Some(heap.size),
            Inputs::Module { .. } => None,
        }
    }
}

/// WAMR's app heap inside linear memory: where it goes and a bump allocator
/// with ems's per-object overhead. Everything is freed after each call, so a
/// bump allocator reset per call allocates exactly what ems would.
pub(crate) struct AppHeap {
    offset: u64,
    size: u32,
    used: u32,
}

impl AppHeap {
    /// `memory_instantiate` in WAMR 2.4.1 (interpreter/wasm_runtime.c): insert
    /// the heap at `__heap_base` when the module exports it below the initial
    /// memory end, else append whole pages (less 1 KiB) after it.
    fn insert(store: &mut Store<Host>, instance: &Instance, memory: Memory, heap_size: u32) -> Result<Self> {
        let heap_size = heap_size.div_ceil(8) * 8;
        let mem_size = memory.data_size(&*store) as u64;
        let heap_base = match instance
            .get_global(&mut *store, "__heap_base")
            .map(|g| g.get(&mut *store))
        {
            Some(Val::I32(v)) => Some(v as u32 as u64).filter(|&b| b < mem_size),
            _ => None,
        };
        let (offset, size, needed_end) = match heap_base {
            Some(base) => {
                let mut end = base + u64::from(heap_size);
                if end.next_multiple_of(PAGE) - end < 1024 {
                    end += 1024;
                }
                (base, heap_size, end)
            }
            None => {
                let pages = u64::from(heap_size).div_ceil(PAGE);
                (mem_size, (pages * PAGE - 1024) as u32, mem_size + pages * PAGE)
            }
        };
        if needed_end > mem_size {
            let grow = (needed_end - mem_size).div_ceil(PAGE);
            memory
                .grow(&mut *store, grow)
                .context("failed to insert app heap into linear memory")?;
        }
        if size < 2 * EMS_POOL_PADDING {
            bail!("app heap too small");
        }
        Ok(Self {
            offset,
            size,
            used: EMS_POOL_PADDING,
        })
    }

    fn reset(&mut self) {
        self.used = EMS_POOL_PADDING;
    }

    fn alloc(&mut self, n: u64) -> Option<u32> {
        let need = (n + u64::from(EMS_OBJ_HEADER)).div_ceil(8) * 8;
        if u64::from(self.used) + need > u64::from(self.size) {
            return None;
        }
        let ptr = self.offset + u64::from(self.used) + u64::from(EMS_OBJ_HEADER);
        self.used += need as u32;
        Some(ptr as u32)
    }
}
