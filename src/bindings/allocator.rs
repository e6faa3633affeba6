//! The preview module's memory allocator: power-of-two size classes, each with a list of freed
//! blocks, and new blocks cut from the end of the module's memory.
//!
//! A preview allocates many short-lived strings and vectors of a few sizes, and frees them all
//! before it returns; the next preview asks for the same sizes again. A freed block is reused
//! as it is by the next request of its class, so after the first previews nothing grows. The
//! general-purpose allocator Rust links otherwise (dlmalloc) costs the module about 8 KB and
//! each allocation a search, for fragmentation this module's calls do not cause. The store keeps
//! that allocator: it holds data of every size for as long as the store is open.
//!
//! wasm32-unknown-unknown without the `atomics` feature runs one thread, so the allocator's
//! state is never used by two threads; the module is built without it.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::ptr;

/// Bytes in a page of wasm memory, the unit `memory.grow` takes.
const PAGE: usize = 65_536;
/// The smallest block: room for the free list's link.
const MIN_BLOCK: usize = 8;
/// Every block's alignment, unless its layout asks for more.
const BLOCK_ALIGN: usize = 16;
/// Size classes 8 B, 16 B, …, 2 GiB: every size wasm32's 4 GiB memory can hold twice.
const CLASSES: usize = 29;

#[global_allocator]
static ALLOCATOR: SizeClasses =
    SizeClasses(UnsafeCell::new(State { free: [ptr::null_mut(); CLASSES], next: 0, end: 0 }));

struct SizeClasses(UnsafeCell<State>);

struct State {
    /// Per class, the last freed block; each freed block's first word is the one freed before.
    free: [*mut u8; CLASSES],
    /// Where the next new block starts, and the end of the memory grown for new blocks.
    next: usize,
    end: usize,
}

// SAFETY: the module runs on one thread (see the module comment), so the state is never shared.
unsafe impl Sync for SizeClasses {}

/// The class of a layout: the power of two at least its size and its alignment; `None` when
/// there is none.
fn class_of(layout: Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(MIN_BLOCK).checked_next_power_of_two()?;
    let class = (size.trailing_zeros() - MIN_BLOCK.trailing_zeros()) as usize;
    (class < CLASSES).then_some(class)
}

impl State {
    /// A new block of `size` bytes aligned to `align` (a power of two), from the end of memory.
    fn cut(&mut self, size: usize, align: usize) -> *mut u8 {
        let Some(start) = self.next.checked_add(align - 1).map(|n| n & !(align - 1)) else {
            return ptr::null_mut();
        };
        let Some(end) = start.checked_add(size) else { return ptr::null_mut() };
        if end > self.end {
            let pages = (end - self.end.max(start)).div_ceil(PAGE);
            let old_pages = core::arch::wasm32::memory_grow(0, pages);
            if old_pages == usize::MAX {
                return ptr::null_mut();
            }
            let old_end = old_pages * PAGE;
            if old_end != self.end {
                // The first block, or memory grown by something else since: new blocks start in
                // the pages just grown (grown again if the block needs more).
                self.next = old_end;
                self.end = old_end + pages * PAGE;
                return self.cut(size, align);
            }
            self.end = old_end + pages * PAGE;
        }
        self.next = end;
        start as *mut u8
    }
}

// SAFETY: every block handed out is `8 << class` bytes, at least the layout's size, aligned to
// the layout's alignment (see `alloc`), inside memory the module has grown, and handed out once
// until it is freed; a freed block is only reused for a layout of the same class.
unsafe impl GlobalAlloc for SizeClasses {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(class) = class_of(layout) else { return ptr::null_mut() };
        // SAFETY: one thread, and no reference to the state outlives this call.
        let state = unsafe { &mut *self.0.get() };
        let block = state.free[class];
        // A freed block is aligned to BLOCK_ALIGN at least; a layout that asks for more gets a
        // new block.
        if !block.is_null() && layout.align() <= BLOCK_ALIGN {
            // SAFETY: a freed block of this class holds the link written by `dealloc`.
            state.free[class] = unsafe { block.cast::<*mut u8>().read() };
            return block;
        }
        state.cut(MIN_BLOCK << class, layout.align().max(BLOCK_ALIGN))
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // The layout is the one the block was allocated with, so it has a class.
        let Some(class) = class_of(layout) else { return };
        // SAFETY: one thread, and no reference to the state outlives this call.
        let state = unsafe { &mut *self.0.get() };
        // SAFETY: the block is at least MIN_BLOCK bytes and aligned to 8, and no longer in use.
        unsafe { block.cast::<*mut u8>().write(state.free[class]) };
        state.free[class] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: GlobalAlloc's contract: the new size, rounded to the alignment, fits isize.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class_of(new_layout).is_some() && class_of(new_layout) == class_of(layout) {
            return block;
        }
        // SAFETY: as for any allocation; the old block is valid for its size and not reused
        // until it is freed below.
        unsafe {
            let new_block = self.alloc(new_layout);
            if !new_block.is_null() {
                ptr::copy_nonoverlapping(block, new_block, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            new_block
        }
    }
}
