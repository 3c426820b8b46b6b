//! How rapid's own allocator gives memory back: a large invoke payload or
//! response (up to 6 MB, read whole) must not stay in rapid's resident
//! memory once it was answered.
//!
//! glibc's malloc serves blocks of 128 KiB and more with their own mapping,
//! returned to the kernel when freed, but it raises that threshold to the
//! size of every such block freed: after one 5.5 MiB payload, the next ones
//! come from the heap, which is only given back when more than twice that
//! lies free at its top. rapid then kept about 7 MB after large payloads and
//! reached twice the payload at its peak. Fixed thresholds stop that: a
//! block of 1 MiB or more is always a mapping of its own, unmapped when
//! freed, and the heap is trimmed once 1 MiB lies free at its top.

/// A block this large or larger gets its own mapping.
const OWN_MAPPING: i32 = 1024 * 1024;
/// Free memory at the top of the heap past this goes back to the kernel.
const TRIM_ABOVE: i32 = 1024 * 1024;

/// Sets the thresholds; call it first thing in `main` (it affects this
/// process only, not the children it starts).
pub fn return_large_buffers() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters (no pointers, no
    // memory-safety preconditions); it is called before any other thread
    // exists, and an unknown or refused setting leaves malloc as it was.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, OWN_MAPPING);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_ABOVE);
    }
}

/// Gives the heap's free pages back to the kernel, wherever they lie
/// (glibc's `malloc_trim`): for the end of a burst, whose buffers were
/// freed between others still in use. Whether anything was given back.
pub fn give_back_free_memory() -> bool {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks malloc's own free lists under its
    // lock and advises the kernel about free pages; it takes no pointer.
    unsafe {
        libc::malloc_trim(0) == 1
    }
    #[cfg(not(target_env = "gnu"))]
    false
}
