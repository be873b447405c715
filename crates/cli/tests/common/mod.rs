//! What every end-to-end test of the `floodgate` binary needs: a command on a data directory,
//! isolated from the caller's environment, and assertions on its exit code.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `floodgate --data-dir DATA --quiet`, with no configuration leaking in from the environment.
pub(crate) fn floodgate(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_floodgate"));
    c.arg("--data-dir").arg(data).arg("--quiet");
    for var in [
        "FLOODGATE_DATA",
        "FLOODGATE_CONFIG",
        "FLOODGATE_ASSETS",
        "FLOODGATE_UNIHAN",
        "FLOODGATE_TEST_BLOCK_DELAY_MS",
        "FLOODGATE_MAX_UNWIND",
    ] {
        c.env_remove(var);
    }
    c
}

/// Asserts success; returns stdout.
#[track_caller]
pub(crate) fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Asserts exit code 2 (an error); returns stderr.
#[track_caller]
pub(crate) fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "expected exit 2\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("stderr is UTF-8")
}

/// The real Bitcoin blocks 0–438 in `blk*.dat` framing, when the test data is present.
pub(crate) fn blk_0_438() -> Option<PathBuf> {
    floodgate_testdata::file("bitcoin/raw-blocks/mainnet_blocks_0-438.blk.dat")
}
