//! floodgate-trace tests: haircut and poison against a naive reference, paths against a
//! naive BFS, UTXO hops, damaged segments under exposure, entity exposure.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use floodgate_graph::{EdgeInput, Graph, GraphBuilder, NodeId, NodeKind};
use floodgate_trace::{
    build_index, exposure, exposure_indexed, paths, state_path, to_dot, update_index, Direction,
    ExposureIndex, ExposureOptions, IndexState, IndexUpdate, PathOptions, TaintModel, INDEX_FILE,
};
use floodgate_types::{Amount, Chain, Hash32, RiskCategory};
use proptest::prelude::*;

#[path = "../../graph/tests/fixtures/mod.rs"]
mod fixtures;

use fixtures::{build, build_utxo, edges_strategy, first_segment, key, RawEdge, RawTx};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Haircut ignoring time (`--ignore-time`) equals a naive reference, conserves value
    /// exactly, and with --hops 1 equals direct exposure; poison with --hops 1 equals direct
    /// exposure too, and poison never attributes less than haircut. (The causal models are
    /// checked against their own references in `tests/taint.rs`.)
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
        let opts = ExposureOptions { hops, asset: Some("ETH".into()), ignore_time: true, ..Default::default() };
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
    let r = floodgate_trace::entity_exposure(&g, &tags, &c, e, &opts).unwrap().remove(0);
    assert_eq!(r.target, e.to_string());
    assert_eq!(r.total, Amount::from(30u64), "the self-spend of 20 is internal");
    assert_eq!(r.categories[0].category, RiskCategory::Scam);
    assert_eq!(r.categories[0].value, Amount::from(30u64));
    // A single-address entity has the same exposure as its address.
    let e8 = c.entity_of(n(8));
    let a = exposure(&g, &tags, n(8), &opts).unwrap();
    let b = floodgate_trace::entity_exposure(&g, &tags, &c, e8, &opts).unwrap();
    assert_eq!(a[0].categories, b[0].categories);
    assert_eq!(a[0].total, b[0].total);
    assert!(floodgate_trace::entity_exposure(
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
    for model in [TaintModel::Haircut, TaintModel::Poison, TaintModel::Tiho] {
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

// ---------------------------------------------------------------------------------------
// The exposure index's format version 2 (varint records) and the saved pass's version 2
// (values received per hop band).

const E18: u128 = 1_000_000_000_000_000_000;

/// Appends one segment of Ethereum transfers `(from, to, wei)` to the graph in `dir`, at
/// times `1_700_000_000 + 60 × first..`.
fn append_eth(dir: &Path, first: u8, transfers: &[(&str, &str, u128)]) {
    let base = Graph::open_or_empty(dir).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    for (i, &(from, to, v)) in transfers.iter().enumerate() {
        let i = first + i as u8;
        let (f, t) =
            (b.node(from, NodeKind::Address).unwrap(), b.node(to, NodeKind::Address).unwrap());
        let e = EdgeInput {
            amount: Amount::from_base_units(v),
            time: Some(1_700_000_000 + 60 * i64::from(i)),
            asset: "ETH",
            txid: Hash32([i; 32]),
            chain: Chain::Ethereum,
        };
        b.add_edge(f, t, &e).unwrap();
    }
    b.commit(&base, BTreeMap::new()).unwrap();
}

/// The tags of the version-2 fixture: `0xs` scam, `0xm` mixer.
fn v2_tags(g: &Graph) -> HashMap<NodeId, RiskCategory> {
    HashMap::from([
        (g.lookup("0xs").unwrap(), RiskCategory::Scam),
        (g.lookup("0xm").unwrap(), RiskCategory::Mixer),
    ])
}

/// `tests/data/exposure-v2`: a graph of one segment (scam S pays A 1 ETH, A pays B 0.6, mixer
/// M pays B 0.4, B pays C 0.5), its index and saved pass, written once with
/// `FLOODGATE_BLESS=1` when the directory is absent and never rewritten.
fn v2_fixture() -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/exposure-v2");
    if !dir.exists() && std::env::var("FLOODGATE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        append_eth(
            &dir,
            1,
            &[
                ("0xs", "0xa", E18),
                ("0xa", "0xb", 6 * E18 / 10),
                ("0xm", "0xb", 4 * E18 / 10),
                ("0xb", "0xc", E18 / 2),
            ],
        );
        let g = Graph::open(&dir).unwrap();
        build_index(&g, &v2_tags(&g), &dir.join(INDEX_FILE)).unwrap();
    }
    dir
}

/// Format compatibility: the version-2 index frozen in `tests/data/exposure-v2` is read by
/// today's code with the same answers (C's 0.5 ETH: 0.3 from the scam at 3 hops, 0.2 from the
/// mixer at 2; under poison all of it carried both).
#[test]
fn index_format_v2_fixture_is_read() {
    let dir = v2_fixture();
    let g = Graph::open(&dir).unwrap();
    let idx = ExposureIndex::open(&dir.join(INDEX_FILE)).unwrap();
    assert_eq!(idx.state().stale_reason(&IndexState::of(&g, &v2_tags(&g))), None);
    assert_eq!(idx.len(), 3, "A, B and C received");
    let e = idx.lookup_asset(g.lookup("0xc").unwrap(), "ETH").unwrap();
    assert_eq!((e.total, e.round_trip, e.wide), (E18 / 2, false, false));
    assert_eq!(e.categories.len(), 2, "{e:?}");
    let cat = |c: RiskCategory| e.categories.iter().find(|x| x.category == c).unwrap();
    let (scam, mixer) = (cat(RiskCategory::Scam), cat(RiskCategory::Mixer));
    assert_eq!((scam.haircut, scam.haircut_min_hops), ([0, 0, 3 * E18 / 10, 3 * E18 / 10], 3));
    assert_eq!(
        (mixer.haircut, mixer.haircut_min_hops),
        ([0, 2 * E18 / 10, 2 * E18 / 10, 2 * E18 / 10], 2)
    );
    assert_eq!((scam.poison, scam.poison_min_hops), ([0, 0, E18 / 2, E18 / 2], 3));
    assert_eq!(mixer.poison, [0, E18 / 2, E18 / 2, E18 / 2]);
    assert_eq!(scam.sources.len(), 1);
    assert_eq!((scam.sources[0].node, scam.sources[0].hops), (g.lookup("0xs").unwrap(), 3));
    // The per-query causal haircut agrees.
    let o = ExposureOptions { asset: Some("ETH".into()), ..ExposureOptions::default() };
    let want = exposure(&g, &v2_tags(&g), g.lookup("0xc").unwrap(), &o).unwrap().remove(0);
    let got = e.report(&g, "0xc", TaintModel::Haircut, o.hops).unwrap();
    let v = |r: &floodgate_trace::ExposureReport| -> Vec<_> {
        r.categories.iter().map(|c| (c.category, c.value, c.min_hops)).collect()
    };
    assert_eq!(v(&got), v(&want));
}

/// Format compatibility: the saved pass of format version 2 frozen in `tests/data/exposure-v2`
/// is not continued by today's code over an appended segment (C pays D 0.2 ETH): it did not
/// record when labels arrived, so the index is built whole, saying why, and equals a full
/// build byte for byte (worked on a copy).
#[test]
fn saved_pass_format_v2_fixture_is_rebuilt() {
    let fixture = v2_fixture();
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&fixture).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    append_eth(dir.path(), 5, &[("0xc", "0xd", 2 * E18 / 10)]);
    let g = Graph::open(dir.path()).unwrap();
    let tags = v2_tags(&g);
    let path = dir.path().join(INDEX_FILE);
    let rep = update_index(&g, &tags, &path).unwrap();
    assert_eq!(
        rep.update,
        IndexUpdate::Rebuilt {
            reason: "the saved pass is of format version 2, which did not record when labels \
                     arrived"
                .into()
        }
    );
    let full = tempfile::tempdir().unwrap();
    build_index(&g, &tags, &full.path().join(INDEX_FILE)).unwrap();
    assert!(std::fs::read(&path).unwrap() == std::fs::read(full.path().join(INDEX_FILE)).unwrap());
    // The saved pass and the index are written anew in today's versions.
    let st = std::fs::read(state_path(&path)).unwrap();
    assert_eq!(st[8..12], 4u32.to_le_bytes(), "state version 4");
    assert_eq!(std::fs::read(&path).unwrap()[8..12], 5u32.to_le_bytes(), "index version 5");
    let idx = ExposureIndex::open(&path).unwrap();
    let e = idx.lookup_asset(g.lookup("0xd").unwrap(), "ETH").unwrap();
    let scam = e.categories.iter().find(|c| c.category == RiskCategory::Scam).unwrap();
    assert_eq!((e.total, scam.haircut), (2 * E18 / 10, [0, 0, 0, 12 * E18 / 100]), "4 hops back");
}

// ---------------------------------------------------------------------------------------
// The exposure index's format version 3 (when labels first arrived, per hop count; the
// fewest hops in the entry) and the saved pass's version 4.

/// The tags of the version-3 fixture: `0xs` scam, `0xm` mixer.
fn v3_tags(g: &Graph) -> HashMap<NodeId, RiskCategory> {
    v2_tags(g)
}

/// `tests/data/exposure-v3`: a graph of one segment — clean X pays B 0.2 ETH; B pays E 0.1
/// (before any tagged value reached B); scam S pays A 1; A pays B 0.6 (scam at 2 hops); mixer
/// M pays B 0.4 (mixer at 1 hop); B pays C 0.5 —, its index (version 3) and saved pass
/// (version 4), written once with `FLOODGATE_BLESS=1` when the directory is absent and never
/// rewritten.
fn v3_fixture() -> std::path::PathBuf {
    frozen_fixture("exposure-v3")
}

/// `tests/data/exposure-v4`: the graph of [`v3_fixture`], its index (version 4: the body
/// checksum a SHA-256 over the assets, the records, then the entries) and saved pass (version
/// 4), written once with `FLOODGATE_BLESS=1` when the directory is absent and never rewritten.
fn v4_fixture() -> std::path::PathBuf {
    frozen_fixture("exposure-v4")
}

/// The graph of [`v3_fixture`] and the index and saved pass the code of the day wrote, in
/// `tests/data/NAME`: written with `FLOODGATE_BLESS=1` when the directory is absent.
fn frozen_fixture(name: &str) -> std::path::PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name);
    if !dir.exists() && std::env::var("FLOODGATE_BLESS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        append_eth(
            &dir,
            1,
            &[
                ("0xx", "0xb", 2 * E18 / 10),
                ("0xb", "0xe", E18 / 10),
                ("0xs", "0xa", E18),
                ("0xa", "0xb", 6 * E18 / 10),
                ("0xm", "0xb", 4 * E18 / 10),
                ("0xb", "0xc", E18 / 2),
            ],
        );
        let g = Graph::open(&dir).unwrap();
        build_index(&g, &v3_tags(&g), &dir.join(INDEX_FILE)).unwrap();
    }
    dir
}

/// Format compatibility: the version-3 index frozen in `tests/data/exposure-v3` is read by
/// today's code with the same answers, and a trace pruned by it equals the unpruned one (E,
/// paid by B before any tagged value reached B, is clean).
#[test]
fn index_format_v3_fixture_is_read() {
    let dir = v3_fixture();
    let g = Graph::open(&dir).unwrap();
    let bytes = std::fs::read(dir.join(INDEX_FILE)).unwrap();
    assert_eq!(bytes[8..12], 3u32.to_le_bytes(), "index version 3");
    let idx = ExposureIndex::open(&dir.join(INDEX_FILE)).unwrap();
    let tags = v3_tags(&g);
    assert_eq!(idx.state().stale_reason(&IndexState::of(&g, &tags)), None);
    assert_eq!(idx.len(), 4, "A, B, C and E received");
    let e = idx.lookup_asset(g.lookup("0xc").unwrap(), "ETH").unwrap();
    assert_eq!((e.total, e.round_trip, e.wide), (E18 / 2, false, false));
    let cat = |c: RiskCategory| e.categories.iter().find(|x| x.category == c).unwrap();
    // B held 0.1 clean, 0.6 scam and 0.4 mixer of 1.1 when it paid C 0.5.
    let (scam, mixer) = (cat(RiskCategory::Scam), cat(RiskCategory::Mixer));
    assert_eq!(scam.haircut[3], 6 * E18 / 10 * 5 / 11);
    assert_eq!((mixer.haircut[1], mixer.haircut_min_hops), (4 * E18 / 10 * 5 / 11, 2));
    assert!(idx.lookup_asset(g.lookup("0xe").unwrap(), "ETH").unwrap().categories.is_empty());
    for model in [TaintModel::Haircut, TaintModel::Poison] {
        for target in ["0xb", "0xc", "0xe"] {
            for hops in [1, 2, 3, 6] {
                let o = ExposureOptions {
                    model,
                    hops,
                    asset: Some("ETH".into()),
                    ..ExposureOptions::default()
                };
                let n = g.lookup(target).unwrap();
                let want = exposure(&g, &tags, n, &o).unwrap();
                let (got, used) = exposure_indexed(&g, &tags, &idx, n, &o).unwrap();
                assert!(used);
                assert_eq!(got, want, "{target} {o:?}");
            }
        }
    }
}

/// Where the index of the version-3 fixture's graph (one asset, ETH; four entries of 12
/// bytes) starts its entries and its records, after the 144-byte header and the asset table.
fn fixture_index_parts() -> (usize, usize) {
    let entries_at = 144 + 2 + "ETH".len();
    (entries_at, entries_at + 4 * 12)
}

/// Format compatibility: the version-4 index frozen in `tests/data/exposure-v4` (its body
/// checksum a SHA-256) is read by today's code with the answers of the version-3 fixture's.
#[test]
fn index_format_v4_fixture_is_read() {
    let dir = v4_fixture();
    let bytes = std::fs::read(dir.join(INDEX_FILE)).unwrap();
    assert_eq!(bytes[8..12], 4u32.to_le_bytes(), "index version 4");
    let g = Graph::open(&dir).unwrap();
    let tags = v3_tags(&g);
    let idx = ExposureIndex::open(&dir.join(INDEX_FILE)).unwrap();
    assert_eq!(idx.state().stale_reason(&IndexState::of(&g, &tags)), None);
    let old = ExposureIndex::open(&v3_fixture().join(INDEX_FILE)).unwrap();
    assert_eq!(idx.len(), 4, "A, B, C and E received");
    for target in ["0xa", "0xb", "0xc", "0xe"] {
        let n = g.lookup(target).unwrap();
        assert_eq!(idx.lookup(n), old.lookup(n), "{target}");
        assert!(!idx.lookup(n).is_empty(), "{target}");
    }
    // A damaged byte in each of the three parts the checksum covers is refused on open.
    let (entries_at, records_at) = fixture_index_parts();
    for at in [entries_at - 2, entries_at + 1, records_at + 1] {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(INDEX_FILE);
        let mut b = bytes.clone();
        b[at] ^= 0x40;
        std::fs::write(&path, &b).unwrap();
        let e =
            ExposureIndex::open(&path).err().unwrap_or_else(|| panic!("byte {at} went unnoticed"));
        assert!(e.to_string().contains("checksum"), "byte {at}: {e}");
    }
}

/// Version 5 does not decode every record on open (its CRC-32 says the bytes are those
/// written): a record that does not decode, its checksum made to match, opens, reads as wide
/// (nothing indexed, never out of bounds) and is traced per query with the same answer.
#[test]
fn a_version_5_record_that_does_not_decode_is_traced_per_query() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["MANIFEST.json", "seg-000001.fgs"] {
        std::fs::copy(v3_fixture().join(f), dir.path().join(f)).unwrap();
    }
    let g = Graph::open(dir.path()).unwrap();
    let tags = v3_tags(&g);
    let path = dir.path().join(INDEX_FILE);
    build_index(&g, &tags, &path).unwrap();
    let mut b = std::fs::read(&path).unwrap();
    assert_eq!(b[8..12], 5u32.to_le_bytes(), "index version 5");
    let (entries_at, records_at) = fixture_index_parts();
    // The first entry (the lowest node id) and its record's category count.
    let node = NodeId(u32::from_le_bytes(b[entries_at..entries_at + 4].try_into().unwrap()));
    let mut off = [0u8; 8];
    off[..5].copy_from_slice(&b[entries_at + 7..entries_at + 12]);
    let rec = records_at + usize::try_from(u64::from_le_bytes(off)).unwrap();
    b[rec + 1] = 255;
    let mut h = crc32fast::Hasher::new();
    h.update(&b[144..entries_at]);
    h.update(&b[records_at..]);
    h.update(&b[entries_at..records_at]);
    b[104..108].copy_from_slice(&h.finalize().to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let idx = ExposureIndex::open(&path).unwrap();
    let e = idx.lookup_asset(node, "ETH").unwrap();
    assert!(e.wide && e.categories.is_empty(), "{e:?}");
    assert!(e.report(&g, "first", TaintModel::Haircut, 6).is_none(), "not answered from it");
    let o = ExposureOptions { hops: 6, asset: Some("ETH".into()), ..ExposureOptions::default() };
    let (got, _) = exposure_indexed(&g, &tags, &idx, node, &o).unwrap();
    assert_eq!(got, exposure(&g, &tags, node, &o).unwrap());
}

/// Format compatibility: the saved pass of format version 4 frozen in `tests/data/exposure-v3`
/// is continued by today's code over an appended segment (C pays D 0.2 ETH), giving a full
/// build's index byte for byte (worked on a copy).
#[test]
fn saved_pass_format_v4_fixture_is_continued() {
    let fixture = v3_fixture();
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&fixture).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    append_eth(dir.path(), 7, &[("0xc", "0xd", 2 * E18 / 10)]);
    let g = Graph::open(dir.path()).unwrap();
    let tags = v3_tags(&g);
    let path = dir.path().join(INDEX_FILE);
    let rep = update_index(&g, &tags, &path).unwrap();
    assert_eq!(rep.update, IndexUpdate::Extended { from_segments: 1, was_segments: 1 });
    let full = tempfile::tempdir().unwrap();
    build_index(&g, &tags, &full.path().join(INDEX_FILE)).unwrap();
    assert!(std::fs::read(&path).unwrap() == std::fs::read(full.path().join(INDEX_FILE)).unwrap());
}

/// A value wider than 128 bits: the entries holding one are flagged wide and hold no value
/// (queries answer them); the others are exact. A receives 2¹²⁷ twice from the scam (2¹²⁸ in
/// all), E receives 2²⁰⁰; B receives 2¹²⁷ of A's.
#[test]
fn index_entries_wider_than_128_bits_are_flagged_and_hold_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let mut node = |k: &str| b.node(k, NodeKind::Address).unwrap();
    let (s, a, bb, e) = (node("0xs"), node("0xa"), node("0xb"), node("0xe"));
    let pow = |bits: usize| {
        let mut x = [0u8; 32];
        x[31 - bits / 8] = 1 << (bits % 8);
        Amount::from_be_bytes(x)
    };
    let edge = |amount: Amount, i: u8| EdgeInput {
        amount,
        time: Some(1_700_000_000 + 60 * i64::from(i)),
        asset: "ETH",
        txid: Hash32([i; 32]),
        chain: Chain::Ethereum,
    };
    b.add_edge(s, a, &edge(pow(127), 1)).unwrap();
    b.add_edge(s, a, &edge(pow(127), 2)).unwrap();
    b.add_edge(a, bb, &edge(pow(127), 3)).unwrap();
    b.add_edge(s, e, &edge(pow(200), 4)).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    let tags = HashMap::from([(s, RiskCategory::Scam)]);
    let path = dir.path().join(INDEX_FILE);
    let rep = build_index(&g, &tags, &path).unwrap();
    assert_eq!((rep.entries, rep.exposed), (3, 3));
    let idx = ExposureIndex::open(&path).unwrap();
    for n in [a, e] {
        let x = idx.lookup_asset(n, "ETH").unwrap();
        assert!(x.wide && x.total == 0 && x.categories.is_empty(), "{x:?}");
        assert_eq!(x.report(&g, "0x", TaintModel::Haircut, 6), None);
    }
    let x = idx.lookup_asset(bb, "ETH").unwrap();
    assert!(!x.wide, "{x:?}");
    assert_eq!((x.total, x.categories[0].haircut), (1 << 127, [0, 1 << 127, 1 << 127, 1 << 127]));
    // An update over an appended segment keeps the flags (B pays E 1).
    let before = std::fs::read(&path).unwrap();
    let base = Graph::open(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    b.add_edge(bb, e, &edge(Amount::from(1u64), 5)).unwrap();
    b.commit(&base, BTreeMap::new()).unwrap();
    let g = Graph::open(dir.path()).unwrap();
    let up = update_index(&g, &tags, &path).unwrap();
    assert!(matches!(up.update, IndexUpdate::Extended { .. }), "{up:?}");
    let full = dir.path().join("full.fgx");
    build_index(&g, &tags, &full).unwrap();
    assert!(std::fs::read(&path).unwrap() == std::fs::read(&full).unwrap());
    assert!(std::fs::read(&path).unwrap() != before);
    assert!(ExposureIndex::open(&path).unwrap().lookup_asset(e, "ETH").unwrap().wide);
}
