//! floodgate-graph tests: segments against a naive model, clustering against a naive
//! union-find, corruption.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use floodgate_graph::{EdgeInput, Graph, GraphBuilder, GraphError, NodeId, NodeKind};
use floodgate_types::{Amount, Chain, Hash32};
use proptest::prelude::*;

mod fixtures;

use fixtures::{build, build_utxo, edges_strategy, first_segment, key, RawEdge, RawTx, ASSETS};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Out- and in-edges of every node equal a naive HashMap model, across two segments.
    #[test]
    fn segments_equal_a_naive_model((n, edges, split) in edges_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let (g, ids) = build(dir.path(), n, &edges, split);
        g.verify().unwrap();
        ends_are_the_edges(&g);
        prop_assert_eq!(g.edge_count(), edges.len() as u64);
        let mut out: HashMap<u32, Vec<(u32, u128, u8)>> = HashMap::new();
        let mut inn: HashMap<u32, Vec<(u32, u128, u8)>> = HashMap::new();
        for &(f, t, a, _, asset, _) in &edges {
            out.entry(f).or_default().push((t, a, asset));
            inn.entry(t).or_default().push((f, a, asset));
        }
        for i in 0..n {
            if ids[i as usize].0 == u32::MAX { continue; }
            let node = ids[i as usize];
            prop_assert_eq!(g.lookup(&key(i)), Some(node));
            prop_assert_eq!(g.key(node), key(i));
            let back = |id: NodeId| ids.iter().position(|&x| x == id).unwrap() as u32;
            let asset_ix = |s: &str| ASSETS.iter().position(|&a| a == s).unwrap() as u8;
            // Out-edges keep insertion order (segment by segment, each stable).
            let got: Vec<_> = g.out_edges(node)
                .map(|e| (back(e.dst), e.amount.to_u128().unwrap(), asset_ix(e.asset))).collect();
            let want_out = out.get(&i).cloned().unwrap_or_default();
            prop_assert_eq!(&got, &want_out);
            let mut got: Vec<_> = g.in_edges(node)
                .map(|e| (back(e.src), e.amount.to_u128().unwrap(), asset_ix(e.asset))).collect();
            let mut want = inn.get(&i).cloned().unwrap_or_default();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
        }
        prop_assert_eq!(g.lookup("0xnot-there"), None);
    }
}

/// Every node's `in_ends` and `out_ends` are its `in_edges` and `out_edges` without their
/// times and transactions, in the same order.
fn ends_are_the_edges(g: &Graph) {
    for n in (0..g.node_count()).map(NodeId) {
        let ends = |e: floodgate_graph::Edge<'_>| (e.src, e.dst, e.amount, e.asset.to_owned());
        let lean = |e: floodgate_graph::EdgeEnds<'_>| (e.src, e.dst, e.amount, e.asset.to_owned());
        let (ins, outs): (Vec<_>, Vec<_>) =
            (g.in_ends(n).map(lean).collect(), g.out_ends(n).map(lean).collect());
        assert_eq!(ins, g.in_edges(n).map(ends).collect::<Vec<_>>(), "in of node {}", n.0);
        assert_eq!(outs, g.out_edges(n).map(ends).collect::<Vec<_>>(), "out of node {}", n.0);
    }
}

#[test]
fn node_ids_are_stable_across_appends() {
    let dir = tempfile::tempdir().unwrap();
    let e1 = [(0, 1, 5, 10, 0, 1)];
    let (g1, ids1) = build(dir.path(), 3, &e1, 1);
    assert_eq!(g1.segment_count(), 2, "second (empty) part makes a second segment");
    drop(g1);
    let base = Graph::open(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let a = b.node(&key(0), NodeKind::Address).unwrap();
    let c = b.node(&key(2), NodeKind::Address).unwrap();
    assert_eq!(a, ids1[0]);
    assert_eq!(c, NodeId(2));
    let e = EdgeInput {
        amount: Amount::from(7u64),
        time: None,
        asset: "ETH",
        txid: Hash32([3; 32]),
        chain: Chain::Ethereum,
    };
    b.add_edge(a, c, &e).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    assert_eq!(g.segment_count(), 3);
    assert_eq!(g.lookup(&key(0)), Some(ids1[0]));
    assert_eq!(g.lookup(&key(1)), Some(ids1[1]));
    let outs: Vec<_> = g.out_edges(a).map(|e| (e.dst, e.amount)).collect();
    assert_eq!(outs, vec![(ids1[1], Amount::from(5u64)), (c, Amount::from(7u64))]);
    let ins: Vec<_> = g.in_edges(c).map(|e| (e.src, e.txid_string())).collect();
    assert_eq!(ins, vec![(a, format!("0x{}", "03".repeat(32)))]);
}

#[test]
fn a_damaged_segment_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let edges: Vec<RawEdge> =
        (0..20).map(|i| (i % 5, (i + 1) % 5, 100 + i as u128, 1, 0, 1)).collect();
    build(dir.path(), 5, &edges, 20);
    let seg = first_segment(dir.path());
    let good = std::fs::read(&seg).unwrap();

    // A flipped header byte: refused on open.
    let mut bad = good.clone();
    bad[20] ^= 0x01;
    std::fs::write(&seg, &bad).unwrap();
    let err = Graph::open(dir.path()).unwrap_err();
    assert!(matches!(err, GraphError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("seg-000001.fgs"), "{err}");

    // A flipped edge byte: found by verify, naming the section.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 200] ^= 0x40;
    std::fs::write(&seg, &bad).unwrap();
    match Graph::open(dir.path()) {
        Ok(g) => {
            let err = g.verify().unwrap_err();
            assert!(err.to_string().contains("seg-000001.fgs"), "{err}");
            assert!(err.to_string().contains("checksum mismatch"), "{err}");
        }
        Err(err) => assert!(matches!(err, GraphError::Corrupt { .. }), "{err}"),
    }

    // Truncated: refused, never a panic.
    for len in [0, 10, 700, good.len() - 8] {
        std::fs::write(&seg, &good[..len]).unwrap();
        let err = Graph::open(dir.path()).unwrap_err();
        assert!(matches!(err, GraphError::Corrupt { .. }), "len {len}: {err}");
    }
    // Not a graph at all.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(Graph::open(empty.path()), Err(GraphError::NotBuilt { .. })));
}

/// A graph of a version this build does not read (format 1, text keys) is refused with the
/// command that rebuilds it, whether the manifest or a segment says so. (Format 2 is read:
/// `floodgate-trace`'s frozen fixtures are format-2 graphs.)
#[test]
fn a_graph_of_an_unknown_format_is_refused_with_the_rebuild_command() {
    let dir = tempfile::tempdir().unwrap();
    let edges: Vec<RawEdge> = (0..4).map(|i| (i, i + 1, 100, 1, 0, 1)).collect();
    build(dir.path(), 5, &edges, 4);
    let m = dir.path().join(floodgate_graph::MANIFEST_FILE);
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(&m, text.replace("\"version\": 7", "\"version\": 1")).unwrap();
    let err = Graph::open(dir.path()).unwrap_err();
    assert!(matches!(err, GraphError::UnsupportedVersion { found: 1, supported: 7, .. }), "{err}");
    assert!(err.to_string().contains("floodgate trace build --rebuild"), "{err}");
    std::fs::write(&m, text).unwrap();
    let seg = first_segment(dir.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let err = Graph::open(dir.path()).unwrap_err();
    assert!(matches!(err, GraphError::UnsupportedVersion { found: 1, .. }), "{err}");
    assert!(err.to_string().contains("seg-000001.fgs: graph segment format version 1"), "{err}");
    // A newer file names itself and says to upgrade (an older binary meeting a newer index or
    // saved pass once called it a graph that was not supported).
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let err = Graph::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("graph segment format version 99 was written by a newer floodgate"),
        "{err}"
    );
    assert!(err.contains("upgrade floodgate"), "{err}");
}

fn tx_strategy() -> impl Strategy<Value = Vec<RawTx>> {
    let tx = (
        proptest::collection::vec(0u32..12, 1..4),
        proptest::collection::vec((0u32..12, 1u64..4), 1..5),
    );
    proptest::collection::vec(tx, 0..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Co-spend clustering equals a naive union-find over the non-CoinJoin transactions;
    /// every `why` explanation is a chain of real co-spends; ids are each cluster's minimum.
    #[test]
    fn clustering_equals_naive_union_find(txs in tx_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let g = build_utxo(dir.path(), &txs);
        ends_are_the_edges(&g);
        let c = floodgate_graph::cluster(&g);
        // Naive: repeatedly merge sets of addresses.
        let mut sets: Vec<std::collections::BTreeSet<u32>> = Vec::new();
        for (ins, outs) in &txs {
            let mut by_value: HashMap<u64, std::collections::BTreeSet<u32>> = HashMap::new();
            for (a, v) in outs { by_value.entry(*v).or_default().insert(*a); }
            let distinct: std::collections::BTreeSet<u32> = ins.iter().copied().collect();
            // The CoinJoin rule (docs/taxonomy.md): k >= 3 addresses paid the most common
            // value (the smallest on a tie), at least k input addresses spending that much
            // (every input here is 100), no output to an input address, and no other output
            // or at least k - 1 of which half are change (an input's spend less the value,
            // within 20,000 units: with these tiny values every funder's is, once each).
            let best = by_value.iter().map(|(v, s)| (s.len(), *v)).max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
            let coinjoin = best.is_some_and(|(k, value)| {
                let funders = distinct.iter().filter(|a| 100 * ins.iter().filter(|x| x == a).count() as u64 >= value).count();
                let c = outs.iter().filter(|(_, v)| *v != value).count();
                let change = c.min(funders);
                let reuse = outs.iter().any(|(a, _)| distinct.contains(a));
                distinct.len() >= 3 && k >= 3 && k <= funders && !reuse
                    && (c == 0 || (c + 1 >= k && 2 * change >= c))
            });
            if coinjoin || ins.len() < 2 { continue; }
            let mut merged = distinct.clone();
            sets.retain(|s| if s.is_disjoint(&distinct) { true } else { merged.extend(s); false });
            sets.push(merged);
        }
        let addr = |a: u32| g.lookup(&format!("1addr{a}"));
        for a in 0..12u32 {
            for b in 0..12u32 {
                let (Some(na), Some(nb)) = (addr(a), addr(b)) else { continue };
                let naive_same = a == b || sets.iter().any(|s| s.contains(&a) && s.contains(&b));
                prop_assert_eq!(c.entity_of(na) == c.entity_of(nb), naive_same, "{} {}", a, b);
                if naive_same && a != b {
                    let steps = c.why(&g, na, nb).unwrap();
                    prop_assert!(!steps.is_empty());
                    prop_assert_eq!(&steps[0].a, &format!("1addr{a}"));
                    prop_assert_eq!(&steps.last().unwrap().b, &format!("1addr{b}"));
                    for s in &steps {
                        let tx = g.lookup(&s.tx).unwrap();
                        let ins: Vec<String> = g.in_edges(tx).map(|e| g.key(e.src).into_owned()).collect();
                        prop_assert!(ins.contains(&s.a) && ins.contains(&s.b));
                    }
                } else if !naive_same {
                    prop_assert!(c.why(&g, na, nb).is_none());
                }
            }
        }
        for s in &sets {
            let ids: Vec<u32> = s.iter().map(|&a| addr(a).unwrap().0).collect();
            let e = c.entity_of(NodeId(ids[0]));
            prop_assert_eq!(e.0, *ids.iter().min().unwrap(), "entity id is the smallest node id");
        }
    }
}

#[test]
fn coinjoins_are_not_clustered_and_merges_keep_the_older_id() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![
        (vec![0, 1], vec![(9, 50)]),                       // E(0) = {0, 1}
        (vec![2, 3], vec![(9, 50)]),                       // E(2) = {2, 3}
        (vec![4, 5, 10], vec![(6, 10), (7, 10), (8, 10)]), // CoinJoin: 3 equal outputs
        (vec![1, 3], vec![(9, 5)]),                        // merges E(2) into the older entity
    ];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let n = |a: u32| g.lookup(&format!("1addr{a}")).unwrap();
    assert_ne!(c.entity_of(n(4)), c.entity_of(n(5)), "CoinJoin inputs stay apart");
    assert_ne!(c.entity_of(n(5)), c.entity_of(n(10)), "CoinJoin inputs stay apart");
    assert_eq!(c.coinjoin_count(), 1);
    assert_eq!(c.entity_of(n(0)), c.entity_of(n(3)));
    assert_eq!(c.size_of(n(2)), 4);
    let merges = c.merges(&g);
    assert_eq!(merges.len(), 1, "{merges:?}");
    assert_eq!(merges[0].kept, c.entity_of(n(0)));
    assert_eq!(merges[0].tx, floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([3; 32])));
    let why = c.why(&g, n(0), n(2)).unwrap();
    let txs: Vec<&str> = why.iter().map(|s| s.tx.as_str()).collect();
    assert_eq!(txs.len(), 3, "0-1 (tx 0), 1-3 (tx 3), 3-2 (tx 1): {why:?}");
}

#[test]
fn a_damaged_manifest_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path(), 3, &[(0, 1, 5, 10, 0, 1)], 1);
    let m = dir.path().join(floodgate_graph::MANIFEST_FILE);
    let good = std::fs::read_to_string(&m).unwrap();
    for bad in [
        "{".to_owned(),
        good.replace("seg-000001.fgs", "../seg-000001.fgs"),
        good.replace("seg-000002.fgs", "seg-000009.fgs"),
        good.replacen("\"node_count\": ", "\"node_count\": 1", 1),
    ] {
        std::fs::write(&m, &bad).unwrap();
        let err = Graph::open(dir.path()).unwrap_err();
        assert!(
            matches!(err, GraphError::Corrupt { .. } | GraphError::Io { .. }),
            "{err} for {bad}"
        );
        assert!(
            err.to_string().contains("MANIFEST.json") || err.to_string().contains(".fgs"),
            "{err}"
        );
    }
}

#[test]
fn an_empty_store_builds_an_empty_graph_that_answers_not_in_the_graph() {
    let dir = tempfile::tempdir().unwrap();
    let store = floodgate_store::Store::open(dir.path()).unwrap();
    let gdir = dir.path().join("graph");
    let r = Graph::update_from_store(&gdir, &store).unwrap();
    assert_eq!((r.nodes, r.edges, r.segments), (0, 0, 1));
    let again = Graph::update_from_store(&gdir, &store).unwrap();
    assert_eq!(again.segments, 1, "nothing new, nothing appended");
    let g = Graph::open(&gdir).unwrap();
    let err = g.require("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S").unwrap_err();
    assert_eq!(err.to_string(), "'12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S' is not in the graph");
}

/// Issue 15: a payout that splits two inputs into three equal outputs is one spender's
/// transaction (a CoinJoin's equal outputs never outnumber its distinct input addresses),
/// so its inputs are co-spent; and `trace why` gives one step per joining transaction, not
/// one per link of the chain its inputs were joined by.
#[test]
fn equal_payouts_from_few_inputs_are_co_spends_and_why_cites_each_tx_once() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![
        (vec![0, 1], vec![(6, 10), (7, 10), (8, 10)]), // a pool-style payout, not a CoinJoin
        (vec![1, 2, 3, 4], vec![(9, 50)]),             // one co-spend of four addresses
    ];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let n = |a: u32| g.lookup(&format!("1addr{a}")).unwrap();
    assert_eq!(c.coinjoin_count(), 0);
    assert_eq!(c.entity_of(n(0)), c.entity_of(n(1)), "the payout's inputs are one spender");
    let why = c.why(&g, n(1), n(4)).unwrap();
    assert_eq!(why.len(), 1, "one transaction, one step: {why:?}");
    assert_eq!((why[0].a.as_str(), why[0].b.as_str()), ("1addr1", "1addr4"));
    assert_eq!(why[0].tx, floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([1; 32])));
    let why = c.why(&g, n(0), n(3)).unwrap();
    let got: Vec<(&str, &str)> = why.iter().map(|s| (s.a.as_str(), s.b.as_str())).collect();
    assert_eq!(got, vec![("1addr0", "1addr1"), ("1addr1", "1addr3")], "{why:?}");
}

/// Issue 15: `trace why` listed several steps citing one transaction when the join forest's
/// path left that transaction and came back to it: tx 2 spends 0, 1, 3 and 4, but 1 and 3
/// were already one entity (txs 0 and 1 joined them through 2), so tx 2's links are 0–1 and
/// 3–4 and the path from 0 to 4 ran 0 -tx2- 1 -tx0- 2 -tx1- 3 -tx2- 4. Both 0 and 4 were
/// inputs of tx 2: that is the whole answer, one step.
#[test]
fn why_cites_a_transaction_once_when_the_path_comes_back_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![
        (vec![1, 2], vec![(9, 50)]),       // tx 0 joins 1 and 2
        (vec![2, 3], vec![(9, 50)]),       // tx 1 joins 2 and 3
        (vec![0, 1, 3, 4], vec![(9, 50)]), // tx 2 spends 0, 1, 3 and 4
    ];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let n = |a: u32| g.lookup(&format!("1addr{a}")).unwrap();
    let tx = |i: u8| floodgate_graph::tx_key(Chain::Bitcoin, &Hash32([i; 32]));
    let why = c.why(&g, n(0), n(4)).unwrap();
    let got: Vec<(&str, &str, &str)> =
        why.iter().map(|s| (s.a.as_str(), s.b.as_str(), s.tx.as_str())).collect();
    assert_eq!(got, vec![("1addr0", "1addr4", tx(2).as_str())], "{why:?}");
    // A path that needs the other transactions still names each once, in order.
    let why = c.why(&g, n(0), n(2)).unwrap();
    let got: Vec<(&str, &str, &str)> =
        why.iter().map(|s| (s.a.as_str(), s.b.as_str(), s.tx.as_str())).collect();
    assert_eq!(
        got,
        vec![("1addr0", "1addr1", tx(2).as_str()), ("1addr1", "1addr2", tx(0).as_str())],
        "{why:?}"
    );
    let mut txs: Vec<&str> = why.iter().map(|s| s.tx.as_str()).collect();
    txs.dedup();
    assert_eq!(txs.len(), why.len());
}

/// Issue 15 items 5 and 6: the two-thread build (`add_legs`, keys numbered by text and the
/// new ones encoded on a second thread, the segment encoded in two halves) and the build
/// from stored legs (`add_stored_legs`, checksums not verified again, on one and on two
/// threads) write the very bytes of a one-thread build leg by leg (`add_leg`, every key
/// decoded and verified), for a generated world of Bitcoin, Ethereum and Tron legs over
/// several batches, with legs the build skips among them, also when appended to a first
/// segment.
#[test]
fn every_way_of_adding_legs_writes_the_bytes_of_a_build_leg_by_leg() {
    use floodgate_gen::{GenConfig, World};
    use floodgate_store::export::LegKind;
    let world = World::new(&GenConfig { transfers: 60_000, seed: 7, ..GenConfig::default() });
    let mut legs = world_legs(&world);
    assert!(legs.len() > 50_000);
    // Legs with a missing end (skipped) and an input with a receiver (ignored), whose texts
    // must not be numbered out of step with the legs the build adds.
    for at in [100, 20_000, 40_000] {
        let mut odd = legs[at].clone();
        odd.kind = LegKind::Transfer;
        odd.to = None;
        odd.from = Some(format!("0x{:040x}", at + 7));
        let mut input = legs[at].clone();
        input.kind = LegKind::Input;
        input.from = Some(world.address_key(3));
        input.to = Some(format!("0x{:040x}", at + 9));
        legs.insert(at, odd);
        legs.insert(at + 1, input);
    }
    let split = legs.len() / 3;
    let build = |way: &str| {
        let dir = tempfile::tempdir().unwrap();
        for part in [&legs[..split], &legs[split..]] {
            let base = Graph::open_or_empty(dir.path()).unwrap();
            let threads = if way.ends_with('2') { 2 } else { 1 };
            let mut b = GraphBuilder::new(Some(&base)).with_threads(threads);
            match way {
                "add_leg" => part.iter().for_each(|l| b.add_leg(l).unwrap()),
                "add_legs 2" => b.add_legs(part).unwrap(),
                _ => {
                    // In two calls, so that the texts' numbers carry over from one to the next.
                    let (a, c) = part.split_at(part.len() / 2);
                    b.add_stored_legs(a).unwrap();
                    b.add_stored_legs(c).unwrap();
                }
            }
            b.commit(&base, BTreeMap::new()).unwrap();
        }
        dir
    };
    let one = build("add_leg");
    for way in ["add_legs 2", "add_stored_legs 1", "add_stored_legs 2"] {
        let other = build(way);
        for seg in ["seg-000001.fgs", "seg-000002.fgs"] {
            let a = std::fs::read(one.path().join(seg)).unwrap();
            let b = std::fs::read(other.path().join(seg)).unwrap();
            assert!(a == b, "{seg} differs between add_leg and {way}");
        }
    }
    let g = Graph::open(one.path()).unwrap();
    // Built from legs with no store beside it: the segments alone are checked.
    g.verify_segments().unwrap();
    assert_eq!(g.edge_count(), legs.len() as u64 - 3);
    assert!(g.lookup(&format!("0x{:040x}", 109)).is_none());
}

/// A leg the graph cannot hold, handed to the two-thread build after several runs of good
/// legs, fails the build with its own error (not the worker's hand-over failing), as the
/// one-thread build does.
#[test]
fn a_two_thread_build_reports_the_failing_legs_own_error() {
    use floodgate_store::export::{ExportLeg, LegKind};
    let leg = |i: u64, time: i64| ExportLeg {
        chain: Chain::Ethereum,
        height: i,
        time: Some(time),
        txid: Hash32([(i % 251) as u8; 32]),
        kind: LegKind::Transfer,
        from: Some(format!("0x{:040x}", i % 1000)),
        to: Some(format!("0x{:040x}", 1000 + i % 1000)),
        asset: "ETH".into(),
        amount: Amount::from(i),
    };
    let mut legs: Vec<ExportLeg> = (0..40_000).map(|i| leg(i, 1_700_000_000)).collect();
    legs.push(leg(40_000, -5));
    legs.extend((40_001..50_000).map(|i| leg(i, 1_700_000_000)));
    for threads in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let base = Graph::open_or_empty(dir.path()).unwrap();
        let mut b = GraphBuilder::new(Some(&base)).with_threads(threads);
        let err = b.add_legs(&legs).unwrap_err();
        assert!(
            matches!(&err, GraphError::Limit { detail } if detail.contains("time -5")),
            "{threads} thread(s): {err}"
        );
        assert_eq!(b.edge_count(), 40_000, "{threads} thread(s): the legs before it are added");
    }
}

/// Graph format 3 names only account transfers by store row: a Bitcoin leg whose time
/// differs from its transaction node's (so it is not recorded through the node) keeps its
/// transaction id in the graph, which needs no store to be shown.
#[test]
fn a_utxo_leg_recorded_apart_from_its_transaction_node_keeps_its_id() {
    use floodgate_graph::TxRef;
    use floodgate_store::export::{ExportLeg, LegKind};
    let txid = Hash32([0x42; 32]);
    let leg = |kind, time: i64, addr: &str| ExportLeg {
        chain: Chain::Bitcoin,
        height: 7,
        time: Some(time),
        txid,
        kind,
        from: (kind == LegKind::Input).then(|| addr.to_owned()),
        to: (kind == LegKind::Output).then(|| addr.to_owned()),
        asset: "BTC".to_owned(),
        amount: Amount::from(1_000u64),
    };
    let dir = tempfile::tempdir().unwrap();
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    b.add_leg(&leg(LegKind::Input, 1_700_000_000, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")).unwrap();
    b.add_leg(&leg(LegKind::Output, 1_700_000_600, "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    let to = g.require("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3").unwrap();
    let e = g.in_edges(to).next().unwrap();
    assert_eq!((e.tx, e.time), (TxRef::Id(txid), Some(1_700_000_600)));
    assert_eq!(e.txid_string(), "42".repeat(32));
    g.verify().unwrap();
}

/// Format 4 keeps mainnet P2PKH and P2WPKH keys shorter than formats 2 and 3 did, and codes
/// reverse entries differently; a graph of an older format is still read and appended to,
/// and the addresses of its segments keep their ids (the builder and lookups take either
/// form). The older graph is the frozen format-2 graph of the CLI's fixtures (read only).
#[test]
fn a_new_segment_appended_to_an_older_graph_keeps_its_addresses() {
    use floodgate_store::export::{ExportLeg, LegKind};
    const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
    const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";
    const FRESH: &str = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
    let frozen = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../cli/tests/fixtures/formats/datadir/graph");
    let dir = tempfile::tempdir().unwrap();
    for f in [floodgate_graph::MANIFEST_FILE, "seg-000001.fgs"] {
        std::fs::copy(frozen.join(f), dir.path().join(f)).unwrap();
    }
    let old = Graph::open(dir.path()).unwrap();
    let (satoshi, hal) = (old.require(SATOSHI).unwrap(), old.require(HAL).unwrap());
    let hal_in = old.in_edges(hal).count();
    let before = old.node_count();
    let txid = Hash32([0x5a; 32]);
    let leg = |kind, addr: &str| ExportLeg {
        chain: Chain::Bitcoin,
        height: 439,
        time: Some(1_231_800_000),
        txid,
        kind,
        from: (kind == LegKind::Input).then(|| addr.to_owned()),
        to: (kind == LegKind::Output).then(|| addr.to_owned()),
        asset: "BTC".to_owned(),
        amount: Amount::from(5_000u64),
    };
    // Block 170's transaction (Satoshi → Hal), a transaction node of the old segment.
    let tx170 = "tx:bitcoin:f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16";
    let old_tx = old.require(tx170).unwrap();
    let mut b = GraphBuilder::new(Some(&old));
    assert_eq!(b.node(tx170, NodeKind::Transaction).unwrap(), old_tx);
    b.add_leg(&leg(LegKind::Input, SATOSHI)).unwrap();
    b.add_leg(&leg(LegKind::Output, HAL)).unwrap();
    b.add_leg(&leg(LegKind::Output, FRESH)).unwrap();
    b.commit(&old, old.tips().clone()).unwrap();
    drop(old);
    let g = Graph::open(dir.path()).unwrap();
    g.verify_segments().unwrap();
    let seg2 = std::fs::read(dir.path().join("seg-000002.fgs")).unwrap();
    assert_eq!(seg2[8..12], 7u32.to_le_bytes(), "the new segment is format 7");
    assert_eq!(g.node_count(), before + 2, "only the transaction and the new address are new");
    assert_eq!((g.lookup(SATOSHI), g.lookup(HAL)), (Some(satoshi), Some(hal)));
    assert_eq!(g.lookup(tx170), Some(old_tx));
    assert_eq!(g.key(old_tx), tx170);
    let fresh = g.require(FRESH).unwrap();
    assert_eq!(g.key(fresh), FRESH);
    assert_eq!(g.key(satoshi), SATOSHI);
    let tx = g.require(&floodgate_graph::tx_key(Chain::Bitcoin, &txid)).unwrap();
    assert!(g.out_edges(satoshi).any(|e| e.dst == tx));
    assert_eq!(g.in_edges(hal).count(), hal_in + 1);
    let srcs: Vec<NodeId> = g.in_edges(tx).map(|e| e.src).collect();
    assert_eq!(srcs, [satoshi]);
    assert_eq!(
        g.in_edges(fresh).map(|e| (e.src, e.amount)).collect::<Vec<_>>(),
        [(tx, Amount::from(5_000u64))]
    );
}

/// Every node of `g` (kind and key) and every edge as read (out-edges, then in-edges, each
/// in stored order, with the storage order `Graph::legs` gives), one line each: what a
/// frozen graph must still read as. `Graph::legs_cached`, one cache over the whole dump (as
/// one causal query reads many lists), and `Graph::legs_timed`, one table of times over the
/// whole dump (as the exposure index's listing reads every list), must give the legs
/// `Graph::legs` gives, and `Graph::legs_timed_all` each asset's among the legs of all.
fn dump(g: &Graph) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let assets = g.assets();
    let places = g.asset_places();
    let mut legs = Vec::new();
    let (mut cached, mut cache) = (Vec::new(), floodgate_graph::LegCache::default());
    let (mut timed, mut times) = (Vec::new(), floodgate_graph::TxTimes::new(g));
    let (mut all, mut all_times) = (Vec::new(), floodgate_graph::TxTimes::new(g));
    for n in 0..g.node_count() {
        let n = NodeId(n);
        writeln!(s, "node {} {:?} {}", n.0, g.kind(n), g.key(n)).unwrap();
        let edge = |e: floodgate_graph::Edge<'_>| {
            format!(
                "{} {} {} {} {:?} {:?} {:?}",
                e.src.0, e.dst.0, e.amount, e.asset, e.time, e.chain, e.tx
            )
        };
        for e in g.out_edges(n) {
            writeln!(s, "  out {}", edge(e)).unwrap();
        }
        for e in g.in_edges(n) {
            writeln!(s, "  in {}", edge(e)).unwrap();
        }
        for incoming in [false, true] {
            all.clear();
            g.legs_timed_all(n, incoming, &places, &mut all, &mut all_times);
            for (i, asset) in assets.iter().enumerate() {
                legs.clear();
                g.legs(n, incoming, asset, &mut legs);
                let of_asset: Vec<_> =
                    all.iter().filter(|(a, _)| *a == i as u32).map(|(_, l)| *l).collect();
                assert_eq!(of_asset, legs, "node {} {asset} incoming {incoming}, all", n.0);
            }
            assert!(all.iter().all(|(a, _)| (*a as usize) < assets.len()));
        }
        for asset in &assets {
            for incoming in [false, true] {
                legs.clear();
                g.legs(n, incoming, asset, &mut legs);
                cached.clear();
                g.legs_cached(n, incoming, asset, &mut cached, &mut cache);
                assert_eq!(cached, legs, "node {} {asset} incoming {incoming}", n.0);
                timed.clear();
                g.legs_timed(n, incoming, asset, &mut timed, &mut times);
                assert_eq!(timed, legs, "node {} {asset} incoming {incoming}, timed", n.0);
                for l in &legs {
                    writeln!(
                        s,
                        "  leg {asset} {incoming} {} {} {} {}",
                        l.nb.0, l.amount, l.time, l.seq
                    )
                    .unwrap();
                }
            }
        }
    }
    s
}

/// `tests/data/graph-v4`: a graph written once by the format-4 build (commit 14f08f1) and
/// never rewritten — two segments of a small generated world's legs as the transfer store
/// exports them (UTXO legs, account transfers named by store row), the second with four
/// edges added without a store row — still opens, verifies, and reads as it did when it was
/// written (`graph.txt`, its dump then: every key and every edge in stored order, with the
/// storage order the causal models replay by).
#[test]
fn the_frozen_format_4_graph_reads_as_it_was_written() {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/graph-v4");
    let g = Graph::open(&data.join("graph")).unwrap();
    g.verify_segments().unwrap();
    let want = std::fs::read_to_string(data.join("graph.txt")).unwrap();
    let got = dump(&g);
    for (i, (a, b)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
    g.damage().unwrap();

    // Appended to, in today's format: the old nodes keep their ids and edges.
    let dir = tempfile::tempdir().unwrap();
    for f in [floodgate_graph::MANIFEST_FILE, "seg-000001.fgs", "seg-000002.fgs"] {
        std::fs::copy(data.join("graph").join(f), dir.path().join(f)).unwrap();
    }
    let old = Graph::open(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&old));
    let (a, c) = (NodeId(0), NodeId(1));
    let fresh = b.node("0x52908400098527886E0F7030069857D2E4169EE8", NodeKind::Address).unwrap();
    for (f, t) in [(a, fresh), (fresh, c), (c, a)] {
        let e = EdgeInput {
            amount: Amount::from(77u64),
            time: Some(1_800_000_000),
            asset: "BTC",
            txid: Hash32([9; 32]),
            chain: Chain::Bitcoin,
        };
        b.add_edge(f, t, &e).unwrap();
    }
    b.commit(&old, BTreeMap::new()).unwrap();
    drop(old);
    let g2 = Graph::open(dir.path()).unwrap();
    g2.verify_segments().unwrap();
    let seg3 = std::fs::read(dir.path().join("seg-000003.fgs")).unwrap();
    assert_eq!(seg3[8..12], 7u32.to_le_bytes(), "the new segment is format 7");
    for n in (0..g.node_count()).map(NodeId) {
        assert_eq!(g2.key(n), g.key(n));
        let old_out: Vec<_> = g.out_edges(n).map(|e| (e.dst, e.amount, e.time)).collect();
        let new_out: Vec<_> = g2.out_edges(n).map(|e| (e.dst, e.amount, e.time)).collect();
        assert_eq!(new_out[..old_out.len()], old_out[..]);
    }
    let seven = |n: NodeId| g2.out_edges(n).filter(|e| e.amount == Amount::from(77u64)).count();
    assert_eq!((seven(a), seven(fresh), seven(c)), (1, 1, 1));
    assert_eq!(g2.in_edges(fresh).map(|e| e.src).collect::<Vec<_>>(), [a]);
}

/// The legs the frozen graph of `tests/data/graph-v4` was built from: `floodgate-gen`'s world
/// with seed 3 and 600 transfers, as the transfer store exports them.
fn frozen_world_legs() -> Vec<floodgate_store::export::ExportLeg> {
    world_legs(&floodgate_gen::World::new(&floodgate_gen::GenConfig {
        transfers: 600,
        seed: 3,
        ..floodgate_gen::GenConfig::default()
    }))
}

/// The legs of a `floodgate-gen` world, as the transfer store exports them.
fn world_legs(world: &floodgate_gen::World) -> Vec<floodgate_store::export::ExportLeg> {
    use floodgate_store::export::ExportLeg;
    let mut legs = Vec::new();
    world.for_each_leg(|l| {
        legs.push(ExportLeg {
            chain: l.chain,
            height: l.height,
            time: Some(l.time),
            txid: l.txid,
            kind: l.kind,
            from: l.from.map(|i| world.address_key(i)),
            to: l.to.map(|i| world.address_key(i)),
            asset: l.asset.to_owned(),
            amount: Amount::from(l.amount),
        });
    });
    legs
}

/// Today's format loses nothing of what format 4 held: the legs of the frozen format-4
/// graph, built again in the same two steps (the second with the same four edges added
/// without a store row), read line for line as the frozen graph did when it was written —
/// the same ids, keys, edges, times, transactions and storage order. (If `floodgate-gen`'s
/// world for seed 3 changes, this test fails and the frozen graph's `graph.txt` is not the
/// reference for it any more.)
#[test]
fn a_build_in_todays_format_reads_as_the_frozen_format_4_graph() {
    let dir = tempfile::tempdir().unwrap();
    let legs = frozen_world_legs();
    let half = legs.len() / 2;
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    b.add_stored_legs(&legs[..half]).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let base = Graph::open(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    b.add_stored_legs(&legs[half..]).unwrap();
    let a = b.node("0x52908400098527886E0F7030069857D2E4169EE7", NodeKind::Address).unwrap();
    let c = b.node("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", NodeKind::Address).unwrap();
    for (i, (f, t)) in [(a, c), (c, a), (a, NodeId(0)), (NodeId(1), a)].into_iter().enumerate() {
        let e = EdgeInput {
            amount: Amount::from_base_units(u128::from(u64::MAX) * (i as u128 + 1)),
            time: Some(1_700_000_000 + i as i64),
            asset: if i % 2 == 0 { "ETH" } else { "USDT" },
            txid: Hash32([i as u8 + 1; 32]),
            chain: Chain::Ethereum,
        };
        b.add_edge(f, t, &e).unwrap();
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    g.verify_segments().unwrap();
    let seg = std::fs::read(dir.path().join("seg-000002.fgs")).unwrap();
    assert_eq!(seg[8..12], 7u32.to_le_bytes());
    let frozen = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/graph-v4");
    let want = std::fs::read_to_string(frozen.join("graph.txt")).unwrap();
    let got = dump(&g);
    for (i, (a, b)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count());
    let size = |d: &std::path::Path| {
        (1..=2)
            .map(|i| std::fs::metadata(d.join(format!("seg-{i:06}.fgs"))).unwrap().len())
            .sum::<u64>()
    };
    assert!(size(dir.path()) < size(&frozen.join("graph")), "today's format is smaller");
}

/// A long in list (read with its sources' blocks warmed ahead, from 512 bytes) lists every
/// edge into its node, with its source and amount, in both segments; so do the short ones.
#[test]
fn a_long_in_list_reads_every_edge_with_its_source() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1_500u32;
    // Node 0 receives from every other node (several times from some, in either asset),
    // and a few of them also from each other.
    let mut edges: Vec<RawEdge> = Vec::new();
    for i in 1..n {
        edges.push((i, 0, u128::from(i) * 1_000 + 7, 1_000 + i, (i % 2) as u8, (i % 251) as u8));
        if i % 7 == 0 {
            edges.push((i, 0, 3, 2_000 + i, 0, 1));
            edges.push((i, i / 7, u128::from(i), 3_000, 1, 2));
        }
    }
    let (g, ids) = build(dir.path(), n, &edges, edges.len() / 3);
    g.verify().unwrap();
    let back = |id: NodeId| ids.iter().position(|&x| x == id).unwrap() as u32;
    for node in 0..n / 7 {
        let mut got: Vec<(u32, u128, String)> = g
            .in_edges(ids[node as usize])
            .map(|e| (back(e.src), e.amount.to_u128().unwrap(), e.asset.to_owned()))
            .collect();
        let mut want: Vec<(u32, u128, String)> = edges
            .iter()
            .filter(|e| e.1 == node)
            .map(|e| (e.0, e.2, ASSETS[e.4 as usize].to_owned()))
            .collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "node {node}");
    }
}
