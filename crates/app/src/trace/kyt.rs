//! The exposure index as the KYT monitor asks it (issue 14 item 5): a deposit's source
//! address and a withdrawal's destination, looked up in `graph/exposure.fgx`.

use floodgate_graph::GraphError;
use floodgate_monitor::exposure_index::{ExposureLookup, IndexAnswer, IndexedFacts};
use floodgate_types::Address;

use super::Tracer;
use crate::{DataDir, Result};

/// The data directory's exposure index, checked once against its graph and tags.
#[derive(Debug)]
pub struct IndexLookup {
    tracer: Tracer,
    /// Why the index cannot answer (missing, stale, damaged), checked when opened.
    unusable: Option<String>,
    name: String,
}

impl IndexLookup {
    /// The index of the data directory's graph; `None` when no graph was built (the monitor
    /// then has no exposure facts and says nothing of an index).
    ///
    /// # Errors
    /// A graph that cannot be opened, tags that cannot be loaded.
    pub fn open(dd: &DataDir) -> Result<Option<IndexLookup>> {
        let tracer = match Tracer::open(dd) {
            Ok(t) => t,
            Err(crate::AppError::Graph(GraphError::NotBuilt { .. })) => return Ok(None),
            Err(e) => return Err(e),
        };
        let unusable = tracer.index_stale_reason()?;
        let name = match tracer.exposure_index() {
            Ok(i) => format!("{} (graph of {} edges)", i.path().display(), i.state().edges),
            Err(_) => {
                floodgate_trace::ExposureIndex::path_in(tracer.graph().dir()).display().to_string()
            }
        };
        Ok(Some(IndexLookup { tracer, unusable, name }))
    }
}

impl ExposureLookup for IndexLookup {
    fn lookup(&self, addr: &Address, asset: &str) -> IndexAnswer {
        if let Some(why) = &self.unusable {
            return IndexAnswer::Unavailable(why.clone());
        }
        let Ok(idx) = self.tracer.exposure_index() else {
            return IndexAnswer::Unavailable("there is no exposure index".into());
        };
        let Ok(node) = self.tracer.node(&addr.to_string()) else { return IndexAnswer::Absent };
        match idx.lookup_asset(node, asset) {
            None => IndexAnswer::Absent,
            Some(e) if e.wide => IndexAnswer::Unavailable(format!(
                "a value received by {addr} does not fit 128 bits"
            )),
            Some(e) => IndexAnswer::Found(IndexedFacts {
                total: e.total,
                categories: e
                    .categories
                    .iter()
                    .map(|c| (c.category, c.haircut, c.poison[3]))
                    .collect(),
                round_trip: e.round_trip,
            }),
        }
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}
