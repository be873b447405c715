//! The one error type of the services.

use std::path::PathBuf;

/// What went wrong in a service, with the file, field or target it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// A request field is invalid.
    #[error("{message}")]
    Invalid {
        /// The field (a request field name; the CLI's flag).
        field: String,
        /// Why (a whole sentence naming the field).
        message: String,
    },
    /// The data directory holds no transfer store.
    #[error("no transfer store in {} (run `floodgate ingest …` or `floodgate demo` first, or pass --data-dir)", dir.display())]
    NoStore {
        /// The data directory.
        dir: PathBuf,
    },
    /// Reading or writing a file or directory failed.
    #[error("{context}")]
    Io {
        /// What was being done, to which file ("moving graph.rebuild").
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An input stream could not be read (after the lines before it were used).
    #[error("{}: {message}", input.display())]
    Input {
        /// The input (a path, `-` or `<transfer store>`).
        input: PathBuf,
        /// What failed.
        message: String,
    },
    /// The monitor: its rules, data files or state.
    #[error(transparent)]
    Monitor(#[from] floodgate_monitor::error::MonitorError),
    /// The transfer store.
    #[error(transparent)]
    Store(#[from] floodgate_store::StoreError),
    /// The graph or the clustering.
    #[error(transparent)]
    Graph(#[from] floodgate_graph::GraphError),
    /// A tag source.
    #[error(transparent)]
    Tags(#[from] floodgate_attribution::TagError),
    /// The screening database.
    #[error(transparent)]
    Screen(#[from] floodgate_screen::ScreenError),
}

impl AppError {
    /// A stable, machine-readable code for the error (the HTTP API's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { .. } => "invalid_request",
            AppError::NoStore { .. } => "no_transfer_store",
            AppError::Io { .. } => "io",
            AppError::Input { .. } => "input",
            AppError::Monitor(floodgate_monitor::error::MonitorError::Rules { .. }) => "rules",
            AppError::Monitor(_) => "monitor",
            AppError::Store(_) => "store",
            AppError::Graph(floodgate_graph::GraphError::NotInGraph { .. }) => "not_in_graph",
            AppError::Graph(_) => "graph",
            AppError::Tags(_) => "tag_source",
            AppError::Screen(_) => "screening",
        }
    }

    /// An I/O error's mapper: `what` done to `path` (`what` empty: the path alone).
    pub(crate) fn io(
        what: &'static str,
        path: impl AsRef<std::path::Path>,
    ) -> impl FnOnce(std::io::Error) -> AppError {
        let path = path.as_ref().display();
        let context = if what.is_empty() { path.to_string() } else { format!("{what} {path}") };
        move |source| AppError::Io { context, source }
    }
}
