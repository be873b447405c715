//! Leg generation throughput (`docs/gen.md` records the 50-million-leg figure).

// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use floodgate_gen::{GenConfig, World};

fn legs(c: &mut Criterion) {
    let transfers = 200_000;
    let world = World::new(&GenConfig { transfers, seed: 1, ..GenConfig::default() });
    let mut g = c.benchmark_group("gen");
    g.sample_size(10);
    g.throughput(Throughput::Elements(transfers));
    g.bench_function("for_each_leg_200k", |b| {
        b.iter(|| {
            let mut n = 0u64;
            world.for_each_leg(|l| n = n.wrapping_add(l.amount));
            n
        })
    });
    g.finish();
}

criterion_group!(benches, legs);
criterion_main!(benches);
