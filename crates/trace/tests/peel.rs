//! Long peel chains (issue 15): a causal trace follows every link of a chain without spending
//! hops, however long the chain, and gives the answer the exposure index gives. A trace used
//! to stop following links free after 256 of them, so the index (which has no such cap) and
//! the per-query trace differed on 3 of 200 random addresses of the 2M-transfer generated
//! world; and the trace's recursion, one level per link, must not overflow a small stack.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use floodgate_graph::{tx_key, EdgeInput, Graph, GraphBuilder, NodeId, NodeKind};
use floodgate_trace::{
    build_index, exposure, ExposureIndex, ExposureOptions, TaintModel, INDEX_FILE,
};
use floodgate_types::{Amount, Chain, Hash32, RiskCategory};

/// The links of the chain: far more than the 256 a trace used to follow free.
const LINKS: u32 = 3_000;

/// A scam address S pays the chain's first link; link `i` spends its whole balance in a peel
/// transaction paying 1 to a payee and the rest to link `i + 1`; the last pays the target T.
/// Returns the graph's directory, S and T, and the value T received.
fn chain() -> (tempfile::TempDir, NodeId, NodeId, u64) {
    let dir = tempfile::tempdir().unwrap();
    let base = Graph::open_or_empty(dir.path()).unwrap();
    let mut b = GraphBuilder::new(Some(&base));
    let addr = |b: &mut GraphBuilder<'_>, k: String| b.node(&k, NodeKind::Address).unwrap();
    let s = addr(&mut b, "1scam".into());
    let t = addr(&mut b, "1target".into());
    let links: Vec<NodeId> = (0..LINKS).map(|i| addr(&mut b, format!("1link{i}"))).collect();
    let tx = |b: &mut GraphBuilder<'_>, j: u32, input: (NodeId, u64), outs: &[(NodeId, u64)]| {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&j.to_be_bytes());
        let txid = Hash32(id);
        let x = b.node(&tx_key(Chain::Bitcoin, &txid), NodeKind::Transaction).unwrap();
        let e = |v: u64| EdgeInput {
            amount: Amount::from(v),
            time: Some(1_700_000_000 + i64::from(j) * 600),
            asset: "BTC",
            txid,
            chain: Chain::Bitcoin,
        };
        b.add_edge(input.0, x, &e(input.1)).unwrap();
        for &(o, v) in outs {
            b.add_edge(x, o, &e(v)).unwrap();
        }
    };
    let mut value = 1_000_000u64;
    tx(&mut b, 0, (s, value), &[(links[0], value)]);
    for i in 0..LINKS {
        let payee = addr(&mut b, format!("1payee{i}"));
        let next = if i + 1 == LINKS { t } else { links[i as usize + 1] };
        tx(&mut b, i + 1, (links[i as usize], value), &[(payee, 1), (next, value - 1)]);
        value -= 1;
    }
    b.commit(&base, BTreeMap::new()).unwrap();
    (dir, s, t, value)
}

#[test]
fn a_causal_trace_follows_a_chain_of_thousands_of_links_on_a_small_stack() {
    let (dir, s, t, value) = chain();
    // The trace's own thread with a small stack (a server's worker threads have 2 MiB): the
    // recursion, one level per link, grows its stack instead of overflowing.
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let g = Graph::open(dir.path()).unwrap();
            let tags = HashMap::from([(s, RiskCategory::Scam)]);
            for model in [
                TaintModel::Haircut,
                TaintModel::Poison,
                TaintModel::Fifo,
                TaintModel::Lifo,
                TaintModel::Tiho,
            ] {
                let o = ExposureOptions { model, ..ExposureOptions::default() };
                let r = exposure(&g, &tags, t, &o).unwrap().remove(0);
                assert_eq!(r.total, Amount::from(value), "{model:?}: {r:?}");
                assert_eq!(r.categories.len(), 1, "{model:?}: {r:?}");
                assert_eq!(r.categories[0].category, RiskCategory::Scam, "{model:?}");
                assert_eq!(r.categories[0].value, Amount::from(value), "{model:?}: {r:?}");
                // S pays link 0 (hop 1 from T's side: the chain's first address costs one);
                // every later link is free.
                assert_eq!(r.categories[0].min_hops, 2, "{model:?}: {r:?}");
                assert_eq!(r.peel_links, LINKS - 1, "{model:?}: {r:?}");
            }
            // The exposure index gives the same answer.
            let ix = tempfile::tempdir().unwrap();
            let path = ix.path().join(INDEX_FILE);
            build_index(&g, &tags, &path).unwrap();
            let idx = ExposureIndex::open(&path).unwrap();
            let got = idx.lookup_asset(t, "BTC").unwrap();
            assert!(!got.round_trip);
            for model in [TaintModel::Haircut, TaintModel::Poison] {
                let o = ExposureOptions { model, ..ExposureOptions::default() };
                let want = exposure(&g, &tags, t, &o).unwrap().remove(0);
                let r = got.report(&g, "1target", model, o.hops).unwrap();
                assert_eq!(r.total, want.total, "{model:?}");
                let v = |r: &floodgate_trace::ExposureReport| -> Vec<(RiskCategory, Amount)> {
                    r.categories.iter().map(|c| (c.category, c.value)).collect()
                };
                assert_eq!(v(&r), v(&want), "{model:?}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn a_trace_that_ignores_time_still_stops_following_links_free_after_256() {
    let (dir, s, t, value) = chain();
    let g = Graph::open(dir.path()).unwrap();
    let tags = HashMap::from([(s, RiskCategory::Scam)]);
    // Its walk has no time order to end it (links may form a cycle), so it keeps the cap:
    // after 256 free links each costs a hop, and S is then far beyond 3 hops.
    let o = ExposureOptions { ignore_time: true, ..ExposureOptions::default() };
    let r = exposure(&g, &tags, t, &o).unwrap().remove(0);
    assert_eq!(r.total, Amount::from(value));
    assert!(r.categories.is_empty(), "{r:?}");
    assert_eq!(r.peel_links, 256, "{r:?}");
}
