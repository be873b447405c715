//! floodgate-graph tests: segments against a naive model, exposure against a naive
//! reference, paths, corruption, TagPacks.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use floodgate_graph::{
    exposure, paths, to_dot, Direction, EdgeInput, ExposureOptions, Graph, GraphBuilder,
    GraphError, NodeId, NodeKind, PathOptions, RiskCategory, TagSet, TaintModel,
};
use floodgate_types::{Amount, Chain, Hash32};
use proptest::prelude::*;

/// A raw edge of a test graph: (from, to, amount, time, asset index, tx byte).
type RawEdge = (u32, u32, u128, u32, u8, u8);

fn key(i: u32) -> String {
    format!("0x{:040x}", i + 1)
}

const ASSETS: [&str; 2] = ["ETH", "USDT"];

/// Builds a graph of account nodes `0..n` from `edges`, splitting them over two segments at
/// `split`. Node `i` is created on first use, so ids follow first appearance.
fn build(dir: &Path, n: u32, edges: &[RawEdge], split: usize) -> (Graph, Vec<NodeId>) {
    let mut ids = vec![NodeId(u32::MAX); n as usize];
    for part in [&edges[..split.min(edges.len())], &edges[split.min(edges.len())..]] {
        let base = Graph::open_or_empty(dir).unwrap();
        let mut b = GraphBuilder::new(Some(&base));
        for &(f, t, a, time, asset, tx) in part {
            let fi = b.node(&key(f), NodeKind::Address).unwrap();
            let ti = b.node(&key(t), NodeKind::Address).unwrap();
            ids[f as usize] = fi;
            ids[t as usize] = ti;
            let e = EdgeInput {
                amount: Amount::from_base_units(a),
                time: if time == 0 { None } else { Some(i64::from(time)) },
                asset: ASSETS[asset as usize],
                txid: Hash32([tx; 32]),
                chain: Chain::Ethereum,
            };
            b.add_edge(fi, ti, &e).unwrap();
        }
        b.commit(&base, BTreeMap::new()).unwrap();
    }
    (Graph::open(dir).unwrap(), ids)
}

fn edges_strategy() -> impl Strategy<Value = (u32, Vec<RawEdge>, usize)> {
    (2u32..10).prop_flat_map(|n| {
        let amount = prop_oneof![1u128..1_000, 1u128..u128::MAX, Just(u128::from(u64::MAX) + 1)];
        let e = (0..n, 0..n, amount, 0u32..5, 0u8..2, 0u8..4);
        (Just(n), proptest::collection::vec(e, 0..30), 0usize..30)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Out- and in-edges of every node equal a naive HashMap model, across two segments.
    #[test]
    fn segments_equal_a_naive_model((n, edges, split) in edges_strategy()) {
        let dir = tempfile::tempdir().unwrap();
        let (g, ids) = build(dir.path(), n, &edges, split);
        g.verify().unwrap();
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

    /// Haircut equals a naive reference, conserves value exactly, and with --hops 1 equals
    /// direct exposure; poison with --hops 1 equals direct exposure too, and poison never
    /// attributes less than haircut.
    #[test]
    fn haircut_and_poison_against_naive_reference(
        (n, edges, _split) in edges_strategy(),
        tagged in proptest::collection::btree_map(0u32..10, 0usize..4, 0..5),
        hops in 1u32..5,
        target in 0u32..10,
    ) {
        let edges: Vec<RawEdge> = edges.into_iter().map(|(f, t, a, ti, _, tx)| (f, t, a % 1_000_000 + 1, ti, 0, tx)).collect();
        let target = target % n;
        let dir = tempfile::tempdir().unwrap();
        let (g, ids) = build(dir.path(), n, &edges, edges.len());
        let Some(&tid) = ids.get(target as usize).filter(|i| i.0 != u32::MAX) else { return Ok(()) };
        let cats = [RiskCategory::Sanctioned, RiskCategory::Scam, RiskCategory::Mixer, RiskCategory::Exchange];
        let tags_raw: HashMap<u32, RiskCategory> = tagged.iter().filter(|(k, _)| **k < n).map(|(k, c)| (*k, cats[*c])).collect();
        let tags: HashMap<NodeId, RiskCategory> = tags_raw.iter()
            .filter(|(k, _)| ids[**k as usize].0 != u32::MAX)
            .map(|(k, c)| (ids[*k as usize], *c)).collect();
        let opts = ExposureOptions { hops, asset: Some("ETH".into()), ..Default::default() };
        let rep = exposure(&g, &tags, tid, &opts).unwrap().remove(0);
        let (want, want_untraced, total) = naive_haircut(&edges, &tags_raw, target, hops);
        let got: BTreeMap<RiskCategory, u128> = rep.categories.iter().map(|c| (c.category, c.value.to_u128().unwrap())).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(rep.untraced.to_u128().unwrap(), want_untraced);
        prop_assert_eq!(rep.total.to_u128().unwrap(), total);
        prop_assert_eq!(got.values().sum::<u128>() + want_untraced, total, "value is conserved");

        let direct = naive_direct(&edges, &tags_raw, target);
        let one = ExposureOptions { hops: 1, ..opts.clone() };
        let h1 = exposure(&g, &tags, tid, &one).unwrap().remove(0);
        let h1: BTreeMap<RiskCategory, u128> = h1.categories.iter().map(|c| (c.category, c.value.to_u128().unwrap())).collect();
        prop_assert_eq!(&h1, &direct);
        let p1 = exposure(&g, &tags, tid, &ExposureOptions { model: TaintModel::Poison, ..one }).unwrap().remove(0);
        let p1: BTreeMap<RiskCategory, u128> = p1.categories.iter().map(|c| (c.category, c.value.to_u128().unwrap())).collect();
        prop_assert_eq!(&p1, &direct);
        let p = exposure(&g, &tags, tid, &ExposureOptions { model: TaintModel::Poison, ..opts }).unwrap().remove(0);
        for c in &p.categories {
            prop_assert!(c.value <= p.total);
            let h = got.get(&c.category).copied().unwrap_or(0);
            prop_assert!(c.value.to_u128().unwrap() >= h, "poison {} < haircut {h}", c.value);
        }
        for c in got.keys() {
            prop_assert!(p.categories.iter().any(|x| x.category == *c), "haircut found {c}, poison did not");
        }
    }

    /// The path search finds a path exactly when a naive BFS does, of the same length.
    #[test]
    fn shortest_paths_match_naive_bfs((n, edges, split) in edges_strategy(), a in 0u32..10, b in 0u32..10) {
        let (a, b) = (a % n, b % n);
        let dir = tempfile::tempdir().unwrap();
        let (g, ids) = build(dir.path(), n, &edges, split);
        let (Some(&ia), Some(&ib)) = (ids.get(a as usize), ids.get(b as usize)) else { return Ok(()) };
        if ia.0 == u32::MAX || ib.0 == u32::MAX { return Ok(()) }
        let ps = paths(&g, ia, ib, &PathOptions { max_hops: 4, limit: 3 }).unwrap();
        let want = naive_bfs(&edges, a, b, 4);
        match (ps.first(), want) {
            (None, None) => {}
            (Some(p), Some(d)) => {
                prop_assert_eq!(p.steps.len(), d);
                prop_assert_eq!(&p.steps[0].from, &key(a));
                prop_assert_eq!(&p.steps.last().unwrap().to, &key(b));
                for w in p.steps.windows(2) { prop_assert_eq!(&w[0].to, &w[1].from); }
            }
            (got, want) => prop_assert!(false, "got {:?}, naive {:?}", got.map(|p| p.steps.len()), want),
        }
    }
}

/// The haircut model written plainly over the raw edge list.
fn naive_haircut(
    edges: &[RawEdge],
    tags: &HashMap<u32, RiskCategory>,
    target: u32,
    hops: u32,
) -> (BTreeMap<RiskCategory, u128>, u128, u128) {
    let ups = |n: u32| -> Vec<(u32, u128)> {
        // A self-transfer moves nothing.
        edges.iter().filter(|e| e.1 == n && e.4 == 0 && e.0 != e.1).map(|e| (e.0, e.2)).collect()
    };
    let total: u128 = ups(target).iter().map(|e| e.1).sum();
    let mut frontier: HashMap<u32, u128> = HashMap::from([(target, total)]);
    let mut cats: BTreeMap<RiskCategory, u128> = BTreeMap::new();
    let mut untraced = 0u128;
    for step in 0..=hops {
        let mut next: HashMap<u32, u128> = HashMap::new();
        for (&node, &f) in &frontier {
            if step > 0 {
                if let Some(c) = tags.get(&node) {
                    *cats.entry(*c).or_default() += f;
                    continue;
                }
            }
            if step == hops {
                untraced += f;
                continue;
            }
            let u = ups(node);
            let d: u128 = u.iter().map(|e| e.1).sum();
            let mut passed = 0;
            for (m, a) in u {
                // Value back at the target (after the first step) is untraced.
                if step > 0 && m == target {
                    continue;
                }
                // Amounts here are below 2^20 and flows below 2^25: no overflow.
                let part = f * a / d;
                passed += part;
                *next.entry(m).or_default() += part;
            }
            untraced += f - passed;
        }
        frontier = next;
    }
    cats.retain(|_, v| *v > 0);
    (cats, untraced, total)
}

fn naive_direct(
    edges: &[RawEdge],
    tags: &HashMap<u32, RiskCategory>,
    target: u32,
) -> BTreeMap<RiskCategory, u128> {
    let mut out: BTreeMap<RiskCategory, u128> = BTreeMap::new();
    for e in edges.iter().filter(|e| e.1 == target && e.4 == 0 && e.0 != e.1) {
        if let Some(c) = tags.get(&e.0) {
            *out.entry(*c).or_default() += e.2;
        }
    }
    out.retain(|_, v| *v > 0);
    out
}

fn naive_bfs(edges: &[RawEdge], a: u32, b: u32, max: usize) -> Option<usize> {
    if a == b {
        return None;
    }
    let mut dist = HashMap::from([(a, 0usize)]);
    let mut q = std::collections::VecDeque::from([a]);
    while let Some(n) = q.pop_front() {
        let d = dist[&n];
        if d >= max {
            continue;
        }
        for e in edges.iter().filter(|e| e.0 == n) {
            if let std::collections::hash_map::Entry::Vacant(v) = dist.entry(e.1) {
                v.insert(d + 1);
                if e.1 == b {
                    return Some(d + 1);
                }
                q.push_back(e.1);
            }
        }
    }
    None
}

/// A Bitcoin-shaped graph: two inputs into a transaction paying two outputs.
#[test]
fn utxo_hops_count_addresses_not_transaction_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let txid = Hash32([9; 32]);
    let tx =
        b.node(&floodgate_graph::tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
    let bad = b.node("1BadBadBad", NodeKind::Address).unwrap();
    let clean = b.node("1Clean", NodeKind::Address).unwrap();
    let me = b.node("1Me", NodeKind::Address).unwrap();
    let change = b.node("1Change", NodeKind::Address).unwrap();
    let e = |v: u64| EdgeInput {
        amount: Amount::from(v),
        time: Some(1_300_000_000),
        asset: "BTC",
        txid,
        chain: Chain::Bitcoin,
    };
    b.add_edge(bad, tx, &e(300)).unwrap();
    b.add_edge(clean, tx, &e(700)).unwrap();
    b.add_edge(tx, me, &e(500)).unwrap();
    b.add_edge(tx, change, &e(490)).unwrap(); // 10 fee
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    let tags = HashMap::from([(bad, RiskCategory::Ransomware)]);
    let opts = ExposureOptions { hops: 1, ..Default::default() };
    let r = exposure(&g, &tags, me, &opts).unwrap().remove(0);
    assert_eq!(r.total, Amount::from(500u64));
    assert_eq!(r.categories.len(), 1);
    assert_eq!(r.categories[0].value, Amount::from(150u64), "500 × 300/1000");
    assert_eq!(r.categories[0].min_hops, 1);
    assert_eq!(r.categories[0].direct, Amount::from(150u64));
    assert_eq!(r.untraced, Amount::from(350u64));
    let p = exposure(&g, &tags, me, &ExposureOptions { model: TaintModel::Poison, ..opts })
        .unwrap()
        .remove(0);
    assert_eq!(p.categories[0].value, Amount::from(500u64));
    let out = exposure(
        &g,
        &tags,
        bad,
        &ExposureOptions { direction: Direction::Out, hops: 1, ..Default::default() },
    )
    .unwrap()
    .remove(0);
    assert!(out.categories.is_empty(), "{out:?}");
    // The path bad → me goes through the transaction node.
    let ps = paths(&g, bad, me, &PathOptions::default()).unwrap();
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].hops, 1);
    assert_eq!(ps[0].steps.len(), 2);
    assert_eq!(ps[0].steps[1].amount, Amount::from(500u64));
    let dot = to_dot(&ps, &|a| (a == "BTC").then_some(8));
    assert!(dot.starts_with("digraph funds {"), "{dot}");
    assert!(dot.contains("\"1BadBadBad\" -> \"tx:bitcoin:"), "{dot}");
    assert!(dot.contains("0.000005 BTC"), "{dot}");
    // Nothing from a node to itself, nothing backwards.
    assert!(paths(&g, me, bad, &PathOptions::default()).unwrap().is_empty());
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

fn first_segment(dir: &Path) -> std::path::PathBuf {
    dir.join("seg-000001.fgs")
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

/// Random byte damage anywhere never panics: open or verify reports it.
#[test]
fn random_damage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let edges: Vec<RawEdge> =
        (0..50).map(|i| (i % 7, (i * 3 + 1) % 7, 1 + i as u128, i, 0, i as u8)).collect();
    build(dir.path(), 7, &edges, 50);
    let seg = first_segment(dir.path());
    let good = std::fs::read(&seg).unwrap();
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] = bad[i].wrapping_add(0x5b);
        std::fs::write(&seg, &bad).unwrap();
        if let Ok(g) = Graph::open(dir.path()) {
            // Reading a damaged file answers or fails, never panics.
            let tags = HashMap::from([(NodeId(0), RiskCategory::Scam)]);
            for n in 0..g.node_count() {
                let _ = g.out_edges(NodeId(n)).count() + g.in_edges(NodeId(n)).count();
                let _ = g.key(NodeId(n));
                let opts = ExposureOptions { hops: 4, ..Default::default() };
                let _ = exposure(&g, &tags, NodeId(n), &opts);
            }
            assert!(g.verify().is_err(), "damage at byte {i} went unnoticed");
        }
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn tagpacks_are_validated_whole_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\nsource: s\ntags:\n- address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n  label: x\n- address: '0x722122dF12D4e14e13Ac3b6895a86e84145b6967'\n  currency: ETH\n  abuse: sanction\n- address: LTC-address-skipped\n  currency: LTC\n",
    );
    let mut tags = TagSet::new();
    assert_eq!(tags.load_tagpack(&good).unwrap(), 2);
    assert_eq!(tags.skipped_unsupported(), 1);
    assert_eq!(tags.of("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")[0].category, RiskCategory::Exchange);
    let eth = tags.of("0x722122dF12D4e14e13Ac3b6895a86e84145b6967");
    assert_eq!(eth[0].category, RiskCategory::Sanctioned, "abuse wins over category");

    let bad_cat = write(
        dir.path(),
        "badcat.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\ntags:\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n- address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n  category: casino_royale\n",
    );
    let mut t2 = TagSet::new();
    let err = t2.load_tagpack(&bad_cat).unwrap_err().to_string();
    assert!(err.contains("badcat.yaml:7:"), "{err}");
    assert!(err.contains("casino_royale"), "{err}");
    assert!(t2.is_empty(), "nothing of the pack is half-loaded");

    let bad_addr = write(
        dir.path(),
        "badaddr.yaml",
        "title: t\ncategory: exchange\ncurrency: BTC\ntags:\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2\n- address: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n",
    );
    let err = t2.load_tagpack(&bad_addr).unwrap_err().to_string();
    assert!(err.contains("badaddr.yaml:6:"), "{err}");
    assert!(t2.is_empty());

    let broken = write(dir.path(), "broken.yaml", "title: t\ntags: [\n  - : :\n");
    let err = t2.load_tagpack(&broken).unwrap_err().to_string();
    assert!(err.contains("broken.yaml:"), "{err}");
}

#[test]
fn the_real_graphsense_tagpacks_load() {
    let Some(dir) = floodgate_testdata::dir("attribution/graphsense-tagpacks/packs") else {
        return;
    };
    let mut tags = TagSet::new();
    let (n, rejected) = tags.load_dir(&dir).unwrap();
    assert!(n > 1000, "{n} tags");
    let tc = tags.of("0x8589427373D6D84E98730D7795D8f6f8731FDA16");
    assert_eq!(tc.first().map(|t| t.category), Some(RiskCategory::Mixer), "Tornado Cash");
    // The real EtherScamDB pack lists a Bitcoin address with a bad checksum: the whole pack
    // is rejected, naming the file and line, and none of its tags is loaded.
    let msgs: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    assert!(
        msgs.iter().any(|m| m.contains("etherscamdb_tagpack.yaml:15521:")
            && m.contains("1Mn386ue8o3mW9866octLNP8HFqcYsphJCV")),
        "{msgs:#?}"
    );
    assert!(rejected.len() <= 3, "{msgs:#?}");
}

/// A UTXO test transaction: input address indices and `(output address index, value)`.
type RawTx = (Vec<u32>, Vec<(u32, u64)>);

fn build_utxo(dir: &Path, txs: &[RawTx]) -> Graph {
    let base = Graph::open_or_empty(dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    for (i, (ins, outs)) in txs.iter().enumerate() {
        let txid = Hash32([i as u8; 32]);
        let t =
            b.node(&floodgate_graph::tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
        let e = |v: u64| EdgeInput {
            amount: Amount::from(v),
            time: Some(1_300_000_000 + i as i64),
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        for &a in ins {
            let a = b.node(&format!("1addr{a}"), NodeKind::Address).unwrap();
            b.add_edge(a, t, &e(100)).unwrap();
        }
        for &(a, v) in outs {
            let a = b.node(&format!("1addr{a}"), NodeKind::Address).unwrap();
            b.add_edge(t, a, &e(v)).unwrap();
        }
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    Graph::open(dir).unwrap()
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
        let c = floodgate_graph::cluster(&g);
        // Naive: repeatedly merge sets of addresses.
        let mut sets: Vec<std::collections::BTreeSet<u32>> = Vec::new();
        for (ins, outs) in &txs {
            let mut by_value: HashMap<u64, std::collections::BTreeSet<u32>> = HashMap::new();
            for (a, v) in outs { by_value.entry(*v).or_default().insert(*a); }
            let distinct: std::collections::BTreeSet<u32> = ins.iter().copied().collect();
            // The CoinJoin rule (docs/taxonomy.md): k >= 3 addresses paid the most common
            // value (the smallest on a tie), at least k input addresses spending that much
            // (every input here is 100), and no other output or at least k - 1.
            let best = by_value.iter().map(|(v, s)| (s.len(), *v)).max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)));
            let coinjoin = best.is_some_and(|(k, value)| {
                let funders = distinct.iter().filter(|a| 100 * ins.iter().filter(|x| x == a).count() as u64 >= value).count();
                let c = outs.iter().filter(|(_, v)| *v != value).count();
                distinct.len() >= 3 && k >= 3 && k <= funders && (c == 0 || c + 1 >= k)
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
fn the_real_ofac_address_lists_load_as_sanctioned() {
    let Some(dir) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let mut tags = TagSet::new();
    let n = tags.load_ofac_dir(&dir).unwrap();
    assert!(n > 100, "{n}");
    let t = tags.of("123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX");
    assert_eq!(t.first().map(|t| t.category), Some(RiskCategory::Sanctioned));
    assert!(tags.skipped_unsupported() > 0, "XMR, LTC … are skipped");
}

#[test]
fn a_bad_ofac_address_rejects_its_file_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sanctioned_addresses_XBT.txt",
        "123WBUDmSJv4GctdVEz6Qq6z8nXSKrJ4KX\n1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3\n",
    );
    let mut tags = TagSet::new();
    let err = tags.load_ofac_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("sanctioned_addresses_XBT.txt:2:"), "{err}");
    assert!(tags.is_empty());
}

#[test]
fn entity_tags_spread_to_every_co_spent_address() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![(vec![0, 1], vec![(9, 50)]), (vec![1, 2], vec![(8, 50)])];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let mut tags = TagSet::new();
    tags.add(floodgate_graph::Tag {
        address: "1addr2".into(),
        category: RiskCategory::Ransomware,
        label: "x".into(),
        source: "test".into(),
        confidence: None,
        actor: None,
    });
    let own = tags.resolve(&g);
    assert_eq!(own.len(), 1);
    let spread = tags.resolve_entities(&g, &c);
    for a in [0, 1, 2] {
        assert_eq!(
            spread.get(&g.lookup(&format!("1addr{a}")).unwrap()),
            Some(&RiskCategory::Ransomware)
        );
    }
    assert_eq!(spread.get(&g.lookup("1addr9").unwrap()), None);
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

#[test]
fn entity_exposure_leaves_out_the_entitys_own_spends() {
    let dir = tempfile::tempdir().unwrap();
    let txs: Vec<RawTx> = vec![
        (vec![0, 1], vec![(5, 50)]),       // joins 0 and 1
        (vec![7], vec![(0, 30), (8, 60)]), // 7 (scam) pays 0 and 8
        (vec![1], vec![(0, 20)]),          // the entity's own spend: internal
    ];
    let g = build_utxo(dir.path(), &txs);
    let c = floodgate_graph::cluster(&g);
    let n = |a: u32| g.lookup(&format!("1addr{a}")).unwrap();
    let tags = HashMap::from([(n(7), RiskCategory::Scam)]);
    let opts = ExposureOptions { hops: 2, ..Default::default() };
    let e = c.entity_of(n(0));
    let r = floodgate_graph::entity_exposure(&g, &tags, &c, e, &opts).unwrap().remove(0);
    assert_eq!(r.target, e.to_string());
    assert_eq!(r.total, Amount::from(30u64), "the self-spend of 20 is internal");
    assert_eq!(r.categories[0].category, RiskCategory::Scam);
    assert_eq!(r.categories[0].value, Amount::from(30u64));
    // A single-address entity has the same exposure as its address.
    let e8 = c.entity_of(n(8));
    let a = exposure(&g, &tags, n(8), &opts).unwrap();
    let b = floodgate_graph::entity_exposure(&g, &tags, &c, e8, &opts).unwrap();
    assert_eq!(a[0].categories, b[0].categories);
    assert_eq!(a[0].total, b[0].total);
    assert!(floodgate_graph::entity_exposure(
        &g,
        &tags,
        &c,
        floodgate_graph::EntityId(u32::MAX - 1),
        &opts
    )
    .is_err());
}

#[test]
fn value_that_comes_back_to_the_target_is_not_followed_again() {
    // 0 pays 1000 to 1; 1 returns 900 to 0 and pays 100 to 2 (tagged). Going out from 0,
    // only 100 reached the scam: the 900 that came back is untraced, not sent round again.
    let dir = tempfile::tempdir().unwrap();
    let edges: Vec<RawEdge> =
        vec![(0, 1, 1000, 10, 0, 1), (1, 0, 900, 20, 0, 2), (1, 2, 100, 20, 0, 3)];
    let (g, ids) = build(dir.path(), 3, &edges, 3);
    let tags = HashMap::from([(ids[2], RiskCategory::Scam)]);
    for model in [TaintModel::Haircut, TaintModel::Poison] {
        let opts = ExposureOptions {
            direction: Direction::Out,
            hops: 6,
            model,
            asset: Some("ETH".into()),
            ..Default::default()
        };
        let r = &exposure(&g, &tags, ids[0], &opts).unwrap()[0];
        assert_eq!(r.total, Amount::from(1000u64), "{model:?}: {r:?}");
        let scam = r.categories.iter().find(|c| c.category == RiskCategory::Scam).unwrap();
        if model == TaintModel::Haircut {
            assert_eq!(scam.value, Amount::from(100u64), "{r:?}");
            assert_eq!(r.untraced, Amount::from(900u64), "{r:?}");
        }
    }
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

/// Issue 15: a target that sends to itself was counted twice by haircut and poison. S (scam)
/// pays T 100, T pays itself 100, T pays an exchange X 50: T received 100, all of it from
/// the scam, and sent 50, all of it to the exchange.
#[test]
fn a_self_transfer_is_not_value_received_or_sent() {
    let dir = tempfile::tempdir().unwrap();
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let mut node = |k: &str| b.node(k, NodeKind::Address).unwrap();
    let (s, t, x) = (node("0xs"), node("0xt"), node("0xx"));
    let e = |v: u64, i: u8| EdgeInput {
        amount: Amount::from(v),
        time: Some(1_700_000_000 + i64::from(i)),
        asset: "ETH",
        txid: Hash32([i; 32]),
        chain: Chain::Ethereum,
    };
    b.add_edge(s, t, &e(100, 1)).unwrap();
    b.add_edge(t, t, &e(100, 2)).unwrap();
    b.add_edge(t, x, &e(50, 3)).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    let tags = HashMap::from([(s, RiskCategory::Scam), (x, RiskCategory::Exchange)]);
    for model in [TaintModel::Haircut, TaintModel::Poison] {
        for (direction, total, cat) in [
            (Direction::In, 100u64, RiskCategory::Scam),
            (Direction::Out, 50, RiskCategory::Exchange),
        ] {
            let o = ExposureOptions { model, direction, ..ExposureOptions::default() };
            let r = exposure(&g, &tags, t, &o).unwrap().remove(0);
            assert_eq!(r.total, Amount::from(total), "{model:?} {direction:?}: {r:?}");
            assert_eq!(r.categories.len(), 1, "{model:?} {direction:?}: {r:?}");
            assert_eq!(r.categories[0].category, cat);
            assert_eq!(
                r.categories[0].value,
                Amount::from(total),
                "{model:?} {direction:?}: {r:?}"
            );
            assert_eq!(r.untraced, Amount::ZERO, "{model:?} {direction:?}: {r:?}");
        }
    }
}
