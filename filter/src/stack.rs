//! Running the recursive stages on a stack big enough for any accepted input.
//!
//! Parsing, binding and evaluation recurse once per nesting level, and
//! [`crate::Limits::max_depth`] bounds the levels; but a level of parentheses
//! costs a dozen frames in the parser, and unoptimised builds use kilobytes
//! per frame, so 256 levels do not fit the 2 MiB a tokio blocking thread (or a
//! test thread) has. Rather than trust the caller's stack, any expression that
//! could nest beyond a handful of levels is parsed, and any plan taller than a
//! handful of levels is evaluated, on a scoped thread with a stack sized for
//! the worst case. Its pages are only committed as they are touched, and the
//! common small filter never pays for the thread.

use crate::error::FilterError;

/// Stack given to a deep parse or evaluation: 256 levels at ~16 KiB each in
/// debug builds is 4 MiB; this leaves ample margin.
const BIG_STACK_BYTES: usize = 32 << 20;

/// Runs `f` on a thread with a [`BIG_STACK_BYTES`] stack and returns its result.
pub(crate) fn on_big_stack<T: Send>(
    f: impl FnOnce() -> Result<T, FilterError> + Send,
) -> Result<T, FilterError> {
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name("quiver-filter".into())
            .stack_size(BIG_STACK_BYTES)
            .spawn_scoped(s, f)
            .map_err(|e| FilterError::Eval(format!("cannot start filter thread: {e}")))?;
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}
