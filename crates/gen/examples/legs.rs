//! Times `World::for_each_leg`: `cargo run --release -p floodgate-gen --example legs -- 50000000 1`.

// An example reports on stdout.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use floodgate_gen::{GenConfig, World};

fn main() {
    let mut args = std::env::args().skip(1);
    let transfers = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let started = Instant::now();
    let world = World::new(&GenConfig { transfers, seed, ..GenConfig::default() });
    let (mut legs, mut amount) = (0u64, 0u64);
    world.for_each_leg(|l| {
        legs += 1;
        amount = amount.wrapping_add(l.amount);
    });
    let s = started.elapsed().as_secs_f64();
    println!(
        "{legs} legs, {} address ids, {s:.2} s, {:.1} M legs/s (checksum {amount})",
        world.address_count(),
        legs as f64 / s / 1e6
    );
}
