//! The preview module's memory allocator.
use lol_alloc::{AssumeSingleThreaded, FreeListAllocator};

// SAFETY: wasm32-unknown-unknown without the `atomics` feature runs one thread.
#[global_allocator]
static ALLOCATOR: AssumeSingleThreaded<FreeListAllocator> =
    unsafe { AssumeSingleThreaded::new(FreeListAllocator::new()) };
