//! The JS surface under Node (`wasm-pack test --node`).
#![cfg(target_arch = "wasm32")]

mod common;

bindings_tests!();
