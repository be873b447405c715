//! End-to-end tests of the `floodgate` binary, run as a user would run it.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use common::{blk_0_438, fails, floodgate, ok};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use floodgate_store::{Store, StoreStats};

fn stats(data: &Path) -> StoreStats {
    Store::open(data).unwrap().stats().unwrap()
}

fn dump(data: &Path) -> String {
    ok(floodgate(data).args(["transfers", "--format", "jsonl"]).output().unwrap())
}

fn chain<'a>(s: &'a StoreStats, name: &str) -> &'a floodgate_store::ChainStats {
    s.chains.iter().find(|c| c.chain == name).unwrap_or_else(|| panic!("no {name} in {s:?}"))
}

#[test]
fn demo_ingests_the_bundled_sample_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(floodgate(dir.path()).args(["demo", "--no-serve"]).output().unwrap());
    assert!(out.contains("floodgate status"), "{out}");
    let s = stats(dir.path());
    assert_eq!(chain(&s, "bitcoin").blocks, 441, "blocks 0-438, 227835 and 227836");
    assert_eq!(
        chain(&s, "bitcoin").unresolved_inputs,
        DEMO_UNRESOLVED,
        "only spends of blocks outside the sample"
    );
    // Tron 50000011: 73 USDT-TRC20 + 2 other TRC-20, 194 native TRX, 1 internal.
    assert_eq!(chain(&s, "tron").transfers, 270);
    // Ethereum 18000011: 53 native, 127 token, 63 internal (failed transactions move nothing).
    assert_eq!(chain(&s, "ethereum").transfers, 243);
    let usdt = ok(floodgate(dir.path())
        .args(["transfers", "--chain", "tron", "--format", "csv"])
        .output()
        .unwrap());
    assert_eq!(usdt.lines().filter(|l| l.contains(",USDT-TRC20,")).count(), 73);
    assert_eq!(s.ledger_entries, 5);
    // The bundled UN list answers name screening with no test data at hand.
    let hit = floodgate(dir.path())
        .args(["screen", "name", "Korea Mining Development Trading Corp", "--format", "json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&hit.stdout);
    assert_eq!(hit.status.code(), Some(1), "exit 1: a hit\n{text}");
    assert!(text.contains("\"list\": \"un\"") && text.contains("KPe.001"), "{text}");
    let before = dump(dir.path());
    ok(floodgate(dir.path()).args(["demo", "--no-serve"]).output().unwrap());
    assert_eq!(dump(dir.path()), before, "re-running the demo changes nothing");
    assert_eq!(
        stats(dir.path()),
        StoreStats { journal_entries: stats(dir.path()).journal_entries, ..s }
    );
}

/// Inputs of blocks 227835 and 227836 that spend outputs of blocks outside the sample (all
/// but the 16 spends of 227835 outputs in 227836, and the two coinbases).
const DEMO_UNRESOLVED: u64 = 417;

#[test]
fn bitcoin_blk_file_first_payment_is_traceable() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let s = stats(dir.path());
    let b = chain(&s, "bitcoin");
    assert_eq!((b.blocks, b.min_height, b.max_height), (439, Some(0), Some(438)));
    assert_eq!(b.unresolved_inputs, 0, "every spend in blocks 0-438 funds from an earlier block");
    let hal = ok(floodgate(dir.path())
        .args(["transfers", "--address", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "--format", "csv"])
        .output()
        .unwrap());
    let line = hal
        .lines()
        .find(|l| l.contains("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"))
        .unwrap_or_else(|| panic!("block 170 payment missing:\n{hal}"));
    assert!(
        line.contains(",170,") && line.contains(",output,") && line.contains(",1000000000,"),
        "{line}"
    );
    let satoshi = ok(floodgate(dir.path())
        .args(["transfers", "--address", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", "--format", "jsonl"])
        .output()
        .unwrap());
    assert!(
        satoshi.lines().any(|l| l.contains("\"kind\":\"input\"")
            && l.contains("f4184fc5")
            && l.contains("\"amount\":\"5000000000\"")),
        "the block-170 input resolves to Satoshi's 50 BTC block-9 coinbase:\n{satoshi}"
    );
}

#[test]
fn consecutive_blocks_resolve_their_spends_across_ingests() {
    let Some(dir_blocks) = floodgate_testdata::dir("bitcoin/raw-blocks") else { return };
    let dir = tempfile::tempdir().unwrap();
    // 227835 predates BIP34: its coinbase carries no height, so the user gives it.
    let err = fails(
        floodgate(dir.path())
            .args(["ingest", "bitcoin"])
            .arg(dir_blocks.join("mainnet_block_227835.raw"))
            .output()
            .unwrap(),
    );
    assert!(err.contains("mainnet_block_227835.raw") && err.contains("--height"), "{err}");
    ok(floodgate(dir.path())
        .args(["ingest", "bitcoin", "--height", "227835"])
        .arg(dir_blocks.join("mainnet_block_227835.raw"))
        .output()
        .unwrap());
    let before = chain(&stats(dir.path()), "bitcoin").unresolved_inputs;
    ok(floodgate(dir.path())
        .args(["ingest", "bitcoin"])
        .arg(dir_blocks.join("mainnet_block_227836.raw"))
        .output()
        .unwrap());
    let s = stats(dir.path());
    let b = chain(&s, "bitcoin");
    let store = Store::open(dir.path()).unwrap();
    let rows = store.transfers(&floodgate_store::TransferFilter::default()).unwrap();
    let in_227836 =
        rows.iter().filter(|r| r.kind == "input" && r.height == Some(227836)).count() as u64;
    let resolved = |rows: &[floodgate_store::TransferRow]| {
        rows.iter()
            .filter(|r| r.kind == "input" && r.height == Some(227836) && r.from.is_some())
            .count() as u64
    };
    // 227836 alone resolves only its in-block spends; with 227835 stored, 16 more.
    let alone = tempfile::tempdir().unwrap();
    ok(floodgate(alone.path())
        .args(["ingest", "bitcoin"])
        .arg(dir_blocks.join("mainnet_block_227836.raw"))
        .output()
        .unwrap());
    let alone_rows = Store::open(alone.path())
        .unwrap()
        .transfers(&floodgate_store::TransferFilter::default())
        .unwrap();
    assert_eq!(
        resolved(&rows) - resolved(&alone_rows),
        16,
        "the 16 spends of 227835 outputs resolve"
    );
    let resolved_836 = resolved(&rows);
    // Everything else in 227836 but its coinbase input stays unresolved.
    assert_eq!(b.unresolved_inputs, before + in_227836 - resolved_836 - 1);
}

#[test]
fn reingesting_adds_nothing_and_rollback_undoes_blocks() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    ok(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let first = dump(dir.path());
    let again = ok(floodgate(dir.path())
        .args(["ingest", "bitcoin", "--format", "json"])
        .arg(&blk)
        .output()
        .unwrap());
    let v: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(v["new_transactions"], 0, "{again}");
    assert_eq!(dump(dir.path()), first);

    ok(floodgate(dir.path()).args(["ingest", "bitcoin", "--rollback-to", "200"]).output().unwrap());
    let b = chain(&stats(dir.path()), "bitcoin").clone();
    assert_eq!((b.blocks, b.max_height), (201, Some(200)));
    let err = fails(
        floodgate(dir.path()).args(["ingest", "bitcoin", "--rollback-to", "300"]).output().unwrap(),
    );
    assert!(err.contains("nothing to roll back"), "{err}");
    ok(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    assert_eq!(
        dump(dir.path()),
        first,
        "re-ingesting after a rollback restores exactly what was there"
    );
}

#[test]
fn kill_9_mid_ingest_leaves_a_sound_store_and_a_rerun_completes_it() {
    let Some(blk) = blk_0_438() else { return };
    let reference = tempfile::tempdir().unwrap();
    ok(floodgate(reference.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let expected = dump(reference.path());

    let dir = tempfile::tempdir().unwrap();
    let mut child = floodgate(dir.path())
        .args(["ingest", "bitcoin"])
        .arg(&blk)
        .env("FLOODGATE_TEST_BLOCK_DELAY_MS", "20")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let blocks = Store::open(dir.path())
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
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, no cleanup
    child.wait().unwrap();

    let store = Store::open(dir.path()).expect("the store opens after kill -9");
    store.check_integrity().unwrap();
    let partial = store.stats().unwrap().chains[0].blocks;
    assert!((40..439).contains(&partial), "killed mid-stream: {partial} blocks stored");
    drop(store);

    ok(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    assert_eq!(dump(dir.path()), expected, "the rerun completes the store, with no duplicates");
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Seeds a store with the bundled ledger so the bad-input tests can show nothing changes.
fn seeded() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/ledger/exchange-ledger.csv");
    ok(floodgate(dir.path()).args(["ingest", "ledger"]).arg(ledger).output().unwrap());
    let before = dump(dir.path());
    (dir, before)
}

#[test]
fn truncated_block_names_file_and_offset_and_keeps_the_store() {
    let Some(blk) = blk_0_438() else { return };
    let (dir, before) = seeded();
    let bytes = std::fs::read(&blk).unwrap();
    let bad = write(dir.path(), "truncated.blk.dat", &bytes[..bytes.len() - 100]);
    let err = fails(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&bad).output().unwrap());
    assert!(err.contains("truncated.blk.dat") && err.contains("offset"), "{err}");
    let after = dump(dir.path());
    assert!(
        after.starts_with(&before) || after.contains(before.lines().next().unwrap()),
        "ledger rows kept"
    );
    assert_eq!(stats(dir.path()).ledger_entries, 5);
    // Running it again on the intact file completes it.
    ok(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    assert_eq!(chain(&stats(dir.path()), "bitcoin").blocks, 439);
}

#[test]
fn wrong_magic_names_file_and_offset() {
    let Some(blk) = blk_0_438() else { return };
    let (dir, before) = seeded();
    let mut bytes = std::fs::read(&blk).unwrap();
    let first_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
    let second = 8 + first_len;
    bytes[second..second + 4].copy_from_slice(b"XXXX");
    let bad = write(dir.path(), "badmagic.blk.dat", &bytes);
    let err = fails(floodgate(dir.path()).args(["ingest", "bitcoin"]).arg(&bad).output().unwrap());
    assert!(err.contains("badmagic.blk.dat") && err.contains(&format!("offset {second}")), "{err}");
    assert!(dump(dir.path()).contains(before.lines().next().unwrap()));
    assert_eq!(stats(dir.path()).ledger_entries, 5);
}

#[test]
fn malformed_json_names_file_and_line() {
    let (dir, before) = seeded();
    let bad =
        write(dir.path(), "broken.json", b"{\"number\": \"0x1\", \"transactions\": [ {\"hash\": ");
    let err = fails(floodgate(dir.path()).args(["ingest", "ethereum"]).arg(&bad).output().unwrap());
    assert!(err.contains("broken.json"), "{err}");
    assert_eq!(dump(dir.path()), before);
}

#[test]
fn bad_ledger_values_name_line_and_field_and_store_nothing() {
    let (dir, before) = seeded();
    let header = "id,time,customer_id,direction,asset,amount,counterparty_address\n";
    let cases = [
        (
            "unknown-asset.csv",
            "n1,2025-01-01T00:00:00Z,c1,deposit,DOGE,1,\n",
            "line 2, field 'asset'",
        ),
        (
            "bad-address.csv",
            "n1,2025-01-01T00:00:00Z,c1,deposit,ETH,1,0xdAC17F958D2ee523a2206206994597C13D831ec8\n",
            "line 2, field 'counterparty_address'",
        ),
        ("negative.csv", "n1,2025-01-01T00:00:00Z,c1,deposit,BTC,-3,\n", "line 2, field 'amount'"),
    ];
    for (name, row, expect) in cases {
        // A good first row: nothing of a bad file is stored, not even its good rows.
        let body = format!("{header}g1,2025-01-01T00:00:00Z,c1,deposit,BTC,1,\n{row}")
            .replace("line 2", "line 3");
        let f = write(dir.path(), name, body.as_bytes());
        let err = fails(floodgate(dir.path()).args(["ingest", "ledger"]).arg(&f).output().unwrap());
        let expect = expect.replace("line 2", "line 3");
        assert!(err.contains(name) && err.contains(&expect), "{name}: {err}");
        assert_eq!(dump(dir.path()), before, "{name} changed the store");
    }
}

#[test]
fn transfers_formats_agree() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample/ledger/exchange-ledger.csv");
    ok(floodgate(dir.path()).args(["ingest", "ledger"]).arg(ledger).output().unwrap());
    let table = ok(floodgate(dir.path()).args(["transfers"]).output().unwrap());
    assert!(table.starts_with("CHAIN"), "{table}");
    assert!(
        table.contains("2500") && table.contains("2500000000"),
        "value and base units:\n{table}"
    );
    let csv = ok(floodgate(dir.path()).args(["transfers", "--format", "csv"]).output().unwrap());
    assert_eq!(csv.lines().count(), 6);
    let json = ok(floodgate(dir.path()).args(["transfers", "--format", "json"]).output().unwrap());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 5);
    let tron = ok(floodgate(dir.path())
        .args([
            "transfers",
            "--address",
            "41a614f803b6fd780986a42c78ec9c7f77e6ded13c",
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap());
    assert_eq!(tron.lines().count(), 1, "the hex form finds the T… address:\n{tron}");
}

#[test]
fn a_missing_store_and_bad_flags_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = fails(floodgate(&dir.path().join("nope")).arg("transfers").output().unwrap());
    assert!(err.contains("no transfer store"), "{err}");
    let err =
        fails(floodgate(dir.path()).args(["transfers", "--chain", "dogecoin"]).output().unwrap());
    assert!(err.contains("dogecoin"), "{err}");
    let out = floodgate(dir.path())
        .args(["ingest", "bitcoin"])
        .arg(dir.path().join("absent.dat"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_teaches_exit_codes_and_examples() {
    let out = ok(Command::new(env!("CARGO_BIN_EXE_floodgate")).arg("--help").output().unwrap());
    assert!(out.contains("Exit codes") && out.contains("floodgate demo"), "{out}");
    let out = ok(Command::new(env!("CARGO_BIN_EXE_floodgate"))
        .args(["ingest", "--help"])
        .output()
        .unwrap());
    assert!(out.contains("--rollback-to") && out.contains("Examples"), "{out}");
}

#[test]
fn config_file_env_and_flags_layer_in_order() {
    let work = tempfile::tempdir().unwrap();
    let ledger = write(
        work.path(),
        "dai.csv",
        b"id,time,customer_id,direction,asset,amount\nd1,2025-01-01T00:00:00Z,c1,deposit,DAI,2.5\n",
    );
    write(
        work.path(),
        "assets.toml",
        b"[[asset]]\nid = \"DAI-ERC20\"\nsymbol = \"DAI\"\nchain = \"ethereum\"\ncontract = \"0x6B175474E89094C44Da98b954EedeAC495271d0F\"\ndecimals = 18\n",
    );
    write(
        work.path(),
        "floodgate.toml",
        b"data_dir = \"from-file\"\nassets_file = \"assets.toml\"\n",
    );
    let run = |extra: &[&str], env: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_floodgate"));
        c.current_dir(work.path()).env_remove("FLOODGATE_DATA").env_remove("FLOODGATE_CONFIG");
        if let Some(e) = env {
            c.env("FLOODGATE_DATA", e);
        }
        c.args(["-q", "ingest", "ledger"]).arg(&ledger).args(extra);
        c.output().unwrap()
    };
    // ./floodgate.toml: its data_dir and its assets file (relative to the file).
    ok(run(&[], None));
    let s = stats(&work.path().join("from-file"));
    assert_eq!(s.ledger_entries, 1);
    let rows = ok(floodgate(&work.path().join("from-file"))
        .args(["transfers", "--format", "csv"])
        .output()
        .unwrap());
    assert!(
        rows.contains(",DAI-ERC20,2500000000000000000"),
        "18 decimals from the assets file:\n{rows}"
    );
    // The environment beats the file, and the flag beats the environment.
    ok(run(&[], Some("from-env")));
    assert_eq!(stats(&work.path().join("from-env")).ledger_entries, 1);
    ok(run(&["--data-dir", "from-flag"], Some("from-env")));
    assert_eq!(stats(&work.path().join("from-flag")).ledger_entries, 1);
    // A typo in the config file is an error, not silently ignored.
    write(work.path(), "floodgate.toml", b"data_dri = \"x\"\n");
    let err = fails(run(&[], None));
    assert!(err.contains("floodgate.toml") && err.contains("data_dri"), "{err}");
}
