//! The preview module's memory allocator: lol_alloc's free list in place of dlmalloc.
//!
//! A preview allocates short-lived strings and vectors of a few sizes and frees them before it
//! returns, so a simple free list reuses them as well as dlmalloc does, and costs the module
//! about 2.7 KB less gzipped (`npm run size`: 102,354 → 99,618 B), at the same speed within
//! noise (`node bench/run.mjs`). The whole package keeps dlmalloc: the store holds data of every
//! size for as long as it is open.

use lol_alloc::{AssumeSingleThreaded, FreeListAllocator};

// SAFETY: `AssumeSingleThreaded` is sound only where one thread uses the allocator: this crate
// is built for wasm32-unknown-unknown without the `atomics` target feature, which has no threads.
#[global_allocator]
static ALLOCATOR: AssumeSingleThreaded<FreeListAllocator> =
    unsafe { AssumeSingleThreaded::new(FreeListAllocator::new()) };
