//! Store behaviour on small hand-built blocks: idempotency, input resolution, reorgs,
//! rollbacks and ledger conflicts. Real chain data goes through the CLI tests.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use floodgate_store::{Store, StoreError, TenantId, TransferFilter, TransferStore};
use floodgate_types::{
    Address, Amount, AssetId, BlockHeader, Chain, ChainBlock, Direction, Hash32, LedgerEntry,
    OutPoint, Timestamp, Transfer, TransferIndex, TransferKind, TxInput, TxOutput, UtxoTx,
};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn h(n: u8) -> Hash32 {
    Hash32([n; 32])
}

fn btc(s: &str) -> Address {
    Address::parse(Chain::Bitcoin, s).unwrap()
}

const A: &str = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa";
const B: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";

fn header(height: u64, hash: u8, parent: u8) -> BlockHeader {
    BlockHeader {
        chain: Chain::Bitcoin,
        height,
        hash: h(hash),
        parent: Some(h(parent)),
        time: Some(Timestamp(1_231_006_505 + height as i64)),
    }
}

/// Block `height` with a coinbase paying `to`, and optionally a spend of `spend`.
fn block(
    height: u64,
    hash: u8,
    parent: u8,
    to: &str,
    spend: Option<(OutPoint, &str)>,
) -> ChainBlock {
    let mut txs = vec![UtxoTx {
        txid: h(hash.wrapping_add(100)),
        position: 0,
        inputs: vec![TxInput { prevout: None, address: None, value: None }],
        outputs: vec![TxOutput { vout: 0, address: btc(to), value: Amount::from(50_0000_0000) }],
    }];
    if let Some((prev, pay)) = spend {
        txs.push(UtxoTx {
            txid: h(hash.wrapping_add(150)),
            position: 1,
            inputs: vec![TxInput { prevout: Some(prev), address: None, value: None }],
            outputs: vec![TxOutput {
                vout: 0,
                address: btc(pay),
                value: Amount::from(10_0000_0000),
            }],
        });
    }
    ChainBlock { header: Some(header(height, hash, parent)), utxo_txs: txs, transfers: vec![] }
}

#[test]
fn applying_the_same_block_twice_adds_nothing() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let b = block(0, 1, 0, A, None);
    let first = s.apply_block(&b).unwrap();
    assert_eq!(first.new_transactions, 1);
    let again = s.apply_block(&b).unwrap();
    assert_eq!(again.new_transactions, 0);
    assert_eq!(again.already_stored, 2, "one input and one output already there");
    assert_eq!(s.transfers(&TransferFilter::default()).unwrap().len(), 2);
}

#[test]
fn inputs_resolve_from_stored_outputs_in_either_order() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let coinbase = OutPoint { txid: h(101), vout: 0 };
    // The spending block arrives first: its input stays unresolved ...
    let spend = block(1, 2, 1, B, Some((coinbase, B)));
    let out = s.apply_block(&spend).unwrap();
    assert_eq!(out.inputs_unresolved, 1);
    // ... until the funding block arrives.
    let out = s.apply_block(&block(0, 1, 0, A, None)).unwrap();
    assert_eq!(out.inputs_unresolved, 0);
    assert_eq!(out.inputs_resolved_from_store, 1);
    let a = btc(A);
    let rows =
        s.transfers(&TransferFilter { address: Some(a.clone()), ..Default::default() }).unwrap();
    let kinds: Vec<_> = rows.iter().map(|r| (r.kind.as_str(), r.height)).collect();
    assert_eq!(kinds, vec![("output", Some(0)), ("input", Some(1))]);
    assert_eq!(rows[1].amount, Some(Amount::from(50_0000_0000)));
}

#[test]
fn a_competing_block_unwinds_the_stale_branch() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    s.apply_block(&block(0, 1, 0, A, None)).unwrap();
    s.apply_block(&block(1, 2, 1, A, None)).unwrap();
    s.apply_block(&block(2, 3, 2, A, None)).unwrap();
    // Another block at height 1 with the same parent: heights 1 and 2 are stale.
    let out = s.apply_block(&block(1, 9, 1, B, None)).unwrap();
    let unwound = out.unwound.expect("reorg detected");
    assert_eq!((unwound.from_height, unwound.blocks), (1, 2));
    let st = s.stats().unwrap();
    assert_eq!(st.chains[0].max_height, Some(1));
    assert_eq!(st.chains[0].blocks, 2);
    let b_rows =
        s.transfers(&TransferFilter { address: Some(btc(B)), ..Default::default() }).unwrap();
    assert_eq!(b_rows.len(), 1);
}

#[test]
fn a_parent_mismatch_unwinds_the_block_below() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    s.apply_block(&block(0, 1, 0, A, None)).unwrap();
    s.apply_block(&block(1, 2, 1, A, None)).unwrap();
    // Height 2 on a branch whose block 1 is not ours.
    let out = s.apply_block(&block(2, 4, 7, B, None)).unwrap();
    let unwound = out.unwound.expect("parent mismatch detected");
    assert_eq!(unwound.from_height, 1);
    assert!(unwound.reason.contains("has parent"), "{}", unwound.reason);
    let st = s.stats().unwrap();
    assert_eq!(st.chains[0].blocks, 2, "block 0 and the new block 2");
}

#[test]
fn rollback_removes_blocks_above_the_height_and_is_journalled() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    for (height, hash) in [(0u64, 1u8), (1, 2), (2, 3)] {
        s.apply_block(&block(height, hash, hash - 1, A, None)).unwrap();
    }
    let u = s.rollback_to(Chain::Bitcoin, 0).unwrap();
    assert_eq!(u.blocks, 2);
    assert_eq!(s.stats().unwrap().chains[0].max_height, Some(0));
    assert!(matches!(s.rollback_to(Chain::Bitcoin, 5), Err(StoreError::NothingToRollBack { .. })));
    assert_eq!(s.stats().unwrap().journal_entries, 4, "3 applies and 1 unwind");
}

fn entry(id: &str, amount: u64) -> LedgerEntry {
    LedgerEntry {
        id: id.to_owned(),
        time: Timestamp(1_700_000_000),
        customer_id: "c1".to_owned(),
        direction: Direction::Deposit,
        asset: AssetId("USDT-TRC20".to_owned()),
        amount: Amount::from(amount),
        counterparty_address: Some(
            Address::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap(),
        ),
        counterparty_customer: None,
        counterparty_vasp: None,
        txid: None,
        ip: Some("203.0.113.7".to_owned()),
        device: None,
        counterparty_country: None,
        travel_rule: None,
        rail: None,
        counterparty_bank: None,
        counterparty_account: None,
    }
}

#[test]
fn ledger_is_idempotent_and_refuses_changed_entries_whole() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let out = s.apply_ledger("main", &[entry("d1", 5), entry("d2", 6)]).unwrap();
    assert_eq!(out.inserted, 2);
    let out = s.apply_ledger("main", &[entry("d1", 5), entry("d2", 6)]).unwrap();
    assert_eq!((out.inserted, out.already_stored), (0, 2));
    let err = s.apply_ledger("main", &[entry("d3", 1), entry("d1", 999)]).unwrap_err();
    assert!(err.to_string().contains("entry 'd1'"), "{err}");
    assert!(err.to_string().contains("amount"), "{err}");
    assert_eq!(s.stats().unwrap().ledger_entries, 2, "d3 was not stored either");
    let rows = s.transfers(&TransferFilter { ledger_only: true, ..Default::default() }).unwrap();
    assert_eq!(rows[0].to.as_deref(), Some("customer:c1"));
}

/// Issue 14 item 4: what the monitor needs of a ledger entry's travel-rule data comes back
/// from the store exactly, and a re-ingest that changes it is a conflict.
#[test]
fn issue14_ledger_entries_keep_travel_rule_and_counterparty_country() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let mut e = entry("w1", 5);
    e.counterparty_country = Some("SG".to_owned());
    e.travel_rule = Some(floodgate_types::TravelRule {
        originator_name: Some("Nguyen Van A".to_owned()),
        beneficiary_name: Some("Tan B".to_owned()),
        beneficiary_vasp: Some("Tan Exchange Pte Ltd".to_owned()),
        ..Default::default()
    });
    s.apply_ledger("main", &[e.clone(), entry("d2", 6)]).unwrap();
    assert_eq!(s.ledger_entries(None).unwrap(), [entry("d2", 6), e.clone()], "time, then id");
    assert_eq!(s.apply_ledger("main", &[e.clone()]).unwrap().already_stored, 1);
    let mut changed = e.clone();
    changed.counterparty_country = Some("VN".to_owned());
    let err = s.apply_ledger("main", &[changed]).unwrap_err().to_string();
    assert!(err.contains("entry 'w1'") && err.contains("counterparty_country"), "{err}");
    let mut changed = e;
    changed.travel_rule = None;
    let err = s.apply_ledger("main", &[changed]).unwrap_err().to_string();
    assert!(err.contains("travel_rule"), "{err}");
}

/// Issue 14 item 1: a fiat bank deposit keeps its rail, bank and account through the store,
/// a cash withdrawal its rail; changing the rail on a re-ingest is a conflict.
#[test]
fn issue14_fiat_entries_keep_rail_bank_and_account() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let mut bank = entry("b1", 600_000_000);
    bank.asset = AssetId("VND".to_owned());
    bank.counterparty_address = None;
    bank.rail = Some(floodgate_types::Rail::Bank);
    bank.counterparty_bank = Some("BFTVVNVX".to_owned());
    bank.counterparty_account = Some("0071000123456".to_owned());
    let mut cash = entry("k1", 150_025);
    cash.time = Timestamp(1_700_000_100);
    cash.asset = AssetId("USD".to_owned());
    cash.direction = Direction::Withdrawal;
    cash.counterparty_address = None;
    cash.rail = Some(floodgate_types::Rail::Cash);
    s.apply_ledger("main", &[bank.clone(), cash.clone()]).unwrap();
    assert_eq!(s.ledger_entries(None).unwrap(), [bank.clone(), cash]);
    let mut changed = bank;
    changed.rail = Some(floodgate_types::Rail::Cash);
    let err = s.apply_ledger("main", &[changed]).unwrap_err().to_string();
    assert!(err.contains("entry 'b1'") && err.contains("rail"), "{err}");
}

#[test]
fn account_transfers_are_keyed_on_chain_txid_and_index() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    let eth = |x: &str| Address::parse(Chain::Ethereum, x).unwrap();
    let t = |index| Transfer {
        chain: Chain::Ethereum,
        height: 7,
        block_hash: Some(h(7)),
        time: None,
        txid: h(70),
        tx_position: Some(0),
        index,
        kind: TransferKind::Token,
        from: eth("0x0000000000000000000000000000000000000001"),
        to: eth("0x0000000000000000000000000000000000000002"),
        asset: AssetId("USDT-ERC20".to_owned()),
        amount: Amount::from(1),
    };
    let b = ChainBlock {
        header: None,
        utxo_txs: vec![],
        transfers: vec![t(TransferIndex::Log(1)), t(TransferIndex::Log(2))],
    };
    assert_eq!(s.apply_block(&b).unwrap().new_transfers, 2);
    assert_eq!(s.apply_block(&b).unwrap().new_transfers, 0);
    s.check_integrity().unwrap();
}

#[test]
fn reopening_keeps_everything() {
    let dir = tmp();
    {
        let mut s = Store::open(dir.path()).unwrap();
        s.apply_block(&block(0, 1, 0, A, None)).unwrap();
    }
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.stats().unwrap().chains[0].blocks, 1);
}

/// Everything a user can read back, as text.
fn snapshot(s: &Store) -> String {
    format!("{:?}\n{:?}", s.transfers(&TransferFilter::default()).unwrap(), s.stats().unwrap())
}

/// Issue 9 item 3: no unwind deeper than the limit without an explicit rollback, a different
/// genesis is another network (never a reorganisation), and a parent stored at another height
/// is refused; each refusal leaves the store unchanged.
#[test]
fn issue_9_deep_unwinds_other_genesis_and_bad_parent_links_are_refused() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    for height in 0..120u8 {
        s.apply_block(&block(u64::from(height), height + 1, height, A, None)).unwrap();
    }
    let before = snapshot(&s);

    // A competing block at height 5 would remove heights 5..=119: 115 blocks.
    let deep = block(5, 200, 5, B, None);
    let e = s.apply_block(&deep).unwrap_err();
    assert!(matches!(e, StoreError::UnwindTooDeep { blocks: 115, max: 100, from: 5, .. }), "{e}");
    assert!(e.to_string().contains("--rollback-to 4"), "{e}");
    assert_eq!(snapshot(&s), before);

    let genesis = block(0, 250, 0, B, None);
    let e = s.apply_block(&genesis).unwrap_err();
    assert!(matches!(e, StoreError::WrongNetwork { .. }), "{e}");
    assert_eq!(snapshot(&s), before);

    // Height 50 claiming the block stored at height 9 as its parent.
    let e = s.apply_block(&block(50, 201, 10, B, None)).unwrap_err();
    assert!(matches!(e, StoreError::BadParentLink { parent_height: 9, .. }), "{e}");
    assert_eq!(snapshot(&s), before);

    // A shallow reorganisation still happens on its own; a deep one once the limit allows it.
    let out = s.apply_block(&block(119, 202, 119, B, None)).unwrap();
    assert_eq!(out.unwound.map(|u| u.blocks), Some(1));
    s.set_max_unwind(200);
    let out = s.apply_block(&deep).unwrap();
    assert_eq!(out.unwound.map(|u| u.blocks), Some(115));
}

/// Issue 9 item 3: a data directory is bound to the network of its first input.
#[test]
fn issue_9_a_store_is_bound_to_one_network_per_chain() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    s.bind_network(Chain::Bitcoin, "mainnet", None).unwrap();
    s.bind_network(Chain::Bitcoin, "mainnet", None).unwrap();
    s.bind_network(Chain::Ethereum, "chain id 1", None).unwrap();
    let e = s.bind_network(Chain::Bitcoin, "floodgate-gen", None).unwrap_err().to_string();
    assert!(e.contains("mainnet") && e.contains("floodgate-gen"), "{e}");
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    assert_eq!(s.network(Chain::Bitcoin).unwrap().as_deref(), Some("mainnet"));
    assert_eq!(s.network(Chain::Tron).unwrap(), None);
}

/// Loads a ledger through the trait, as ingest does.
fn load_ledger(s: &mut impl TransferStore, entries: &[LedgerEntry]) -> u64 {
    s.apply_ledger("exchange", entries).unwrap().inserted
}

#[test]
fn issue_10_two_tenants_with_the_same_ledger_ids_never_meet_and_share_chain_data() {
    let d = tmp();
    let mut a = Store::open_tenant(d.path(), TenantId::new("vasp-a").unwrap()).unwrap();
    let mut b = Store::open_tenant(d.path(), TenantId::new("vasp-b").unwrap()).unwrap();
    // The same ledger and entry id with different content: another tenant's entry, not a
    // conflicting one.
    assert_eq!(load_ledger(&mut a, &[entry("e1", 100)]), 1);
    assert_eq!(load_ledger(&mut b, &[entry("e1", 999)]), 1);
    let amounts = |s: &Store| -> Vec<String> {
        TransferStore::ledger_entries(s, None)
            .unwrap()
            .iter()
            .map(|e| e.amount.to_string())
            .collect()
    };
    assert_eq!(amounts(&a), ["100"]);
    assert_eq!(amounts(&b), ["999"]);
    assert!(amounts(&Store::open(d.path()).unwrap()).is_empty(), "the default tenant has none");
    let listed = |s: &Store| {
        let f = TransferFilter { ledger_only: true, ..Default::default() };
        TransferStore::transfers(s, &f).unwrap().iter().map(|r| r.amount).collect::<Vec<_>>()
    };
    assert_eq!(listed(&a), [Some(Amount::from(100u64))]);
    assert_eq!(listed(&b), [Some(Amount::from(999u64))]);
    // Re-loading a's entry is idempotent for a; a changed one is still refused within a.
    assert_eq!(load_ledger(&mut a, &[entry("e1", 100)]), 0);
    assert!(matches!(
        a.apply_ledger("exchange", &[entry("e1", 5)]),
        Err(StoreError::LedgerConflict { .. })
    ));

    // Chain data is public: stored once, read by every tenant.
    a.apply_block(&block(0, 1, 0, A, None)).unwrap();
    assert_eq!(TransferStore::chain_tip(&b, Chain::Bitcoin).unwrap(), Some((0, h(1))));
    let out = b.apply_block(&block(0, 1, 0, A, None)).unwrap();
    assert_eq!((out.new_transactions, out.already_stored), (0, 2), "stored once: {out:?}");
    let (sa, sb) = (a.stats().unwrap(), b.stats().unwrap());
    assert_eq!((sa.ledger_entries, sb.ledger_entries), (1, 1));
    assert_eq!(sa.chains, sb.chains);
    assert_eq!(sa.chains[0].outputs, 1);
}

#[test]
fn issue_10_a_version_1_store_gets_the_tenant_column_with_ledger_rows_of_the_default_tenant() {
    let d = tmp();
    let path = d.path().join(floodgate_store::STORE_FILE);
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("../migrations/0001_init.sql")).unwrap();
        c.execute_batch(
            "INSERT INTO meta VALUES ('schema_version', '1'), ('network.bitcoin', 'mainnet');
             INSERT INTO blocks VALUES ('bitcoin', 0, x'0101010101010101010101010101010101010101010101010101010101010101', NULL, 1, 1);
             INSERT INTO ledger_entries (ledger, id, time, customer_id, direction, asset, amount, ingested_at)
                 VALUES ('exchange', 'e1', 1700000000, 'c1', 'deposit', 'BTC', zeroblob(32), 1);
             INSERT INTO ingest_log (at, action, chain, detail) VALUES (1, 'ledger', 'ledger:exchange', '1 new');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }
    let s = Store::open(d.path()).unwrap();
    assert_eq!(s.ledger_entries(None).unwrap().len(), 1, "the default tenant's");
    assert_eq!(s.chain_tip(Chain::Bitcoin).unwrap(), Some((0, h(1))));
    assert_eq!(s.network(Chain::Bitcoin).unwrap().as_deref(), Some("mainnet"));
    assert_eq!(s.stats().unwrap().journal_entries, 1);
    s.check_integrity().unwrap();
    let other = Store::open_tenant(d.path(), TenantId::new("vasp-b").unwrap()).unwrap();
    assert!(other.ledger_entries(None).unwrap().is_empty());
    assert_eq!(other.chain_tip(Chain::Bitcoin).unwrap(), Some((0, h(1))), "chain data is shared");
    assert_eq!(other.stats().unwrap().journal_entries, 0, "the ledger load was the default's");
    let c = rusqlite::Connection::open(&path).unwrap();
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    let meta: String = c
        .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0))
        .unwrap();
    assert_eq!((v, meta.as_str()), (6, "6"));
}

#[test]
fn a_read_only_open_reads_and_never_writes() {
    let dir = tmp();
    // No store: refused, and nothing is created.
    let err = Store::open_read_only(dir.path()).unwrap_err();
    assert!(err.to_string().contains("no transfer store"), "{err}");
    assert!(!dir.path().join(floodgate_store::STORE_FILE).exists());

    let mut s = Store::open(dir.path()).unwrap();
    s.apply_block(&block(0, 1, 0, A, None)).unwrap();
    // A bulk load in progress has dropped the secondary indexes.
    s.suspend_indexes().unwrap();
    let indexes = |path: &std::path::Path| -> i64 {
        let c = rusqlite::Connection::open(path).unwrap();
        c.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'index'", [], |r| r.get(0))
            .unwrap()
    };
    let path = dir.path().join(floodgate_store::STORE_FILE);
    let before = indexes(&path);

    let mut r = Store::open_read_only(dir.path()).unwrap();
    assert_eq!(r.block_hash(Chain::Bitcoin, 0).unwrap(), Some(h(1)));
    assert_eq!(
        r.transfers(&TransferFilter::default()).unwrap().len(),
        2,
        "the coinbase and its output"
    );
    assert_eq!(indexes(&path), before, "a reader rebuilt the indexes a bulk load dropped");
    let refused = r.apply_block(&block(1, 2, 1, B, None)).unwrap_err();
    assert!(refused.to_string().contains("readonly"), "{refused}");
    assert!(r.block_hash(Chain::Bitcoin, 1).unwrap().is_none());

    // A file at an older schema is not migrated by a reader.
    drop(r);
    s.restore_indexes().unwrap();
    drop(s);
    rusqlite::Connection::open(&path).unwrap().pragma_update(None, "user_version", 3).unwrap();
    let old = Store::open_read_only(dir.path()).unwrap_err();
    assert!(matches!(old, StoreError::SchemaOld { found: 3, .. }), "{old}");
    assert!(old.to_string().contains("older than this build reads"), "{old}");
}

/// `n` blocks from height 0 (block hashes `salt + 1 ..`): block `h` pays `A` in its coinbase
/// and, from height 1, spends the coinbase of the block below to `B`.
fn chain_blocks(n: u8, salt: u8) -> Vec<ChainBlock> {
    (0..n)
        .map(|i| {
            let hash = salt + i + 1;
            let spend = (i > 0).then(|| (OutPoint { txid: h(hash - 1 + 100), vout: 0 }, B));
            block(u64::from(i), hash, hash - 1, A, spend)
        })
        .collect()
}

/// Everything the readers give back: the listing, each address's listing, the legs, counts.
fn readback(s: &Store) -> String {
    let mut legs = Vec::new();
    s.for_each_leg(Chain::Bitcoin, None, |l| {
        legs.push(l);
        Ok::<(), StoreError>(())
    })
    .unwrap();
    let st = s.stats().unwrap();
    let by = |a: &str| {
        s.transfers(&TransferFilter { address: Some(btc(a)), ..Default::default() }).unwrap()
    };
    let counts: Vec<_> = st
        .chains
        .iter()
        .map(|c| (c.blocks, c.min_height, c.max_height, c.outputs, c.inputs, c.unresolved_inputs))
        .collect();
    format!(
        "{:#?}\n{:#?}\n{:#?}\n{legs:#?}\n{counts:?}\nunresolved {}",
        s.transfers(&TransferFilter::default()).unwrap(),
        by(A),
        by(B),
        s.unresolved_inputs(Chain::Bitcoin).unwrap()
    )
}

/// Issue 9 item 13: Bitcoin rows live in one segment per commit group. The same blocks
/// applied one per group, all in one group, or backwards in groups of five (inputs then wait
/// for their funding blocks, in the group or in a later one) read back the same.
#[test]
fn issue_9_item_13_any_grouping_or_order_of_the_same_blocks_reads_back_the_same() {
    let blocks = chain_blocks(12, 1);
    let (d1, d2, d3) = (tmp(), tmp(), tmp());
    let mut one = Store::open(d1.path()).unwrap();
    for b in &blocks {
        one.apply_block(b).unwrap();
    }
    let mut all = Store::open(d2.path()).unwrap();
    let outs = all.apply_blocks(&blocks).unwrap();
    assert_eq!(outs.iter().map(|o| o.inputs_resolved_from_store).sum::<u64>(), 11);
    let mut back = Store::open(d3.path()).unwrap();
    let reversed: Vec<ChainBlock> = blocks.iter().rev().cloned().collect();
    let mut resolved = 0;
    for group in reversed.chunks(5) {
        resolved += back
            .apply_blocks(group)
            .unwrap()
            .iter()
            .map(|o| o.inputs_resolved_from_store)
            .sum::<u64>();
    }
    assert_eq!(resolved, 11, "every spend found its coinbase, within its group or later");
    let expected = readback(&one);
    assert!(expected.contains("unresolved 0"), "{expected}");
    assert_eq!(readback(&all), expected);
    assert_eq!(readback(&back), expected);
    back.check_integrity().unwrap();
    // And again after reopening (nothing lives only in the handle's memory).
    drop(back);
    assert_eq!(readback(&Store::open(d3.path()).unwrap()), expected);
    // Applying everything again adds nothing.
    let again = all.apply_blocks(&blocks).unwrap();
    assert_eq!(again.iter().map(|o| o.new_transactions).sum::<u64>(), 0);
    assert_eq!(readback(&all), expected);
}

/// Issue 9 item 13: an unwind that cuts a segment keeps its blocks below the fork point, and
/// the store equals a fresh ingest of the shorter chain (also after a rollback).
#[test]
fn issue_9_item_13_an_unwind_inside_a_segment_equals_a_fresh_ingest_of_the_shorter_chain() {
    let blocks = chain_blocks(8, 1);
    // Another block 5 on block 4 (hash 6), spending block 4's coinbase to A.
    let fork = block(5, 60, 6, A, Some((OutPoint { txid: h(106), vout: 0 }, A)));
    let (d1, d2) = (tmp(), tmp());
    let mut s = Store::open(d1.path()).unwrap();
    s.apply_blocks(&blocks).unwrap();
    let out = s.apply_block(&fork).unwrap();
    assert_eq!(out.unwound.map(|u| (u.from_height, u.blocks)), Some((5, 3)));
    let mut fresh = Store::open(d2.path()).unwrap();
    fresh.apply_blocks(&blocks[..5]).unwrap();
    fresh.apply_block(&fork).unwrap();
    assert_eq!(readback(&s), readback(&fresh));
    s.check_integrity().unwrap();
    s.rollback_to(Chain::Bitcoin, 2).unwrap();
    fresh.rollback_to(Chain::Bitcoin, 2).unwrap();
    assert_eq!(readback(&s), readback(&fresh));
    // The unwound blocks come back exactly as first applied.
    s.apply_blocks(&blocks[3..]).unwrap();
    let d3 = tmp();
    let mut whole = Store::open(d3.path()).unwrap();
    whole.apply_blocks(&blocks).unwrap();
    assert_eq!(readback(&s), readback(&whole));
}

/// Issue 9 item 13: an input stored before its funding output is resolved when the output
/// arrives in a later group, and unresolved again when an unwind removes that output.
#[test]
fn issue_9_item_13_a_late_resolution_is_undone_with_the_output_that_made_it() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    // Height 1 spends the coinbase of a transaction that only height 2 holds (the store does
    // not judge chains; the reader would have refused such a chain).
    let spend = block(1, 2, 1, A, Some((OutPoint { txid: h(103), vout: 0 }, B)));
    s.apply_blocks(&[block(0, 1, 0, A, None), spend]).unwrap();
    assert_eq!(s.unresolved_inputs(Chain::Bitcoin).unwrap(), 1);
    let out = s.apply_block(&block(2, 3, 2, A, None)).unwrap();
    assert_eq!(out.inputs_resolved_from_store, 1);
    assert_eq!(s.unresolved_inputs(Chain::Bitcoin).unwrap(), 0);
    let a = s.transfers(&TransferFilter { address: Some(btc(A)), ..Default::default() }).unwrap();
    assert!(a.iter().any(|r| r.kind == "input" && r.height == Some(1)), "{a:#?}");
    s.rollback_to(Chain::Bitcoin, 1).unwrap();
    assert_eq!(s.unresolved_inputs(Chain::Bitcoin).unwrap(), 1);
    let a = s.transfers(&TransferFilter { address: Some(btc(A)), ..Default::default() }).unwrap();
    assert!(!a.iter().any(|r| r.kind == "input"), "{a:#?}");
    s.check_integrity().unwrap();
}

/// Issue 9 item 13: a damaged segment is reported, naming it, and never read as rows.
#[test]
fn issue_9_item_13_a_damaged_segment_is_refused_by_the_integrity_check_and_the_readers() {
    let dir = tmp();
    let mut s = Store::open(dir.path()).unwrap();
    s.apply_blocks(&chain_blocks(3, 1)).unwrap();
    s.check_integrity().unwrap();
    drop(s);
    let file = dir.path().join("chain").join("seg-0000000001.fgcs");
    let mut data = std::fs::read(&file).unwrap();
    let at = data.len() / 2;
    data[at] ^= 0x10;
    std::fs::write(&file, &data).unwrap();
    let s = Store::open(dir.path()).unwrap();
    let e = s.check_integrity().unwrap_err().to_string();
    assert!(e.contains("chain segment 1") && e.contains("checksum"), "{e}");
    let e = s.transfers(&TransferFilter::default()).unwrap_err().to_string();
    assert!(e.contains("chain segment 1"), "{e}");
}

/// Issue 9 item 13: a store written at schema 4 (Bitcoin rows in the `utxo_outputs` and
/// `utxo_inputs` tables, as the SQLite store wrote them, one of them unresolved) is moved into
/// segments by the first writing open and reads back as the same blocks applied now; its
/// unresolved input is still resolved by a later block. Until moved, a reader refuses it.
#[test]
fn issue_9_item_13_a_schema_4_store_reads_the_same_after_its_rows_move_into_segments() {
    let d = tmp();
    let path = d.path().join(floodgate_store::STORE_FILE);
    let blocks = chain_blocks(3, 1);
    // Height 3 spends an output of a transaction no stored block holds (hash 77).
    let orphan = block(3, 40, 4, B, Some((OutPoint { txid: h(77), vout: 0 }, A)));
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        for sql in [
            include_str!("../migrations/0001_init.sql"),
            include_str!("../migrations/0002_tenant.sql"),
            include_str!("../migrations/0003_ledger_travel_rule.sql"),
            include_str!("../migrations/0004_ledger_fiat_rail.sql"),
        ] {
            c.execute_batch(sql).unwrap();
        }
        c.execute_batch(
            "PRAGMA user_version = 4;
             INSERT OR REPLACE INTO meta (tenant, key, value) VALUES ('', 'schema_version', '4');",
        )
        .unwrap();
        // What the schema-4 write path (`apply_in` before ADR 0004) stored for these blocks.
        for b in blocks.iter().chain([&orphan]) {
            let hd = b.header.as_ref().unwrap();
            let time = hd.time.map(|t| t.0);
            c.execute(
                "INSERT INTO blocks (tenant, chain, height, hash, parent, time, ingested_at) \
                 VALUES ('', 'bitcoin', ?1, ?2, ?3, ?4, 1)",
                rusqlite::params![
                    hd.height as i64,
                    &hd.hash.0[..],
                    hd.parent.map(|p| p.0.to_vec()),
                    time
                ],
            )
            .unwrap();
            for t in &b.utxo_txs {
                for o in &t.outputs {
                    c.execute(
                        "INSERT INTO utxo_outputs (tenant, chain, txid, vout, height, tx_position, time, address, value) \
                         VALUES ('', 'bitcoin', ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                        rusqlite::params![&t.txid.0[..], o.vout, hd.height as i64, t.position, time, o.address.to_string(), o.value.to_u128().unwrap() as i64],
                    )
                    .unwrap();
                }
                for (vin, i) in t.inputs.iter().enumerate() {
                    // Resolved from the stored outputs, as the old path did.
                    let found: Option<(String, i64)> = i.prevout.and_then(|p| {
                        c.query_row(
                            "SELECT address, value FROM utxo_outputs WHERE txid = ?1 AND vout = ?2",
                            rusqlite::params![&p.txid.0[..], p.vout],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )
                        .ok()
                    });
                    c.execute(
                        "INSERT INTO utxo_inputs (tenant, chain, txid, vin, height, tx_position, time, prev_txid, prev_vout, address, value) \
                         VALUES ('', 'bitcoin', ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        rusqlite::params![
                            &t.txid.0[..], vin as i64, hd.height as i64, t.position, time,
                            i.prevout.map(|p| p.txid.0.to_vec()), i.prevout.map(|p| p.vout),
                            found.as_ref().map(|f| f.0.clone()), found.as_ref().map(|f| f.1)
                        ],
                    )
                    .unwrap();
                }
            }
        }
    }
    // A reader of a file not yet brought up is refused (it would miss rows), and writes nothing.
    let old = Store::open_read_only(d.path()).unwrap_err();
    assert!(matches!(old, StoreError::SchemaOld { found: 4, .. }), "{old}");

    let mut s = Store::open(d.path()).unwrap();
    s.check_integrity().unwrap();
    let d2 = tmp();
    let mut fresh = Store::open(d2.path()).unwrap();
    fresh.apply_blocks(&blocks).unwrap();
    fresh.apply_block(&orphan).unwrap();
    assert_eq!(readback(&s), readback(&fresh));
    assert_eq!(s.unresolved_inputs(Chain::Bitcoin).unwrap(), 1);
    let c = rusqlite::Connection::open(&path).unwrap();
    let left: i64 = c
        .query_row(
            "SELECT (SELECT COUNT(*) FROM utxo_outputs) + (SELECT COUNT(*) FROM utxo_inputs)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the rows moved");
    drop(c);
    // A block holding transaction 77 resolves it.
    let funding = UtxoTx {
        txid: h(77),
        position: 1,
        inputs: vec![TxInput { prevout: None, address: None, value: None }],
        outputs: vec![TxOutput { vout: 0, address: btc(A), value: Amount::from(7) }],
    };
    let mut b4 = block(4, 50, 40, A, None);
    b4.utxo_txs.push(funding);
    s.apply_block(&b4).unwrap();
    fresh.apply_block(&b4).unwrap();
    assert_eq!(s.unresolved_inputs(Chain::Bitcoin).unwrap(), 0);
    assert_eq!(readback(&s), readback(&fresh));
    drop(s);
    assert!(Store::open_read_only(d.path()).is_ok());
}

/// Issue 9 item 13: a segment file is referenced only once its group commits. A group refused
/// after its file was written (here: a deep unwind at its end), a file left by a process killed
/// before its commit, and the files of unwound segments are deleted; nothing stored changes.
#[test]
fn issue_9_item_13_segment_files_no_commit_names_are_deleted() {
    let dir = tmp();
    let chain_dir = dir.path().join("chain");
    let files = || {
        let mut f: Vec<String> = std::fs::read_dir(&chain_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        f.sort();
        f
    };
    let mut s = Store::open(dir.path()).unwrap();
    let blocks = chain_blocks(110, 1);
    s.apply_blocks(&blocks[..105]).unwrap();
    assert_eq!(files(), vec!["seg-0000000001.fgcs"]);
    let before = readback(&s);
    // Blocks 105..110, then a competing block 1: the unwind is too deep, the group refused.
    let mut group = blocks[105..].to_vec();
    group.push(block(1, 200, 2, B, None));
    assert!(matches!(s.apply_blocks(&group), Err(StoreError::UnwindTooDeep { .. })));
    assert_eq!(files(), vec!["seg-0000000001.fgcs"], "the refused group's file is gone");
    assert_eq!(readback(&s), before);
    drop(s);
    // What a kill -9 between writing a file and committing leaves.
    std::fs::write(chain_dir.join("seg-0000000077.fgcs"), b"torn").unwrap();
    std::fs::write(chain_dir.join("seg-0000000078.fgcs.tmp"), b"torn").unwrap();
    let mut s = Store::open(dir.path()).unwrap();
    assert_eq!(files(), vec!["seg-0000000001.fgcs"]);
    assert_eq!(readback(&s), before);
    s.check_integrity().unwrap();
    s.rollback_to(Chain::Bitcoin, 50).unwrap();
    assert_eq!(files().len(), 1, "the cut segment replaced the old one: {:?}", files());
    assert_ne!(files(), vec!["seg-0000000001.fgcs"]);
    s.check_integrity().unwrap();
}

/// The listing as JSON lines, as `floodgate transfers --format jsonl` prints it.
fn jsonl(s: &Store, f: &TransferFilter) -> String {
    s.transfers(f).unwrap().iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect()
}

/// Checks that `s` lists `expected` (a frozen build's JSON lines), and for each of
/// `addresses` the lines that name it (at least 8); returns the first address's lines.
fn assert_lists_as(s: &Store, expected: &str, addresses: &[&str]) -> String {
    assert_eq!(jsonl(s, &TransferFilter::default()), expected);
    let mut first = None;
    for a in addresses {
        let mine: String = expected
            .lines()
            .filter(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["from"] == *a || v["to"] == *a
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(mine.lines().count() >= 8, "{a}");
        assert_eq!(jsonl(s, &TransferFilter { address: Some(btc(a)), ..Default::default() }), mine);
        first.get_or_insert(mine);
    }
    first.unwrap_or_default()
}

/// Issue 9 item 13: a store written by the SQLite store itself (schema 4, frozen in
/// `tests/data/schema4-store`, see its README) lists exactly what that build listed once its
/// rows are moved into segments, by address too, and keeps resolving inputs.
#[test]
fn issue_9_item_13_a_store_written_at_schema_4_by_the_old_code_reads_the_same() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schema4-store");
    let d = tmp();
    std::fs::copy(fixture.join("transfers.db"), d.path().join(floodgate_store::STORE_FILE))
        .unwrap();
    let expected = std::fs::read_to_string(fixture.join("transfers.jsonl")).unwrap();
    let s = Store::open(d.path()).unwrap();
    s.check_integrity().unwrap();
    assert_lists_as(
        &s,
        &expected,
        &["1dice97ECuByXAvqXpaYzSaQuPVvrtmz6", "1MSzmVTBaaSpKDARK3VGvP8v7aCtwZ9zbw"],
    );
    let st = s.stats().unwrap();
    let c = &st.chains[0];
    assert_eq!(
        (c.blocks, c.outputs, c.inputs, c.unresolved_inputs),
        (2, 417, 454, 417),
        "what `floodgate status` showed on the old build"
    );
    let mut legs = 0;
    s.for_each_leg(Chain::Bitcoin, None, |_| {
        legs += 1;
        Ok::<(), StoreError>(())
    })
    .unwrap();
    assert_eq!(
        legs,
        417 + (454 - 417 - 2),
        "every output and every resolved input (not the 2 coinbase inputs)"
    );
}

const MORE: [&str; 2] =
    ["3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"];

/// A hash for test chains of any length: `n` big-endian, then `tag`.
fn hn(n: u64, tag: u8) -> Hash32 {
    let mut b = [tag; 32];
    b[..8].copy_from_slice(&n.to_be_bytes());
    Hash32(b)
}

/// Block `n` of a long chain: a coinbase paying one of four addresses and, from height 1, a
/// transaction spending the coinbase below to two of them.
fn long_block(n: u64) -> ChainBlock {
    let addrs = [A, B, MORE[0], MORE[1]];
    let pay = |i: u64| btc(addrs[(i % 4) as usize]);
    let mut txs = vec![UtxoTx {
        txid: hn(n, 2),
        position: 0,
        inputs: vec![TxInput { prevout: None, address: None, value: None }],
        outputs: vec![TxOutput { vout: 0, address: pay(n), value: Amount::from(50_0000_0000) }],
    }];
    if n > 0 {
        txs.push(UtxoTx {
            txid: hn(n, 3),
            position: 1,
            inputs: vec![TxInput {
                prevout: Some(OutPoint { txid: hn(n - 1, 2), vout: 0 }),
                address: None,
                value: None,
            }],
            outputs: vec![
                TxOutput { vout: 0, address: pay(n + 1), value: Amount::from(30_0000_0000) },
                TxOutput { vout: 1, address: pay(n + 2), value: Amount::from(n) },
            ],
        });
    }
    let header = BlockHeader {
        chain: Chain::Bitcoin,
        height: n,
        hash: hn(n, 1),
        parent: (n > 0).then(|| hn(n - 1, 1)),
        time: Some(Timestamp(1_231_006_505 + n as i64 * 600)),
    };
    ChainBlock { header: Some(header), utxo_txs: txs, transfers: vec![] }
}

fn segment_files(dir: &std::path::Path) -> Vec<String> {
    let mut f: Vec<String> = std::fs::read_dir(dir.join("chain"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    f.sort();
    f
}

/// Issue 9 item 13 (compaction): a live ingest commits one group, so one segment, per block.
/// After 600 such blocks — ten of them held back and stored 100 blocks later, so inputs wait
/// for their funding output and segments overlap in height — merged segments leave a handful
/// of files, and every listing, count, leg, re-ingest and unwind reads as one group of the
/// same blocks does.
#[test]
fn issue_9_item_13_live_ingest_of_single_block_groups_ends_with_few_segments() {
    let blocks: Vec<ChainBlock> = (0..600).map(long_block).collect();
    let (d1, d2) = (tmp(), tmp());
    let mut live = Store::open(d1.path()).unwrap();
    let late = 200..210usize;
    for (i, b) in blocks.iter().enumerate() {
        if late.contains(&i) {
            continue;
        }
        live.apply_block(b).unwrap();
        if i == 310 {
            for b in &blocks[late.clone()] {
                live.apply_block(b).unwrap();
            }
        }
    }
    let mut one = Store::open(d2.path()).unwrap();
    one.apply_blocks(&blocks).unwrap();
    let expected = readback(&one);
    assert!(expected.contains("unresolved 0"), "{expected}");
    assert_eq!(readback(&live), expected);
    live.check_integrity().unwrap();
    let files = segment_files(d1.path());
    // 1,799 rows: three times log3 of it is 20.4.
    assert!(files.len() <= 20, "{} segment files: {files:?}", files.len());
    assert_eq!(live.compact().unwrap().merges, 0, "nothing left to merge");
    // Reopened, re-ingested (nothing new), then unwound inside a merged segment.
    drop(live);
    let mut live = Store::open(d1.path()).unwrap();
    assert_eq!(readback(&live), expected);
    for b in &blocks {
        assert_eq!(live.apply_block(b).unwrap().new_transactions, 0);
    }
    assert_eq!(readback(&live), expected);
    live.rollback_to(Chain::Bitcoin, 333).unwrap();
    one.rollback_to(Chain::Bitcoin, 333).unwrap();
    assert_eq!(readback(&live), readback(&one));
    live.check_integrity().unwrap();
    // And back to the tip block by block.
    for b in &blocks[334..] {
        live.apply_block(b).unwrap();
    }
    assert_eq!(readback(&live), expected);
    assert!(segment_files(d1.path()).len() <= 20);
}

/// The child of [`issue_9_item_13_kill_9_during_compaction_loses_nothing`]: stores blocks one
/// by one in the directory it is given and, at the `N`th merge's `STEP`, writes the height of
/// the block just stored to a marker file and waits to be killed. Does nothing when run
/// without the variable.
#[test]
#[ignore = "run as a child process by the kill -9 compaction test"]
fn compaction_child_waits_to_be_killed() {
    let Ok(spec) = std::env::var("FLOODGATE_TEST_COMPACT_CHILD") else { return };
    let mut it = spec.splitn(3, ':');
    let (step, nth, dir) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let nth: u64 = nth.parse().unwrap();
    let dir = std::path::PathBuf::from(dir);
    let mut s = Store::open(&dir).unwrap();
    let height = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (h, marker, step) = (height.clone(), dir.join("paused"), step.to_owned());
    let mut seen = 0;
    s.set_compact_pause(move |at| {
        if format!("{at:?}") != step {
            return;
        }
        seen += 1;
        if seen == nth {
            let h = h.load(std::sync::atomic::Ordering::SeqCst);
            std::fs::write(&marker, h.to_string()).unwrap();
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
    });
    for n in 0..400 {
        height.store(n, std::sync::atomic::Ordering::SeqCst);
        s.apply_block(&long_block(n)).unwrap();
    }
    panic!("the compaction to pause at never came");
}

/// Issue 9 item 13 (compaction): a process killed with SIGKILL inside a merge — its merged
/// file written but not committed, or committed with the merged files not yet deleted —
/// leaves a store that opens, passes its integrity check, holds exactly the blocks stored
/// before the kill (as one group of them reads), and has no file no manifest row names; a
/// rerun completes it.
#[test]
fn issue_9_item_13_kill_9_during_compaction_loses_nothing() {
    use std::time::{Duration, Instant};
    let all: Vec<ChainBlock> = (0..400).map(long_block).collect();
    for (step, nth) in [("Written", 1), ("Written", 7), ("Committed", 3), ("Committed", 12)] {
        let d = tmp();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["compaction_child_waits_to_be_killed", "--exact", "--ignored", "--nocapture"])
            .env("FLOODGATE_TEST_COMPACT_CHILD", format!("{step}:{nth}:{}", d.path().display()))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let marker = d.path().join("paused");
        let deadline = Instant::now() + Duration::from_secs(300);
        while !marker.exists() || std::fs::read_to_string(&marker).unwrap().is_empty() {
            assert!(Instant::now() < deadline, "the child never reached {step} {nth}");
            assert!(child.try_wait().unwrap().is_none(), "the child ended before {step} {nth}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let stored: usize = std::fs::read_to_string(&marker).unwrap().parse::<usize>().unwrap() + 1;
        child.kill().unwrap(); // SIGKILL: no destructor, no cleanup
        child.wait().unwrap();
        let files_left = segment_files(d.path());
        let mut s = Store::open(d.path()).unwrap();
        s.check_integrity().unwrap();
        let named = segment_files(d.path());
        if step == "Written" {
            assert_eq!(named.len() + 1, files_left.len(), "{step} {nth}: the merged file went");
        } else {
            assert!(named.len() + 4 <= files_left.len(), "{step} {nth}: merged files went");
        }
        let d2 = tmp();
        let mut fresh = Store::open(d2.path()).unwrap();
        fresh.apply_blocks(&all[..stored]).unwrap();
        assert_eq!(readback(&s), readback(&fresh), "{step} {nth}: {stored} blocks");
        for b in &all {
            s.apply_block(b).unwrap();
        }
        fresh.apply_blocks(&all[stored..]).unwrap();
        assert_eq!(readback(&s), readback(&fresh), "{step} {nth}: completed");
        s.check_integrity().unwrap();
    }
}

/// Issue 9 item 13: segments of layout 1 (their runs in the manifest), written by the build
/// before layout 2 (frozen in `tests/data/segment-v1-store`, see its README), list what that
/// build listed, by address too; a new block spending one of their outputs is resolved
/// through their runs; merged with newer segments they become one segment of layout 2 that
/// lists the same.
#[test]
fn issue_9_item_13_segments_of_layout_1_read_the_same() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/segment-v1-store");
    let d = tmp();
    std::fs::create_dir(d.path().join("chain")).unwrap();
    std::fs::copy(fixture.join("transfers.db"), d.path().join(floodgate_store::STORE_FILE))
        .unwrap();
    for f in ["seg-0000000001.fgcs", "seg-0000000002.fgcs"] {
        std::fs::copy(fixture.join("chain").join(f), d.path().join("chain").join(f)).unwrap();
    }
    let expected = std::fs::read_to_string(fixture.join("transfers.jsonl")).unwrap();
    let mut s = Store::open(d.path()).unwrap();
    s.check_integrity().unwrap();
    let a = "1dice97ECuByXAvqXpaYzSaQuPVvrtmz6";
    let mine = assert_lists_as(&s, &expected, &[a]);
    let c = &s.stats().unwrap().chains[0];
    assert_eq!((c.blocks, c.outputs, c.inputs, c.unresolved_inputs), (2, 417, 454, 417));

    // A block spending the first output of block 227836, found through its layout-1 run.
    let first_out: serde_json::Value = expected
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["height"] == 227_836 && v["kind"] == "output")
        .unwrap();
    let funding = Hash32::from_hex(first_out["txid"].as_str().unwrap()).unwrap();
    let vout: u32 = first_out["index"].as_str().unwrap()[4..].parse().unwrap();
    let (tip, tip_hash) = s.chain_tip(Chain::Bitcoin).unwrap().unwrap();
    let new_block = |height: u64, parent: Hash32, spend: Option<OutPoint>| {
        let mut txs = vec![UtxoTx {
            txid: hn(height, 7),
            position: 0,
            inputs: vec![TxInput { prevout: None, address: None, value: None }],
            outputs: (0..300)
                .map(|v| TxOutput {
                    vout: v,
                    address: btc(MORE[1]),
                    value: Amount::from(u64::from(v)),
                })
                .collect(),
        }];
        if let Some(prevout) = spend {
            txs.push(UtxoTx {
                txid: hn(height, 8),
                position: 1,
                inputs: vec![TxInput { prevout: Some(prevout), address: None, value: None }],
                outputs: vec![TxOutput { vout: 0, address: btc(A), value: Amount::from(1) }],
            });
        }
        let header = BlockHeader {
            chain: Chain::Bitcoin,
            height,
            hash: hn(height, 1),
            parent: Some(parent),
            time: Some(Timestamp(1_365_000_000 + height as i64)),
        };
        ChainBlock { header: Some(header), utxo_txs: txs, transfers: vec![] }
    };
    let out = s
        .apply_block(&new_block(tip + 1, tip_hash, Some(OutPoint { txid: funding, vout })))
        .unwrap();
    assert_eq!(out.inputs_resolved_from_store, 1);
    let spent = s
        .transfers(&TransferFilter::default())
        .unwrap()
        .into_iter()
        .find(|r| r.height == Some(tip + 1) && r.kind == "input" && r.from.is_some())
        .unwrap();
    assert_eq!(spent.from.as_deref(), first_out["to"].as_str());
    let before = jsonl(&s, &TransferFilter::default());
    assert!(before.starts_with(&expected));
    // One more block: four segments, merged into one of layout 2.
    s.apply_block(&new_block(tip + 2, hn(tip + 1, 1), None)).unwrap();
    let files = segment_files(d.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let head = std::fs::read(d.path().join("chain").join(&files[0])).unwrap();
    assert_eq!(head[8..12], 2u32.to_le_bytes(), "layout 2");
    let after = jsonl(&s, &TransferFilter::default());
    assert!(after.starts_with(&before), "the merged segment lists what its parts listed");
    assert_eq!(jsonl(&s, &TransferFilter { address: Some(btc(a)), ..Default::default() }), mine);
    s.check_integrity().unwrap();
    drop(s);
    assert_eq!(jsonl(&Store::open(d.path()).unwrap(), &TransferFilter::default()), after);
}

/// Issue 9 item 13 (compaction): a listing that reads while another handle merges the
/// segments it reads (the merge committed, its parts' files not yet deleted) lists what the
/// store held when it started, the later resolution the merge moved included. (Before the
/// listing was one read transaction it failed here, its segments' manifest rows gone; had the
/// merge committed between its reading a segment and that segment's later resolutions, it
/// would have shown the input unresolved.)
#[test]
fn issue_9_item_13_a_listing_beside_a_merge_reads_one_snapshot() {
    use std::sync::mpsc;
    let d = tmp();
    let mut w = Store::open(d.path()).unwrap();
    // Block 1 before block 0: its input is resolved later (a fill). Three segments.
    for n in [1, 0, 2] {
        w.apply_block(&long_block(n)).unwrap();
    }
    assert_eq!(segment_files(d.path()).len(), 3);
    let r = Store::open(d.path()).unwrap();
    let expected = r.transfers(&TransferFilter::default()).unwrap();
    assert!(expected.iter().any(|t| t.height == Some(1) && t.kind == "input" && t.from.is_some()));

    let (go, start) = mpsc::channel::<()>();
    let (committed, wait_commit) = mpsc::channel::<()>();
    let (listed, wait_listed) = mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        start.recv().unwrap();
        let mut fired = false;
        w.set_compact_pause(move |step| {
            if step == floodgate_store::CompactStep::Committed && !fired {
                fired = true;
                committed.send(()).unwrap();
                wait_listed.recv().unwrap();
            }
        });
        // Block 3: four segments, merged into one while the listing runs.
        w.apply_block(&long_block(3)).unwrap();
        w
    });
    let mut seen = Vec::new();
    let mut first = true;
    r.for_each_transfer(&TransferFilter::default(), |row| {
        if first {
            first = false;
            go.send(()).unwrap();
            wait_commit.recv().unwrap();
        }
        seen.push(row);
        Ok::<(), floodgate_store::StoreError>(())
    })
    .unwrap();
    listed.send(()).unwrap();
    let w = writer.join().unwrap();
    assert_eq!(seen, expected, "the listing saw the store as it was when it started");
    assert_eq!(segment_files(d.path()).len(), 1, "merged");
    let d2 = tmp();
    let mut fresh = Store::open(d2.path()).unwrap();
    fresh.apply_blocks(&(0..4).map(long_block).collect::<Vec<_>>()).unwrap();
    assert_eq!(readback(&w), readback(&fresh));
    assert_eq!(readback(&r), readback(&fresh));
}
