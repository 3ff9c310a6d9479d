//! The binary's allocator: the system allocator, except that a failed allocation ends the
//! run with a message and an error result instead of Rust's abort (exit 134, a bare
//! "memory allocation failed" and empty stdout, which kpt and Argo CD cannot explain).
//!
//! The output limits (README, "Limits") refuse the runs that would need too much memory
//! before they start; this covers what is left: a memory limit tighter than the defaults
//! assume (a small container, `ulimit -v`). Nothing here may allocate, so the messages are
//! fixed bytes written with `write(2)`.

use std::alloc::{GlobalAlloc, Layout, System};

/// What stdout gets: a ResourceList with one error result and no items, so no host reads
/// the failure as an empty package.
const RESULT: &[u8] = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\nresults:\n- message: \"vmesh ran out of memory; nothing was rendered. Give it more memory, or lower the output limits (maxOutputBytes, maxOutputBytesPerCluster) so that runs this large are refused early\"\n  severity: error\n";
const STDERR: &[u8] = b"vmesh: out of memory: a memory allocation failed; nothing was rendered (give vmesh more memory, or lower maxOutputBytes so that such runs are refused before they start)\n";

/// [`System`], failing closed.
pub struct FailClosed;

// SAFETY: every method forwards to `System` with the same arguments; only a null result is
// handled differently, by ending the process.
unsafe impl GlobalAlloc for FailClosed {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on unchanged.
        let pointer = unsafe { System.alloc(layout) };
        if pointer.is_null() {
            out_of_memory();
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if pointer.is_null() {
            out_of_memory();
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as for `alloc`.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let moved = unsafe { System.realloc(pointer, layout, size) };
        if moved.is_null() {
            out_of_memory();
        }
        moved
    }
}

/// Writes the result and the message, and exits 1 without running destructors or
/// flushing buffers (both may allocate).
fn out_of_memory() -> ! {
    // SAFETY: write(2) and _exit(2) on the standard descriptors with static buffers; no
    // memory is allocated.
    unsafe {
        libc::write(1, RESULT.as_ptr().cast(), RESULT.len());
        libc::write(2, STDERR.as_ptr().cast(), STDERR.len());
        libc::_exit(1)
    }
}
