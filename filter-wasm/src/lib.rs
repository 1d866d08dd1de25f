//! FireLens log classification: drop load-balancer health checks, mark errors.
//!
//! The rules compile natively (for tests, the `firelens-rules` CLI and the
//! proxy) and to `wasm32-wasip1`, where `abi.rs` exports them as Fluent Bit's
//! `wasm` filter function `firelens_classify`.
#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(
    test,
    allow(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod classify;
mod escaped;
mod fbjson;
mod fields;
mod http;
mod json;
mod levels;
mod lexis;
mod literals;
mod log_line;
mod memo;
mod prefilter;
pub mod rules;
mod stack;
mod swar;
mod table;
mod text;
mod walk;

#[cfg(target_arch = "wasm32")]
mod abi;

/// Test support shared by the crates that test the rules.
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod testkit;

pub use classify::{Class, Classifier, Decision, OutOfMemory};
#[cfg(not(target_arch = "wasm32"))]
pub use fbjson::fluent_bit_json;
pub use memo::Memo;
pub use rules::{RULES_DIR, RULES_PATH, RulesError, RulesFile};
