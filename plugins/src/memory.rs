//! Handing the allocator's free pages back to the system.
//!
//! glibc's allocator keeps what a thread freed in that thread's arena, at the arena's
//! high-water mark. The elements' models run on many threads (GStreamer's streaming
//! threads, tract's per-face workers) with large short-lived tensors, so every start and
//! stop of a pipeline left a few more megabytes resident that nothing used. `facedetect`
//! trims when it stops, which hands back what is free at the top of each arena; it does
//! not stop the arenas multiplying, so a process that cycles the chain for hours still
//! grows unless it limits them (`MALLOC_ARENA_MAX=2`, as face-rtsp does; see README).
//! Trimming changes no setting of the host application's allocator; it only returns
//! pages that are free.

/// `malloc_trim(0)` where the C library is glibc; nothing elsewhere.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        // SAFETY: malloc_trim takes the allocator's own locks; it is safe to call at any
        // time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}
