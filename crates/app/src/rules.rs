//! Rules services: check a rules file, the built-in pack, and detection quality measured on
//! a seeded synthetic ledger (`docs/rules.md`).

use std::path::PathBuf;
use std::sync::Arc;

use floodgate_monitor::engine::Engine;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::pack::{Pack, VN_PACK};
use floodgate_monitor::synth::{evaluate, generate, SynthConfig, TypologyScore};
use floodgate_types::AssetRegistry;
use serde::{Deserialize, Serialize};

use crate::Result;

/// A rules file to check.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckRequest {
    /// The rules file (TOML).
    pub file: PathBuf,
}

/// A rules file that compiles (`floodgate rules check --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    /// The file.
    pub file: PathBuf,
    /// The pack's id.
    pub pack: String,
    /// Rules in force: typologies, report triggers and CEL rules.
    pub active_rules: usize,
    /// CEL rules.
    pub cel_rules: usize,
    /// Sliding windows.
    pub windows: usize,
}

/// Compiles a rules file.
///
/// # Errors
/// [`crate::AppError::Monitor`] with `FILE:LINE:COLUMN: message` of the first error.
pub fn check(req: &CheckRequest) -> Result<CheckResult> {
    let p = Pack::load(&req.file)?;
    Ok(CheckResult {
        file: req.file.clone(),
        pack: p.meta.id.clone(),
        active_rules: p.rule_count(),
        cel_rules: p.rules.len(),
        windows: p.windows.len(),
    })
}

/// The built-in Viet Nam pack, as TOML (a starting point for a rules file).
pub fn default_pack() -> &'static str {
    VN_PACK
}

/// What to measure detection quality with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvalRequest {
    /// Rules file; the built-in `vn` pack when absent.
    pub rules: Option<PathBuf>,
    /// Generator seed.
    pub seed: u64,
    /// Ordinary customers in the synthetic exchange.
    pub customers: usize,
    /// Planted customers per typology.
    pub per_typology: usize,
}

impl Default for EvalRequest {
    fn default() -> Self {
        EvalRequest { rules: None, seed: 42, customers: 400, per_typology: 20 }
    }
}

/// Recall and precision per typology (`floodgate rules eval --format json`: the array).
#[derive(Debug, Clone)]
pub struct EvalResult {
    /// One score per typology.
    pub scores: Vec<TypologyScore>,
}

impl Serialize for EvalResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.scores.serialize(s)
    }
}

impl EvalResult {
    /// Whether every typology the rules switch on meets its recall and precision target (one
    /// that was not planted does not: no evidence is not a recall of 1).
    pub fn all_met(&self) -> bool {
        self.scores.iter().filter(|s| s.enabled).all(TypologyScore::meets_target)
    }

    /// The typologies switched on that were not planted, for the failure message.
    pub fn not_planted(&self) -> Vec<&str> {
        self.scores
            .iter()
            .filter(|s| s.enabled && s.planted == 0)
            .map(|s| s.typology.as_str())
            .collect()
    }
}

/// Generates a seeded synthetic ledger with planted typologies and hard negatives, runs the
/// rules over it and scores each typology.
///
/// # Errors
/// The rules file does not compile.
pub fn eval(assets: &AssetRegistry, req: &EvalRequest) -> Result<EvalResult> {
    let pack = crate::monitor::load_pack(req.rules.as_deref())?;
    let cfg = SynthConfig {
        seed: req.seed,
        background_customers: req.customers,
        per_typology: req.per_typology,
        ..SynthConfig::default()
    };
    let world = generate(cfg);
    let engine = Engine::new(
        pack,
        assets.clone(),
        RateTable::builtin(),
        world.customers.clone(),
        Arc::new(world.lists.clone()),
    );
    Ok(EvalResult { scores: evaluate(&world, engine) })
}
