//! Keeping a long-running face-rtsp's memory at what it uses.
//!
//! glibc's allocator gives threads that allocate at the same time separate arenas (up to
//! eight per core) and keeps each arena's high-water mark. face-rtsp has many threads
//! (each camera's ingest, analysis and encoder threads, the RTSP server's, tract's
//! per-face workers) and tract's tensors are large and short-lived, so every arena ends
//! up holding the peak of whichever thread used it last: resident memory grew for
//! hours, to several times the live heap. Two arenas, and the free pages handed back
//! once a minute, keep it flat. Only the binary does this: a plugin must not retune the
//! allocator of the application that loads it (gst-launch-1.0 users can set
//! `MALLOC_ARENA_MAX=2` in the environment to the same effect).

/// Limits the allocator's arenas; call first thing in `main`, before threads start.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // From glibc's malloc.h.
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        // An explicit MALLOC_ARENA_MAX in the environment wins.
        if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
            // SAFETY: mallopt only sets a tunable of the allocator; it is called before
            // any other thread exists.
            unsafe {
                mallopt(M_ARENA_MAX, 2);
            }
        }
    }
}

/// Hands the allocator's free pages back to the system (`malloc_trim`).
pub fn trim() {
    gstface::memory::trim();
}
