//! `monitor.log` (schema version 3, ADR 0008): the payload of every decided transfer in an
//! append-only, checksummed record file beside `monitor.db`'s small rows. What a crash
//! between the two leaves is cut on open; a record a committed row names but that a power
//! loss damaged removes that decision and the ones after it, with a warning; an old file's
//! inline rows are read beside the new ones.

use std::path::Path;

use floodgate_monitor::monitor::{Monitor, Resume};
use floodgate_monitor::store::MONITOR_LOG;

use super::{decide_all, engine, small_world};

fn log_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join(MONITOR_LOG)).unwrap().len()
}

/// A monitor left as `kill -9` leaves it: nothing closed, nothing synced at the end.
fn killed(m: Monitor) {
    std::mem::forget(m);
}

/// A group written to the record file whose transaction never committed (a crash between
/// the two) is cut on open, and the stream goes on as an uninterrupted run.
#[test]
fn bytes_past_the_last_committed_record_are_cut_on_open() {
    let w = small_world(31);
    let n = w.events.len();
    let want = decide_all(&mut Monitor::in_memory(engine(&w)), &w.events);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    decide_all(&mut m, &w.events[..n / 2]);
    killed(m);
    let committed = log_len(dir.path());
    // What a crashed writer left: a whole record's worth of bytes past the committed end.
    let mut tail = std::fs::read(dir.path().join(MONITOR_LOG)).unwrap()[16..4096].to_vec();
    tail.extend_from_slice(b"torn");
    let mut log = std::fs::read(dir.path().join(MONITOR_LOG)).unwrap();
    log.extend_from_slice(&tail);
    std::fs::write(dir.path().join(MONITOR_LOG), &log).unwrap();

    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(log_len(dir.path()), committed, "the uncommitted bytes are cut");
    assert_eq!(m.committed(), (n / 2) as u64);
    assert_eq!(decide_all(&mut m, &w.events[n / 2..]), want[n / 2..]);
    assert_eq!(m.decisions_after(0).unwrap(), want, "every decision once, in order");
}

/// A power loss may keep a `monitor.db` commit and lose the record-file write it followed:
/// on open that decision and every one stored after it are removed (the store is as if
/// their commits had been lost), and deciding them again gives the uninterrupted run's
/// decisions. Records checked on open are then synced: the next clean start checks none.
#[test]
fn a_damaged_record_removes_its_decision_and_those_after_it() {
    let w = small_world(32);
    let n = w.events.len();
    let want = decide_all(&mut Monitor::in_memory(engine(&w)), &w.events);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    let (a, b) = (n / 3, 2 * n / 3);
    decide_all(&mut m, &w.events[..a]);
    let cut_at = log_len(dir.path());
    decide_all(&mut m, &w.events[a..b]);
    decide_all(&mut m, &w.events[b..]);
    killed(m);
    // The second group's first record loses a byte of its payload.
    let mut log = std::fs::read(dir.path().join(MONITOR_LOG)).unwrap();
    log[cut_at as usize + 20] ^= 0x01;
    std::fs::write(dir.path().join(MONITOR_LOG), &log).unwrap();

    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(m.committed(), a as u64, "the decisions from the damaged record on are gone");
    assert_eq!(log_len(dir.path()), cut_at, "and their records");
    assert_eq!(m.decisions_after(0).unwrap(), want[..a]);
    assert_eq!(decide_all(&mut m, &w.events[a..]), want[a..], "decided again, the same");
    drop(m);
    let m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: 0, replayed: n as u64 });
    assert_eq!(m.decisions_after(0).unwrap(), want);
}

/// A record that was synced (a clean close syncs the file) is not checked on open; damage
/// to it is an error naming `monitor.log` when it is read, never a silent loss.
#[test]
fn damage_to_a_synced_record_is_reported() {
    let w = small_world(33);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    decide_all(&mut m, &w.events);
    drop(m);
    let mut log = std::fs::read(dir.path().join(MONITOR_LOG)).unwrap();
    let last = log.len() - 3;
    log[last] ^= 0x01;
    std::fs::write(dir.path().join(MONITOR_LOG), &log).unwrap();
    let err = Monitor::open(engine(&w), dir.path()).unwrap_err().to_string();
    assert!(err.contains(MONITOR_LOG) && err.contains("checksum"), "{err}");
    // A record file cut below what the rows name is refused too.
    std::fs::write(dir.path().join(MONITOR_LOG), &log[..log.len() / 2]).unwrap();
    let err = Monitor::open(engine(&w), dir.path()).unwrap_err().to_string();
    assert!(err.contains(MONITOR_LOG) && err.contains("shorter"), "{err}");
}

/// The API's read-only reader sees every decision, wherever it is stored.
#[test]
fn every_stored_decision_is_read_read_only() {
    let w = small_world(34);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    let want = decide_all(&mut m, &w.events);
    let mut got = Vec::new();
    floodgate_monitor::store::for_each_stored_decision(dir.path(), &mut |j| {
        got.push(serde_json::from_str::<floodgate_monitor::decision::Decision>(j).unwrap());
    })
    .unwrap();
    assert_eq!(got, want);
}

/// The read-only reader checks, as the store's own reads do, that a row's record is that
/// row's: two rows whose record offsets were swapped are an error naming `monitor.log` and
/// the transfer, not the two decisions handed out under each other's positions.
#[test]
fn the_read_only_reader_refuses_a_record_of_another_row() {
    let w = small_world(35);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    decide_all(&mut m, &w.events);
    drop(m);
    let db = rusqlite::Connection::open(dir.path().join("monitor.db")).unwrap();
    let (r1, r2): (i64, i64) = db
        .query_row(
            "SELECT (SELECT rec FROM decided WHERE seq = 1), (SELECT rec FROM decided WHERE seq = 2)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    db.execute("UPDATE decided SET rec = ?1 WHERE seq = 1", [r2]).unwrap();
    db.execute("UPDATE decided SET rec = ?1 WHERE seq = 2", [r1]).unwrap();
    drop(db);
    let mut read = 0;
    let err = floodgate_monitor::store::for_each_stored_decision(dir.path(), &mut |_| read += 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains(MONITOR_LOG) && err.contains("position 1"), "{err}");
    assert!(err.contains("position 2"), "names the row the record belongs to: {err}");
    assert_eq!(read, 0, "nothing handed out before the bad row");
}
