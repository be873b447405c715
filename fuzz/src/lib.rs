//! Helpers shared by the fuzz targets: most readers take a path, so the input is written to a
//! file named as the reader expects, in a directory private to the fuzzing process.

use std::path::{Path, PathBuf};

/// A directory for this process's input files.
fn dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("floodgate-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir is writable");
        d
    })
}

/// Writes `data` to `<dir>/<name>` and calls `f` with the path.
pub fn with_file<T>(name: &str, data: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    let path = dir().join(name);
    std::fs::write(&path, data).expect("temp file is writable");
    f(&path)
}

/// Writes `data` to `<dir>/<sub>/<name>` and calls `f` with the directory.
pub fn with_dir_file<T>(sub: &str, name: &str, data: &[u8], f: impl FnOnce(&Path) -> T) -> T {
    let d = dir().join(sub);
    std::fs::create_dir_all(&d).expect("temp dir is writable");
    std::fs::write(d.join(name), data).expect("temp file is writable");
    f(&d)
}

/// A sink that drops every block (the readers' own checks are what is fuzzed).
pub fn sink(
) -> impl FnMut(floodgate_types::ChainBlock, u64) -> Result<(), floodgate_ingest::SinkError> {
    |_, _| Ok(())
}
