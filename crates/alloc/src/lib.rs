//! The memory allocator of floodgate's programs, and the one setting they change in it.
//!
//! Every program (the `floodgate` binary, the benches that measure what it does) declares
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;
//! ```
//!
//! and calls [`tune`] first thing in `main`, before it starts a thread.
//!
//! **Why mimalloc**: glibc's malloc, free and consolidation were 28 % of a durable
//! `floodgate monitor` run's CPU (docs/benchmarks.md). SQLite keeps its own calls to the C
//! library's malloc.
//!
//! **Why a longer purge delay**: mimalloc hands memory freed back to the operating system
//! ("purges" it) one second after it was freed. The exposure index build at 50M transfers frees
//! and grows gigabytes within seconds (the replay's transfer list returns its room as the
//! balances grow; transactions' states are dropped as they make their last transfer): pages
//! handed back were asked for again moments later, and the kernel cleared each one again. With
//! ten seconds, the same build took 0.9× the CPU and the graph build 0.84× the time
//! (docs/benchmarks.md, "The allocator's purge delay"), for about 0.3 GB more at the peak of
//! 10 GB. Memory freed for good is still handed back, ten seconds later.
//!
//! A user's `MIMALLOC_PURGE_DELAY` (mimalloc reads it when the process starts) is kept.

pub use mimalloc::MiMalloc;

/// How long, in milliseconds, memory freed stays with the process before it is handed back
/// to the operating system (mimalloc's default: 1,000).
pub const PURGE_DELAY_MS: i64 = 10_000;

/// `mi_option_purge_delay` in mimalloc 3's `mimalloc.h` (`enum mi_option_e`), which
/// `libmimalloc-sys` does not name; [`purge_delay`]'s test checks that it is the option
/// `MIMALLOC_PURGE_DELAY` sets.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The environment variable through which a user sets the delay instead.
const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Sets mimalloc's purge delay to [`PURGE_DELAY_MS`], unless the user set
/// `MIMALLOC_PURGE_DELAY`. Call it first thing in `main`, before any thread is started.
pub fn tune() {
    if std::env::var_os(PURGE_DELAY_ENV).is_some() {
        return;
    }
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_set` takes two integers and stores the second in mimalloc's table
    // of options; the option number is in the table (checked by the tests). The store is
    // not synchronised with readers in other threads: callers call this before starting any.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}

/// mimalloc's purge delay now, in milliseconds (-1: never).
pub fn purge_delay() -> i64 {
    #[allow(unsafe_code)]
    // SAFETY: `mi_option_get` takes an integer and reads mimalloc's table of options (reading
    // the environment the first time); the option number is in the table.
    let v = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
    // A C `long`: 64 bits here, 32 on some targets.
    #[allow(clippy::useless_conversion)]
    i64::from(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Runs this test binary's test `name` alone in a child process with `env` set.
    fn child(name: &str, env: &[(&str, &str)]) {
        let exe = std::env::current_exe().expect("the test binary");
        let mut cmd = Command::new(exe);
        cmd.args(["--exact", name, "--nocapture"]).env_remove(PURGE_DELAY_ENV);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the child runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{name} failed in the child:\n{text}");
        assert!(text.contains("1 passed"), "{name} did not run in the child:\n{text}");
    }

    /// In a child: `tune` set the delay, or kept the user's.
    #[test]
    fn tuned_in_child() {
        let Some(want) = std::env::var_os("FLOODGATE_ALLOC_WANT") else { return };
        tune();
        let want: i64 = want.to_str().and_then(|w| w.parse().ok()).expect("a number");
        assert_eq!(purge_delay(), want);
    }

    #[test]
    fn tune_sets_the_purge_delay_unless_the_user_did() {
        // Option 15 is the one MIMALLOC_PURGE_DELAY sets: the user's value reads back through
        // it, and `tune` leaves it.
        child(
            "tests::tuned_in_child",
            &[(PURGE_DELAY_ENV, "4321"), ("FLOODGATE_ALLOC_WANT", "4321")],
        );
        // Without it, mimalloc's default (1,000) becomes ours.
        child("tests::tuned_in_child", &[("FLOODGATE_ALLOC_WANT", "10000")]);
    }

    #[test]
    fn the_default_differs_from_ours() {
        // Untuned, in a process where the variable may be unset: mimalloc's own default, so
        // the test above shows `tune` changed something.
        if std::env::var_os(PURGE_DELAY_ENV).is_none() {
            assert_eq!(purge_delay(), 1_000);
        }
    }
}
