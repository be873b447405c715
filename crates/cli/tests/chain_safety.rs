//! Issue 9, chain-input safety, end to end on the real binary: corrupted blocks, another
//! network's blocks and deep unwinds are refused with exit code 2 and leave the store as it was.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{blk_0_438, fails, floodgate, ok};

fn status(data: &Path) -> String {
    ok(floodgate(data).args(["status", "--format", "json"]).output().unwrap())
}

/// Item 3: a generated world's blocks never delete mainnet blocks (they used to "reorg" at
/// genesis and remove all of them), and mainnet blocks are refused by a generated world's store.
#[test]
fn issue_9_another_networks_blocks_are_refused_both_ways() {
    let Some(blk) = blk_0_438() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (main, genned, world) =
        (tmp.path().join("main"), tmp.path().join("gen"), tmp.path().join("world"));
    ok(floodgate(&main).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    ok(floodgate(&genned)
        .args(["gen", "--transfers", "2000", "--seed", "3", "--out"])
        .arg(&world)
        .output()
        .unwrap());
    let before = status(&main);
    assert!(before.contains("\"blocks\": 439"), "{before}");

    let err = fails(
        floodgate(&main).args(["ingest", "bitcoin"]).arg(world.join("bitcoin")).output().unwrap(),
    );
    assert!(err.contains("mainnet") && err.contains("floodgate-gen"), "{err}");
    // Said once: the ingest error quotes the store's refusal, which is also its source.
    assert_eq!(err.matches("use another --data-dir").count(), 1, "{err}");
    assert_eq!(status(&main), before, "the mainnet store changed");

    // The world ingests into its own directory, which then refuses mainnet.
    ok(floodgate(&genned).args(["ingest", "bitcoin"]).arg(world.join("bitcoin")).output().unwrap());
    let gen_before = status(&genned);
    let err = fails(floodgate(&genned).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    assert!(err.contains("mainnet") && err.contains("floodgate-gen"), "{err}");
    assert_eq!(status(&genned), gen_before);

    // A second world (another seed: another genesis) is another chain too.
    let other = tmp.path().join("other");
    ok(floodgate(&tmp.path().join("x"))
        .args(["gen", "--transfers", "2000", "--seed", "4", "--out"])
        .arg(&other)
        .output()
        .unwrap());
    let err = fails(
        floodgate(&genned).args(["ingest", "bitcoin"]).arg(other.join("bitcoin")).output().unwrap(),
    );
    assert!(err.contains("genesis"), "{err}");
    assert_eq!(status(&genned), gen_before);
}

/// Item 2: a corrupted block is refused with its hash and the failed check, exit 2.
#[test]
fn issue_9_a_flipped_bit_is_refused_naming_block_and_check() {
    let Some(raw) = floodgate_testdata::file("bitcoin/raw-blocks/mainnet_block_227836.raw") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut bytes = std::fs::read(&raw).unwrap();
    bytes[1000] ^= 0x10;
    let bad = tmp.path().join("flipped.raw");
    std::fs::write(&bad, &bytes).unwrap();
    let empty = status(&data);
    let err = fails(floodgate(&data).args(["ingest", "bitcoin"]).arg(&bad).output().unwrap());
    assert!(
        err.contains("flipped.raw")
            && err.contains(
                "block 00000000000000d0dfd4c9d588d325dce4f32c1b31b7c0064cba7025a9b9adcc fails the merkle-root check"
            ),
        "{err}"
    );
    assert_eq!(status(&data), empty);
    ok(floodgate(&data).args(["ingest", "bitcoin"]).arg(&raw).output().unwrap());
}

fn transfers_csv(data: &Path) -> String {
    ok(floodgate(data).args(["transfers", "--format", "csv"]).output().unwrap())
}

/// Item 13: a bulk load (indexes dropped, rebuilt sorted at the end) stores exactly what a
/// normal load does, and a bulk load killed with `kill -9` leaves a store that opens with its
/// indexes back, and a rerun completes it to the same content.
#[test]
fn issue_9_bulk_load_matches_a_normal_load_and_survives_kill_9() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let Some(blk) = blk_0_438() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (normal, bulk, killed) =
        (tmp.path().join("normal"), tmp.path().join("bulk"), tmp.path().join("killed"));
    ok(floodgate(&normal).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    ok(floodgate(&bulk).args(["ingest", "bitcoin", "--bulk"]).arg(&blk).output().unwrap());
    let expected = transfers_csv(&normal);
    assert_eq!(transfers_csv(&bulk), expected);
    let by_address = |d: &Path| {
        ok(floodgate(d)
            .args(["transfers", "--address", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"])
            .output()
            .unwrap())
    };
    assert_eq!(by_address(&bulk), by_address(&normal));

    let mut child = floodgate(&killed)
        .args(["ingest", "bitcoin", "--bulk"])
        .arg(&blk)
        .env("FLOODGATE_TEST_BLOCK_DELAY_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let blocks = floodgate_store::Store::open(&killed)
            .ok()
            .and_then(|s| s.stats().ok())
            .and_then(|s| s.chains.first().map(|c| c.blocks))
            .unwrap_or(0);
        if blocks >= 40 {
            break;
        }
        assert!(Instant::now() < deadline, "ingest made no progress");
        assert!(child.try_wait().unwrap().is_none(), "ingest finished before it could be killed");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let store = floodgate_store::Store::open(&killed).expect("the store opens after kill -9");
    store.check_integrity().unwrap();
    drop(store);
    ok(floodgate(&killed).args(["ingest", "bitcoin", "--bulk"]).arg(&blk).output().unwrap());
    assert_eq!(transfers_csv(&killed), expected);
}
