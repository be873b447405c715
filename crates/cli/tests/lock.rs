//! The data directory lock (issue 9, item 11): a second process is refused with the holder's
//! PID and command instead of a raw SQLite error; readers share the directory.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{fails, floodgate, ok};

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// Starts `floodgate monitor -` (it waits on stdin, holding the lock) and waits until it
/// holds the lock.
fn hold(data: &Path, extra: &[&str]) -> Child {
    let child = floodgate(data)
        .args(["monitor", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lock = data.join("floodgate.lock");
    let want = format!("pid {}\n", child.id());
    let start = Instant::now();
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.starts_with(&want)) {
        assert!(start.elapsed() < Duration::from_secs(60), "monitor never took the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

fn ledger(dir: &Path) -> std::path::PathBuf {
    let f = dir.join("ledger.csv");
    std::fs::write(
        &f,
        "id,time,customer_id,direction,asset,amount\nd1,2025-11-03T08:15:00Z,c1,deposit,USDT-TRC20,10\n",
    )
    .unwrap();
    f
}

#[test]
fn a_writer_is_refused_with_the_holders_pid_and_command() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = ledger(dir.path());
    let mut monitor = hold(&data, &[]);
    let pid = monitor.id();
    for args in [vec!["ingest", "ledger", file.to_str().unwrap()], vec!["transfers"]] {
        let err = fails(floodgate(&data).args(&args).output().unwrap());
        assert!(
            err.contains(&format!(
                "data directory {} is in use by process {pid} (",
                data.display()
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("monitor -)"), "names the command: {err}");
        assert!(!err.to_lowercase().contains("sqlite"), "no raw SQLite error: {err}");
    }
    drop(monitor.stdin.take());
    assert!(monitor.wait().unwrap().success());
    // Once the holder is gone (the OS drops the lock with the process), the writer runs.
    ok(floodgate(&data).args(["ingest", "ledger"]).arg(&file).output().unwrap());
    let rows = ok(floodgate(&data).args(["transfers", "--format", "jsonl"]).output().unwrap());
    assert_eq!(rows.lines().count(), 1);
}

#[test]
fn readers_share_the_directory_and_keep_writers_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = ledger(dir.path());
    ok(floodgate(&data).args(["ingest", "ledger"]).arg(&file).output().unwrap());
    // A monitor without state only reads the directory: a shared lock.
    let mut reader = hold(&data, &["--no-state"]);
    let rows = ok(floodgate(&data).args(["transfers", "--format", "jsonl"]).output().unwrap());
    assert_eq!(rows.lines().count(), 1, "a reader runs beside another reader");
    ok(floodgate(&data).args(["status"]).output().unwrap());
    let err = fails(floodgate(&data).args(["ingest", "ledger"]).arg(&file).output().unwrap());
    assert!(err.contains(&format!("in use by process {}", reader.id())), "{err}");
    drop(reader.stdin.take());
    assert!(reader.wait().unwrap().success());
}

#[test]
fn a_reader_does_not_create_a_missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nothing-here");
    let err = fails(floodgate(&data).arg("transfers").output().unwrap());
    assert!(err.contains("no transfer store"), "{err}");
    assert!(!data.exists());
}
