//! Finds the real public test data that floodgate's tests and benchmarks read.
//!
//! The data lives outside the repository (it is tens of megabytes, with its provenance in
//! `SOURCES.md`): in `$FLOODGATE_TEST_DATA`, or in `../shared/data` beside the checkout. When
//! it is absent, real-data tests say so loudly and skip; with `FLOODGATE_REQUIRE_TEST_DATA=1`
//! (which `.ci/run` sets) they fail instead.
//!
//! ```no_run
//! let Some(dir) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
//! assert!(dir.join("mainnet_block_227835.raw").exists());
//! ```

use std::path::PathBuf;

/// The root of the test data, if present.
pub fn root() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOODGATE_TEST_DATA") {
        let p = PathBuf::from(p);
        return p.is_dir().then_some(p);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidate = here.join("../../../shared/data");
    candidate.is_dir().then_some(candidate)
}

/// A subdirectory or file of the test data. Returns `None` (after printing a loud notice to
/// stderr) when the data is absent, and panics when it is absent but required.
///
/// # Panics
/// When `FLOODGATE_REQUIRE_TEST_DATA=1` and the data is missing.
pub fn dir(rel: &str) -> Option<PathBuf> {
    let found = root().map(|r| r.join(rel)).filter(|p| p.exists());
    if found.is_none() {
        let msg = format!(
            "REAL-DATA TEST SKIPPED: test data '{rel}' not found (set FLOODGATE_TEST_DATA or put the shared data at ../shared/data)"
        );
        if std::env::var("FLOODGATE_REQUIRE_TEST_DATA").is_ok_and(|v| v == "1") {
            panic!("{msg}; FLOODGATE_REQUIRE_TEST_DATA=1 makes this a failure");
        }
        // Printing is the point here: a skipped real-data test must be visible.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("{msg}");
        }
    }
    found
}

/// A file of the test data, as [`dir`].
///
/// # Panics
/// As [`dir`].
pub fn file(rel: &str) -> Option<PathBuf> {
    dir(rel)
}
