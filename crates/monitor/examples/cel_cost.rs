//! Ad-hoc: cost of the CEL rules vs the built-in typologies alone.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)]
use floodgate_monitor::{engine::Engine, fiat::RateTable, monitor::Monitor, pack::Pack, synth::*};
use floodgate_types::AssetRegistry;
use std::time::Instant;
fn main() {
    let w =
        generate(SynthConfig { seed: 1, background_customers: 2000, per_typology: 20, days: 20 });
    let no_cel =
        floodgate_monitor::pack::VN_PACK.split("# ---- CEL rules").next().unwrap().to_owned();
    for (name, text) in
        [("vn", floodgate_monitor::pack::VN_PACK.to_owned()), ("vn_without_cel", no_cel)]
    {
        let pack = Pack::parse(std::path::Path::new("x"), &text).unwrap();
        let mut m = Monitor::in_memory(Engine::new(
            pack,
            AssetRegistry::builtin(),
            RateTable::builtin(),
            w.customers.clone(),
            w.facts(),
        ));
        let t = Instant::now();
        for e in &w.events {
            std::hint::black_box(m.process(e).unwrap());
        }
        eprintln!(
            "{name}: {:.0}/s (process only, no parse/serialize)",
            w.events.len() as f64 / t.elapsed().as_secs_f64()
        );
    }
}
