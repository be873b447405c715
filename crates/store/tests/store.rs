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
    assert_eq!((v, meta.as_str()), (4, "4"));
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
