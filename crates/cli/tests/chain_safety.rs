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

/// Item 3 for Tron, whose GraphSense rows name no network: the real mainnet block binds the
/// directory to mainnet; a generated world's Tron blocks (marked `floodgate-gen`) are refused
/// by it, and rows whose times their heights rule out for mainnet (a testnet's) are refused
/// unless `--network` names the testnet.
#[test]
fn issue_9_tron_inputs_are_bound_to_one_network() {
    let Some(block) = floodgate_testdata::dir("tron/graphsense-block-50000011") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (main, world) = (tmp.path().join("main"), tmp.path().join("world"));
    ok(floodgate(&main).args(["ingest", "tron"]).arg(&block).output().unwrap());
    ok(floodgate(&tmp.path().join("g"))
        .args(["gen", "--transfers", "2000", "--seed", "3", "--out"])
        .arg(&world)
        .output()
        .unwrap());
    let before = status(&main);
    let err =
        fails(floodgate(&main).args(["ingest", "tron"]).arg(world.join("tron")).output().unwrap());
    assert!(err.contains("mainnet") && err.contains("floodgate-gen"), "{err}");
    assert_eq!(status(&main), before, "the mainnet store changed");

    // A Nile-like input: block 1,000,000 from 2019-12 (mainnet's was produced in mid-2018).
    let rows = tmp.path().join("nile.jsonl");
    std::fs::write(
        &rows,
        r#"{"tx_hash": "0x2b24564fa78ed4a6e555c9cd26f4d3e791b1efc9f2654c31d4feb97d8853e03f", "transaction_index": 0, "from_address": "0xa4875b63aa1f3c28acea607143bec09b57ed470f", "to_address": "0x804087a7dbd3ab1e8c06a17b2ff1a0e3f3d8b3a5", "value": 5, "transaction_type": 1, "receipt_status": 1, "block_id": 1000000, "block_hash": "0x00000000000f4240aa112233445566778899aabbccddeeff0011223344556677", "block_timestamp": 1575000000}
"#,
    )
    .unwrap();
    let fresh = tmp.path().join("fresh");
    let err = fails(floodgate(&fresh).args(["ingest", "tron"]).arg(&rows).output().unwrap());
    assert!(
        err.contains("nile.jsonl")
            && err.contains("block 1000000's time 2019-11-29T04:00:00Z cannot be Tron mainnet's")
            && err.contains("--network nile"),
        "{err}"
    );
    let out = ok(floodgate(&fresh)
        .args(["ingest", "tron", "--network", "nile", "--format", "json"])
        .arg(&rows)
        .output()
        .unwrap());
    assert!(out.contains("\"transfers\": 1"), "{out}");
    // The directory is now Nile's: the mainnet block is refused.
    let err = fails(floodgate(&fresh).args(["ingest", "tron"]).arg(&block).output().unwrap());
    assert!(err.contains("nile") && err.contains("mainnet"), "{err}");
    // A Bitcoin network is not a Tron network.
    let err = fails(
        floodgate(&fresh)
            .args(["ingest", "tron", "--network", "regtest"])
            .arg(&rows)
            .output()
            .unwrap(),
    );
    assert!(err.contains("--network regtest is not a Tron network"), "{err}");
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
