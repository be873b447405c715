//! Shape of a generated world: `cargo run --release -p floodgate-gen --example stats -- 1000000 1`.
//! Prints inputs/outputs per Bitcoin transaction, address degree quantiles and the share of
//! one-time addresses, the figures `docs/gen.md` quotes.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use floodgate_gen::{GenConfig, LegKind, World};

fn quantiles(mut v: Vec<u32>) -> String {
    v.sort_unstable();
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize];
    format!(
        "p50 {} p90 {} p99 {} p99.9 {} max {}",
        q(0.5),
        q(0.9),
        q(0.99),
        q(0.999),
        v.last().copied().unwrap_or(0)
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let transfers = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let world = World::new(&GenConfig { transfers, seed, ..GenConfig::default() });
    let mut degree = vec![0u32; world.address_count() as usize];
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    let (mut cur, mut i, mut o) = (u64::MAX, 0u32, 0u32);
    let mut chains = [0u64; 3];
    world.for_each_leg(|l| {
        for a in [l.from, l.to].into_iter().flatten() {
            degree[a as usize] += 1;
        }
        chains[l.chain as usize] += 1;
        if l.kind == LegKind::Transfer {
            return;
        }
        if l.tx != cur {
            if cur != u64::MAX {
                ins.push(i);
                outs.push(o);
            }
            (cur, i, o) = (l.tx, 0, 0);
        }
        match l.kind {
            LegKind::Input => i += 1,
            _ => o += 1,
        }
    });
    ins.push(i);
    outs.push(o);
    let used: Vec<u32> = degree.iter().copied().filter(|&d| d > 0).collect();
    let once = used.iter().filter(|&&d| d <= 2).count();
    println!("legs per chain (bitcoin, ethereum, tron): {chains:?}");
    println!("bitcoin transactions: {}", ins.len());
    println!("inputs per tx:  {}", quantiles(ins));
    println!("outputs per tx: {}", quantiles(outs));
    println!("addresses used: {} of {} ids", used.len(), world.address_count());
    let mut per = [(0u32, 0u32); 3];
    for (a, &d) in degree.iter().enumerate() {
        let c = world.address_chain(a as u32) as usize;
        per[c].1 += 1;
        per[c].0 += u32::from(d > 0);
    }
    println!("used/ids per chain (bitcoin, ethereum, tron): {per:?}");
    println!(
        "one-time addresses (received once, spent at most once): {:.1}%",
        100.0 * once as f64 / used.len() as f64
    );
    println!("address degree: {}", quantiles(used));
}
