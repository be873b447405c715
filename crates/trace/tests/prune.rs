//! A causal trace pruned by the exposure index (issue 15 item 6): a transfer a node sent before
//! the index shows value of any category within the hops a trace has left at it first reached
//! it carried none, so the trace does not read the node. The reports must be exactly those of
//! the unpruned trace — values, evidence, untraced, totals and the peel-chain links the value
//! found passed — for every model, direction, hop limit, window, minimum and peel-chain
//! setting, on random worlds of addresses, UTXO transactions, account transactions of several
//! transfers (a node receiving and sending at one place) and peel chains, at times with ties;
//! and a stale index must not be used.

// In tests a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use floodgate_graph::{tx_key, EdgeInput, Graph, GraphBuilder, NodeId, NodeKind};
use floodgate_trace::{
    build_index, exposure, exposure_indexed, Direction, ExposureIndex, ExposureOptions, TaintModel,
    INDEX_FILE,
};
use floodgate_types::{Amount, Chain, Hash32, RiskCategory};
use proptest::prelude::*;

/// One event of a random world.
#[derive(Debug, Clone)]
enum Ev {
    /// An account-style transfer (possibly to itself).
    Pay { from: u32, to: u32, amount: u128 },
    /// A UTXO transaction: inputs into a transaction node, outputs out of it.
    Tx { ins: Vec<(u32, u128)>, outs: Vec<(u32, u128)> },
    /// An account transaction of several transfers along a path of distinct addresses (A
    /// pays B, B pays C, … : internal calls), all at one place in replay order.
    Call { path: Vec<u32>, amounts: Vec<u128> },
}

/// Addresses of a world.
const ADDRS: u32 = 9;

fn addr(i: u32) -> String {
    format!("1addr{i}")
}

/// Builds the world's events at `times` into a graph of two segments (cut at `split`).
fn build(dir: &Path, events: &[Ev], times: &[u32], split: usize) -> HashMap<u32, NodeId> {
    let mut ids: HashMap<u32, NodeId> = HashMap::new();
    let split = split.min(events.len());
    for part in [0..split, split..events.len()] {
        let base = Graph::open_or_empty(dir).unwrap();
        let mut b = GraphBuilder::new(Some(&base));
        for j in part {
            let e = EdgeInput {
                amount: Amount::ZERO,
                time: Some(i64::from(times[j])),
                asset: "BTC",
                txid: Hash32([j as u8; 32]),
                chain: Chain::Bitcoin,
            };
            let mut a = |b: &mut GraphBuilder<'_>, i: u32| {
                let n = b.node(&addr(i), NodeKind::Address).unwrap();
                ids.insert(i, n);
                n
            };
            let edge = |b: &mut GraphBuilder<'_>, s, d, v: u128| {
                b.add_edge(s, d, &EdgeInput { amount: Amount::from_base_units(v), ..e.clone() })
                    .unwrap();
            };
            match &events[j] {
                Ev::Pay { from, to, amount } => {
                    let (f, t) = (a(&mut b, *from), a(&mut b, *to));
                    edge(&mut b, f, t, *amount);
                }
                Ev::Call { path, amounts } => {
                    // Consecutive transfers with one id share their transaction's place.
                    for (w, &v) in path.windows(2).zip(amounts) {
                        let (f, t) = (a(&mut b, w[0]), a(&mut b, w[1]));
                        edge(&mut b, f, t, v);
                    }
                }
                Ev::Tx { ins, outs } => {
                    let key = tx_key(Chain::Bitcoin, &Hash32([j as u8; 32]));
                    let x = b.node(&key, NodeKind::Transaction).unwrap();
                    for &(i, v) in ins {
                        let n = a(&mut b, i);
                        edge(&mut b, n, x, v);
                    }
                    for &(i, v) in outs {
                        let n = a(&mut b, i);
                        edge(&mut b, x, n, v);
                    }
                }
            }
        }
        b.commit(&base, BTreeMap::new()).unwrap();
    }
    ids
}

/// Random worlds: account transfers and UTXO transactions between a few addresses, at times
/// with ties, and a peel chain through addresses 5, 6, 7, … (each spending as the only input
/// of a transaction paying a tenth to one of addresses 0-3 and the rest on).
fn world_strategy() -> impl Strategy<Value = (Vec<Ev>, Vec<u32>, usize)> {
    let amount = prop_oneof![3 => 1u128..40, 1 => (1u128..40).prop_map(|a| a << 90)];
    let leg = (0..ADDRS, amount.clone());
    let ev = prop_oneof![
        (0..ADDRS, 0..ADDRS, amount.clone()).prop_map(|(from, to, amount)| Ev::Pay {
            from,
            to,
            amount
        }),
        (proptest::collection::vec(leg.clone(), 0..4), proptest::collection::vec(leg, 1..4))
            .prop_map(|(ins, outs)| Ev::Tx { ins, outs }),
        (proptest::collection::vec(0..ADDRS, 2..5), proptest::collection::vec(amount, 4)).prop_map(
            |(mut path, amounts)| {
                // Distinct addresses: a same-place cycle is a limit of its own (the docs).
                let mut seen = Vec::new();
                path.retain(|a| {
                    !seen.contains(a) && {
                        seen.push(*a);
                        true
                    }
                });
                Ev::Call { path, amounts }
            }
        ),
    ];
    (
        proptest::collection::vec(ev.clone(), 0..10),
        proptest::collection::vec(0u32..4, 0..4),
        100u128..1000,
        proptest::collection::vec(ev, 0..10),
    )
        .prop_flat_map(|(pre, pays, start, post)| {
            let mut events = pre;
            if !pays.is_empty() {
                events.push(Ev::Pay { from: 4, to: 5, amount: start });
            }
            let mut v = start;
            for (i, &pay) in pays.iter().enumerate() {
                let small = v / 10;
                let link = 5 + i as u32;
                events.push(Ev::Tx {
                    ins: vec![(link, v)],
                    outs: vec![(pay, small), (link + 1, v - small)],
                });
                v -= small;
            }
            events.extend(post);
            let len = events.len();
            // Times with ties (a third of the events share a time with the one before).
            (Just(events), proptest::collection::vec(0u32..3, len), 0..=len)
        })
        .prop_map(|(events, steps, split)| {
            let mut t = 1_000;
            let times = steps
                .iter()
                .map(|&s| {
                    t += if s == 0 { 0 } else { 10 };
                    t
                })
                .collect();
            (events, times, split)
        })
}

const CATS: [RiskCategory; 3] =
    [RiskCategory::Sanctioned, RiskCategory::Scam, RiskCategory::Exchange];

/// Every query of one world: each address as target, both directions, every model, hop
/// limits 1-7 (7 is beyond the index's deepest bucket), with and without peel chains, with
/// a random window and minimum.
fn check(
    (events, times, split): &(Vec<Ev>, Vec<u32>, usize),
    tagged: &BTreeMap<u32, usize>,
    (min, since, until): (u128, Option<u32>, Option<u32>),
) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let ids = build(dir.path(), events, times, *split);
    let g = Graph::open(dir.path()).unwrap();
    let tags: HashMap<NodeId, RiskCategory> =
        tagged.iter().filter_map(|(a, c)| ids.get(a).map(|n| (*n, CATS[*c]))).collect();
    let path = dir.path().join(INDEX_FILE);
    build_index(&g, &tags, &path).unwrap();
    let idx = ExposureIndex::open(&path).unwrap();
    for (&i, &target) in &ids {
        for direction in [Direction::In, Direction::Out] {
            for model in [
                TaintModel::Haircut,
                TaintModel::Poison,
                TaintModel::Tiho,
                TaintModel::Fifo,
                TaintModel::Lifo,
            ] {
                for hops in 1..=7 {
                    for (peel_chains, ignore_time) in [(true, false), (false, false), (true, true)]
                    {
                        if ignore_time && matches!(model, TaintModel::Fifo | TaintModel::Lifo) {
                            continue;
                        }
                        let o = ExposureOptions {
                            direction,
                            hops,
                            model,
                            min_amount: Amount::from_base_units(min),
                            since: since.map(i64::from),
                            until: until.map(i64::from),
                            asset: Some("BTC".into()),
                            peel_chains,
                            ignore_time,
                        };
                        let want = exposure(&g, &tags, target, &o).unwrap();
                        let (got, used) = exposure_indexed(&g, &tags, &idx, target, &o).unwrap();
                        let prunes = direction == Direction::In
                            && !ignore_time
                            && matches!(model, TaintModel::Haircut | TaintModel::Poison);
                        prop_assert_eq!(used, prunes, "{:?}", o);
                        prop_assert_eq!(got, want, "address {} {:?}", i, o);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Pruned by the index or not, every report is the same.
    #[test]
    fn a_trace_pruned_by_the_index_equals_the_unpruned_trace(
        w in world_strategy(),
        tagged in proptest::collection::btree_map(0..ADDRS, 0usize..3, 1..4),
        min in prop_oneof![3 => Just(0u128), 1 => 1u128..30],
        since in prop_oneof![3 => Just(None), 1 => (1_000u32..1_200).prop_map(Some)],
        until in prop_oneof![3 => Just(None), 1 => (1_000u32..1_200).prop_map(Some)],
    ) {
        check(&w, &tagged, (min, since, until))?;
    }
}

/// An index built with other tags (or of another graph) is stale: it is not used, and the
/// trace is the unpruned one.
#[test]
fn a_stale_index_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    // 0 pays 1; 2 pays 4, 4 pays 1; 1 pays the target 3.
    let events = vec![
        Ev::Pay { from: 0, to: 1, amount: 10 },
        Ev::Pay { from: 2, to: 4, amount: 10 },
        Ev::Pay { from: 4, to: 1, amount: 10 },
        Ev::Pay { from: 1, to: 3, amount: 20 },
    ];
    let ids = build(dir.path(), &events, &[1_000, 1_010, 1_020, 1_030], 4);
    let g = Graph::open(dir.path()).unwrap();
    let path = dir.path().join(INDEX_FILE);
    // Built when only address 0 was tagged; the query also counts address 2.
    build_index(&g, &HashMap::from([(ids[&0], RiskCategory::Scam)]), &path).unwrap();
    let idx = ExposureIndex::open(&path).unwrap();
    let tags = HashMap::from([(ids[&0], RiskCategory::Scam), (ids[&2], RiskCategory::Sanctioned)]);
    let o = ExposureOptions { asset: Some("BTC".into()), ..ExposureOptions::default() };
    let (got, used) = exposure_indexed(&g, &tags, &idx, ids[&3], &o).unwrap();
    assert!(!used);
    assert_eq!(got, exposure(&g, &tags, ids[&3], &o).unwrap());
    // Pruned with the stale index, which shows 4 never received tagged value, address 2's
    // value would be lost: both categories count.
    assert_eq!(got[0].categories.len(), 2, "{got:?}");
}

/// Ties in replay order: value that reached a node at the same place as it sent a transfer
/// (two transfers of one account transaction: A pays B, B pays C) or at the same time but
/// earlier in storage order is in what it sent, so the index's first arrival there must not
/// prune the send; value that arrived at the same time but later in storage order is not.
#[test]
fn value_arriving_at_the_place_or_time_of_a_send_is_not_pruned() {
    let dir = tempfile::tempdir().unwrap();
    // 0 is the scam. 0 pays 1; in one transaction 1 pays 2 and 2 pays 3 (2 receives and
    // sends at one place); 0 pays 4, then 4 pays 5 at the same time (a later transaction);
    // 7 pays 6, then 6 pays 8, then 0 pays 6, all at one time.
    let events = vec![
        Ev::Pay { from: 0, to: 1, amount: 10 },
        Ev::Call { path: vec![1, 2, 3], amounts: vec![10, 10] },
        Ev::Pay { from: 0, to: 4, amount: 10 },
        Ev::Pay { from: 4, to: 5, amount: 10 },
        Ev::Pay { from: 7, to: 6, amount: 10 },
        Ev::Pay { from: 6, to: 8, amount: 10 },
        Ev::Pay { from: 0, to: 6, amount: 10 },
    ];
    let times = [1_000, 1_010, 1_020, 1_020, 1_030, 1_030, 1_030];
    let ids = build(dir.path(), &events, &times, events.len());
    let g = Graph::open(dir.path()).unwrap();
    let tags = HashMap::from([(ids[&0], RiskCategory::Scam)]);
    let path = dir.path().join(INDEX_FILE);
    build_index(&g, &tags, &path).unwrap();
    let idx = ExposureIndex::open(&path).unwrap();
    for model in [TaintModel::Haircut, TaintModel::Poison] {
        for (target, scam) in [(3, 10u128), (5, 10), (8, 0)] {
            let o = ExposureOptions { model, asset: Some("BTC".into()), ..Default::default() };
            let want = exposure(&g, &tags, ids[&target], &o).unwrap();
            let (got, used) = exposure_indexed(&g, &tags, &idx, ids[&target], &o).unwrap();
            assert!(used);
            assert_eq!(got, want, "address {target} {model:?}");
            let found = got[0].categories.iter().map(|c| c.value.to_u128().unwrap()).sum::<u128>();
            assert_eq!(found, scam, "address {target} {model:?}: {got:?}");
        }
    }
}
