//! What the examples read of a world the `scale` bench kept (`FLOODGATE_BENCH_KEEP=DIR`).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use floodgate_graph::NodeId;
use floodgate_types::RiskCategory;

/// A file of the kept world, as text.
pub(crate) fn read(dir: &Path, name: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(name)).with_context(|| format!("{name} in the kept world"))
}

/// The kept world's tags (`tags.txt`: a node id and its category a line).
pub(crate) fn tags(dir: &Path) -> Result<HashMap<NodeId, RiskCategory>> {
    let mut tags = HashMap::new();
    for (i, line) in read(dir, "tags.txt")?.lines().enumerate() {
        let (n, c) = line.split_once(' ').with_context(|| format!("tags.txt line {}", i + 1))?;
        let c = RiskCategory::parse(c).with_context(|| format!("tags.txt line {}", i + 1))?;
        tags.insert(NodeId(n.parse()?), c);
    }
    Ok(tags)
}
