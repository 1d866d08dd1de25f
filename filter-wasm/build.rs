//! The module exports wasi-libc's `malloc` and `free` (the allocator Rust's
//! std already uses on wasm32-wasip1). WAMR then allocates the copies of the
//! tag and record that Fluent Bit passes in with them, instead of from a
//! fixed app heap of `Wasm_Heap_Size` bytes, which it disables
//! (`memory_instantiate`, WAMR 2.4.1): a record of any size reaches the
//! filter, where a fixed heap would drop a record larger than itself before
//! the module could see it.
fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=--export=malloc");
        println!("cargo:rustc-link-arg-cdylib=--export=free");
    }
}
