//! End-to-end tests of `floodgate trace exposure --model fifo|lifo|tiho` on the real Bitcoin
//! blocks 0–438 (definitions: docs/taint-models.md).
//!
//! The expected values are computed by hand from the transactions of those blocks (listed with
//! `floodgate transfers --address …`):
//!
//! - block 9 (coinbase) pays 12cbQ… 50 BTC;
//! - block 170, f4184fc5…: 12cbQ… spends those 50 → 1Q2TW… (Hal) 10, change 12cbQ… 40;
//! - block 181, a16f3ce4…: 12cbQ… 40 → 1DUDsf… 10, change 30;
//! - block 182, 591e91f8…: 12cbQ… 30 → 1LzBzV… 1, change 29;
//! - block 183, 12b5633b…: 12cbQ… 29 → 13HtsY… 1, change 28;
//! - block 187, 4385fcf8…: 13HtsY… 1 → 15NUwy… 1;
//! - block 221, 298ca204…: 1LzBzV… 1 → 1BDvQZ… 1;
//! - block 248, 828ef3b0…: 12cbQ… 28 → 1ByLSV… 10, change 18.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{blk_0_438, fails, floodgate, ok};

const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";
/// Received 1 BTC in block 183 (from Satoshi's address) and sent it on in block 187.
const ADDR_183: &str = "13HtsYzne8xVPdGDnmJX8gHgBZerAfJGEf";
/// Received that 1 BTC in block 187.
const ADDR_187: &str = "15NUwyBYrZcnUgTagsm1A7M2yL2GntpuaZ";

fn json(s: &str) -> serde_json::Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn exposure(data: &Path, pack: &Path, args: &[&str]) -> serde_json::Value {
    let out = ok(floodgate(data)
        .args(["trace", "exposure"])
        .args(args)
        .args(["--format", "json", "--tagpack"])
        .arg(pack)
        .output()
        .unwrap());
    let v = json(&out);
    assert_eq!(v.as_array().unwrap().len(), 1, "one asset, BTC: {v}");
    v[0].clone()
}

fn category<'a>(r: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    r["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == name)
        .unwrap_or_else(|| panic!("no {name} in {r}"))
}

#[test]
fn fifo_lifo_tiho_exposure_on_real_blocks_matches_a_hand_computation() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    ok(floodgate(data).args(["trace", "build"]).output().unwrap());

    // 1. Satoshi's address tagged scam; where did Hal's 10 BTC come from? Transaction
    //    f4184fc5… has one input (12cbQ…, 50 BTC) and pays Hal first: under FIFO Hal's output
    //    takes the first 10 BTC of that input, so 10 BTC scam, direct, at hop 1.
    let satoshi = data.join("satoshi.yaml");
    std::fs::write(
        &satoshi,
        format!(
            "title: t\ncurrency: BTC\nabuse: scam\nsource: test\ntags:\n- address: {SATOSHI}\n"
        ),
    )
    .unwrap();
    let r = exposure(data, &satoshi, &[HAL, "--model", "fifo"]);
    assert_eq!(r["model"], "fifo");
    assert_eq!(r["total"], "1000000000");
    let scam = category(&r, "scam");
    assert_eq!(scam["value"], "1000000000", "{r}");
    assert_eq!(scam["direct"], "1000000000");
    assert_eq!(scam["min_hops"], 1);
    assert_eq!(scam["sources"][0]["node"], SATOSHI, "the evidence names the source");
    assert_eq!(r["untraced"], "0");

    // 2. Two hops: 15NUwy… got 1 BTC from 13HtsY… (block 187), which got it from Satoshi's
    //    address (block 183: 29 BTC in; 1 BTC to 13HtsY… first, 28 change). FIFO takes the
    //    first 1 BTC of the 29 and LIFO the last, both Satoshi's: 1 BTC scam at hop 2,
    //    indirect. With --hops 1 the trace stops at 13HtsY… (untagged): all untraced.
    for model in ["fifo", "lifo", "tiho"] {
        let r = exposure(data, &satoshi, &[ADDR_187, "--model", model, "--hops", "3"]);
        let scam = category(&r, "scam");
        assert_eq!(scam["value"], "100000000", "{model}: {r}");
        assert_eq!(scam["indirect"], "100000000", "{model}");
        assert_eq!(scam["min_hops"], 2, "{model}");
        assert_eq!(r["untraced"], "0", "{model}");
        let one = exposure(data, &satoshi, &[ADDR_187, "--model", model, "--hops", "1"]);
        assert!(one["categories"].as_array().unwrap().is_empty(), "{model}: {one}");
        assert_eq!(one["untraced"], "100000000", "{model}");
    }

    // 3. Direction out: where did what Satoshi's address sent go? It sent 50 + 40 + 30 + 29
    //    + 28 = 177 BTC into five transactions. Tags: Hal scam, 15NUwy… exchange. Each
    //    transaction pays the recipient first and the change back second; the change returns
    //    to the target and is not followed again (a round trip, untraced), so each coin is
    //    counted once. Hal: 10 BTC (direct). 15NUwy…: the 1 BTC 13HtsY… got and forwarded
    //    (hop 2). 1DUDsf…, 1ByLSV… and 1BDvQZ… still hold theirs (untagged): untraced.
    //    Untraced = 177 − 10 − 1 = 166 BTC. TIHO gives the same: every output of those
    //    transactions is fully funded by the target's single input.
    let pack = data.join("recipients.yaml");
    std::fs::write(
        &pack,
        format!(
            "title: t\ncurrency: BTC\nsource: test\ntags:\n- address: {HAL}\n  abuse: scam\n- address: {ADDR_187}\n  category: exchange\n"
        ),
    )
    .unwrap();
    for model in ["fifo", "lifo", "tiho"] {
        let r = exposure(data, &pack, &[SATOSHI, "--direction", "out", "--model", model]);
        assert_eq!(r["total"], "17700000000", "{model}: {r}");
        let scam = category(&r, "scam");
        assert_eq!(scam["value"], "1000000000", "{model}: {r}");
        assert_eq!(scam["direct"], "1000000000", "{model}");
        assert_eq!(scam["sources"][0]["node"], HAL, "{model}");
        let exchange = category(&r, "exchange");
        assert_eq!(exchange["value"], "100000000", "{model}: {r}");
        assert_eq!(exchange["min_hops"], 2, "{model}");
        assert_eq!(exchange["sources"][0]["node"], ADDR_187, "{model}");
        assert_eq!(r["untraced"], "16600000000", "{model}");
    }
    // The table shows the untraced row for the order models too.
    let table = ok(floodgate(data)
        .args(["trace", "exposure", SATOSHI, "--direction", "out", "--model", "lifo", "--tagpack"])
        .arg(&pack)
        .output()
        .unwrap());
    assert!(table.contains("(untraced)") && table.contains(ADDR_187), "{table}");
    // Intermediate address 13HtsY… spent exactly what it got: its exposure out is the 1 BTC
    // that reached the exchange.
    let r = exposure(data, &pack, &[ADDR_183, "--direction", "out", "--model", "fifo"]);
    assert_eq!(category(&r, "exchange")["direct"], "100000000", "{r}");

    // Bad input: an unknown model is refused with the choices named.
    let err = fails(
        floodgate(data).args(["trace", "exposure", HAL, "--model", "fofi"]).output().unwrap(),
    );
    assert!(err.contains("fifo") && err.contains("tiho"), "{err}");
}
