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
    /// The screening database, or a list file.
    #[error(transparent)]
    Screen(#[from] floodgate_screen::ScreenError),
    /// A list file that cannot be read or parsed; nothing was changed.
    #[error("{context}")]
    ListFile {
        /// What was being done, to which file ("loading sdn.xml (nothing was changed)").
        context: String,
        /// The loader's error, naming the file and the line or element.
        source: floodgate_screen::ScreenError,
    },
    /// A shared resource is unavailable (a lock poisoned by a panic elsewhere).
    #[error("{what} is unavailable")]
    Unavailable {
        /// What ("screening database").
        what: String,
    },
    /// No screening list is loaded in the data directory.
    #[error("no lists loaded in {} (run `floodgate lists load PATH…` first, or pass --data-dir)", dir.display())]
    NoLists {
        /// The data directory.
        dir: PathBuf,
    },
    /// A chain name that is neither a chain floodgate reads nor an asset ticker.
    #[error(transparent)]
    Chain(#[from] floodgate_types::ChainError),
    /// The case store (screening alerts).
    #[error(transparent)]
    Cases(#[from] floodgate_cases::CasesError),
    /// A chain reader or ledger reader refused its input.
    #[error(transparent)]
    Ingest(#[from] floodgate_ingest::IngestError),
    /// A record of an input file could not be parsed (a CSV row).
    #[error("{context}")]
    Parse {
        /// The file and what was being read.
        context: String,
        /// The parser's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An error with what was being done when it happened.
    #[error("{context}")]
    Context {
        /// What was being done ("loading sdn.xml (nothing was changed)").
        context: String,
        /// The error.
        source: Box<AppError>,
    },
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
            AppError::Screen(
                floodgate_screen::ScreenError::Shrink { .. }
                | floodgate_screen::ScreenError::EmptyList { .. },
            ) => "list_refused",
            AppError::ListFile { .. } => "list_file",
            AppError::Unavailable { .. } => "unavailable",
            AppError::Screen(_) => "screening",
            AppError::NoLists { .. } => "no_lists",
            AppError::Chain(_) => "invalid_chain",
            AppError::Ingest(_) => "ingest",
            AppError::Cases(_) => "cases",
            AppError::Parse { .. } => "input",
            AppError::Context { source, .. } => source.code(),
        }
    }

    /// `source` with what was being done when it happened.
    pub fn context(context: impl Into<String>, source: AppError) -> AppError {
        AppError::Context { context: context.into(), source: Box::new(source) }
    }

    /// The error under any [`AppError::Context`] wrapping it.
    pub fn root(&self) -> &AppError {
        match self {
            AppError::Context { source, .. } => source.root(),
            e => e,
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
