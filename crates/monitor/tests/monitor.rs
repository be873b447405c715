//! Integration tests of floodgate-monitor.
// Tests unwrap freely: a failure should stop the test with the value shown.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use floodgate_monitor::customer::CustomerBook;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::pack::Pack;
use floodgate_monitor::synth::{evaluate, generate, SynthConfig};
use floodgate_types::AssetRegistry;

#[test]
fn detection_quality_on_synthetic_world() {
    let w = generate(SynthConfig::default());
    let engine = Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        w.customers.clone(),
        w.facts(),
    );
    let scores = evaluate(&w, engine);
    for s in &scores {
        eprintln!(
            "{:<26} planted {:>3} flagged {:>3} tp {:>3} recall {:.3} precision {:.3}",
            s.typology, s.planted, s.flagged, s.true_positives, s.recall, s.precision
        );
    }
    for s in &scores {
        assert!(s.recall >= 0.95 && s.precision >= 0.90, "{s:?}");
    }
    let _ = (CustomerBook::default(), Arc::new(0));
}
