//! Snapshots (issue 14 item 6): a restart loads the state saved at the last snapshot and
//! replays only what was stored after it, deciding exactly as an uninterrupted run; a
//! snapshot that cannot be trusted is ignored and the store replayed in full.

use std::path::{Path, PathBuf};

use floodgate_monitor::monitor::{Monitor, Processed, Resume};
use floodgate_monitor::snapshot::{path_for, Snapshot};
use floodgate_types::TenantId;

use super::{decide_all, engine, small_world};

fn snapshot_file(dir: &Path) -> PathBuf {
    path_for(dir, &TenantId::default_tenant())
}

/// Decides `evs` in groups of `group`, committing each.
fn decide_committed(m: &mut Monitor, evs: &[floodgate_monitor::input::MonitorEvent], group: usize) {
    for chunk in evs.chunks(group) {
        for e in chunk {
            assert!(matches!(m.process(e).unwrap(), Processed::Decided(_)), "{}", e.entry.id);
        }
        m.commit().unwrap();
    }
}

#[test]
fn a_restart_loads_the_snapshot_replays_only_the_rest_and_decides_as_an_uninterrupted_run() {
    let w = small_world(21);
    let n = w.events.len();
    assert!(n > 300, "{n} events");
    let (a, b) = (n / 2, n / 2 + 37);
    let mut reference = Monitor::in_memory(engine(&w));
    let want = decide_all(&mut reference, &w.events);

    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    m.set_snapshot_every(0);
    decide_committed(&mut m, &w.events[..a], 25);
    assert!(m.snapshot().unwrap().unwrap() > 0, "a snapshot was written");
    // Decided and committed after the snapshot: the restart must replay these 37.
    decide_committed(&mut m, &w.events[a..b], 10);
    drop(m);

    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: a as u64, replayed: (b - a) as u64 });
    assert_eq!(m.committed(), b as u64);
    // Everything decided before the restart is refused, before and after the snapshot.
    for e in &w.events[..b] {
        assert_eq!(m.process(e).unwrap(), Processed::Duplicate, "{}", e.entry.id);
    }
    let rest = decide_all(&mut m, &w.events[b..]);
    m.commit().unwrap();
    assert_eq!(rest, want[b..], "the same decisions as without a restart");
    assert_eq!(m.decisions_after(0).unwrap(), want, "every decision stored once, in order");
}

#[test]
fn snapshots_are_written_every_n_decisions_and_at_a_clean_end() {
    let w = small_world(22);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    m.set_snapshot_every(100);
    decide_committed(&mut m, &w.events[..250], 10);
    drop(m);
    let snap =
        Snapshot::read(&snapshot_file(dir.path()), &TenantId::default_tenant()).unwrap().unwrap();
    assert_eq!(snap.position.decided, 200, "the last automatic snapshot, at 200 decisions");
    assert_eq!(snap.position.transfer_id, w.events[199].entry.id);

    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: 200, replayed: 50 });
    m.snapshot().unwrap();
    drop(m);
    let m = Monitor::open(engine(&w), dir.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: 250, replayed: 0 }, "nothing to replay");
}

/// A torn or altered snapshot, one of another tenant, and one taken of another store are
/// refused: the store is replayed in full and the decisions are the same.
#[test]
fn a_snapshot_that_cannot_be_trusted_is_ignored_and_the_store_replayed() {
    let w = small_world(23);
    let n = w.events.len();
    let mut reference = Monitor::in_memory(engine(&w));
    let want = decide_all(&mut reference, &w.events);
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    decide_committed(&mut m, &w.events[..n / 2], 20);
    m.snapshot().unwrap();
    drop(m);
    let file = snapshot_file(dir.path());
    let good = std::fs::read(&file).unwrap();
    let tenant = TenantId::default_tenant();

    let mut flipped = good.clone();
    let i = flipped.len() / 2;
    flipped[i] ^= 0x20;
    let torn = good[..good.len() - 9].to_vec();
    let mut version = good.clone();
    version[8] = 9;
    for (what, bytes, says) in [
        ("a flipped bit", flipped, "checksum mismatch"),
        ("a torn file", torn, "torn"),
        ("another layout version", version, "layout version 9"),
    ] {
        std::fs::write(&file, &bytes).unwrap();
        let e = Snapshot::read(&file, &tenant).unwrap_err().to_string();
        assert!(e.contains(says) && e.contains(&file.display().to_string()), "{what}: {e}");
        let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
        assert_eq!(m.resume(), Resume { from_snapshot: 0, replayed: (n / 2) as u64 }, "{what}");
        // Decided but not committed: the next case starts from the same store.
        let rest: Vec<_> = w.events[n / 2..]
            .iter()
            .filter_map(|e| match m.process(e).unwrap() {
                Processed::Decided(d) => Some(*d),
                Processed::Duplicate => None,
            })
            .collect();
        assert_eq!(rest, want[n / 2..], "{what}");
    }

    // Another tenant's snapshot under this tenant's name.
    std::fs::write(&file, &good).unwrap();
    let other = TenantId::new("vasp-b").unwrap();
    let e = Snapshot::read(&file, &other).unwrap_err().to_string();
    assert!(e.contains("tenant 'default', not 'vasp-b'"), "{e}");

    // The same snapshot beside a different store (its position names another transfer).
    let dir2 = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir2.path()).unwrap();
    decide_committed(&mut m, &w.events[n / 2..], 20);
    drop(m);
    std::fs::write(snapshot_file(dir2.path()), &good).unwrap();
    let m = Monitor::open(engine(&w), dir2.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: 0, replayed: (n - n / 2) as u64 });
}

/// Format compatibility: the frozen version-1 snapshot in `tests/data/snapshot-v1` (written
/// by this test with `FLOODGATE_BLESS=1` when missing, then never rewritten; its input is
/// beside it, so a change to the synthetic generator cannot invalidate it) is read by today's
/// code, and resuming from it decides the rest of the input as an uninterrupted run does.
#[test]
fn the_frozen_v1_snapshot_is_read() {
    frozen_snapshot_is_read("snapshot-v1", 1);
}

/// The same for the frozen version-2 snapshot (the last layout with one varint-prefixed
/// string per id, written by the build before layout version 3).
#[test]
fn the_frozen_v2_snapshot_is_read() {
    frozen_snapshot_is_read("snapshot-v2", 2);
}

#[track_caller]
fn frozen_snapshot_is_read(name: &str, version: u32) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    let plain = || {
        floodgate_monitor::engine::Engine::new(
            floodgate_monitor::pack::Pack::builtin_vn(),
            floodgate_types::AssetRegistry::builtin(),
            floodgate_monitor::fiat::RateTable::builtin(),
            floodgate_monitor::customer::CustomerBook::default(),
            std::sync::Arc::new(floodgate_monitor::facts::AddressLists::default()),
        )
    };
    if std::env::var_os("FLOODGATE_BLESS").is_some() && !fixture.join("monitor.db").exists() {
        let w = floodgate_monitor::synth::generate(floodgate_monitor::synth::SynthConfig {
            seed: 24,
            background_customers: 20,
            per_typology: 1,
            days: 6,
        });
        std::fs::create_dir_all(&fixture).unwrap();
        let input: String =
            w.events.iter().map(|e| floodgate_monitor::synth::to_input_line(e) + "\n").collect();
        std::fs::write(fixture.join("input.jsonl"), input).unwrap();
        let mut m = Monitor::open(plain(), &fixture).unwrap();
        decide_committed(&mut m, &w.events[..w.events.len() / 2], 50);
        m.snapshot().unwrap();
        drop(m);
        // Only the database file and the snapshot: no WAL left beside them.
        let conn = rusqlite::Connection::open(fixture.join("monitor.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    }
    let text = std::fs::read_to_string(fixture.join("input.jsonl")).unwrap();
    let reg = floodgate_types::AssetRegistry::builtin();
    let evs: Vec<_> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            floodgate_monitor::input::parse_event(
                Path::new("input.jsonl"),
                i as u64 + 1,
                l,
                &reg,
                None,
            )
            .unwrap()
        })
        .collect();
    let half = evs.len() / 2;
    let copy = || {
        let tmp = tempfile::tempdir().unwrap();
        for f in std::fs::read_dir(&fixture).unwrap() {
            let f = f.unwrap();
            std::fs::copy(f.path(), tmp.path().join(f.file_name())).unwrap();
        }
        tmp
    };
    let tmp = copy();
    let snap = std::fs::read(snapshot_file(tmp.path())).unwrap();
    assert_eq!(
        snap[8..12],
        version.to_le_bytes(),
        "{name} holds a layout-version-{version} snapshot"
    );
    let mut m = Monitor::open(plain(), tmp.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: half as u64, replayed: 0 });
    let mut reference = Monitor::in_memory(plain());
    let want = decide_all(&mut reference, &evs);
    assert_eq!(decide_all(&mut m, &evs[half..]), want[half..]);
    // The old file's rows (JSON inline, decided by the build of their day) and this
    // build's (in `monitor.log`) read as one store: in pages, and replayed in full once the
    // snapshot is gone.
    let stored = m.decisions_after(0).unwrap();
    assert_eq!(stored.len(), evs.len());
    assert_eq!(stored[half..], want[half..]);
    drop(m);
    std::fs::remove_file(snapshot_file(tmp.path())).unwrap();
    let m = Monitor::open(plain(), tmp.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: 0, replayed: evs.len() as u64 });
    assert_eq!(m.decisions_after(0).unwrap(), stored);

    // A clean end with nothing new decided rewrites the old layout in this build's, which
    // the next start reads and resumes from as before.
    let tmp = copy();
    let m = Monitor::open(plain(), tmp.path()).unwrap();
    m.close_at_exit().unwrap();
    let snap = std::fs::read(snapshot_file(tmp.path())).unwrap();
    assert_eq!(snap[8..12], floodgate_monitor::snapshot::VERSION.to_le_bytes());
    let mut m = Monitor::open(plain(), tmp.path()).unwrap();
    assert_eq!(m.resume(), Resume { from_snapshot: half as u64, replayed: 0 });
    assert_eq!(decide_all(&mut m, &evs[half..]), want[half..]);
}
