//! Configuration, in layers: built-in defaults < TOML file < `FLOODGATE_*` environment <
//! flags. Every key is documented in `docs/config.md`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use floodgate_types::AssetRegistry;
use serde::Deserialize;

/// The default data directory, relative to the working directory.
pub(crate) const DEFAULT_DATA_DIR: &str = "floodgate-data";
/// The config file read from the working directory when no `--config` is given.
pub(crate) const DEFAULT_CONFIG_FILE: &str = "floodgate.toml";

/// The config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// Data directory.
    pub(crate) data_dir: Option<PathBuf>,
    /// Extra assets (TOML with `[[asset]]` entries).
    pub(crate) assets_file: Option<PathBuf>,
    /// Name under which ledger entries are stored when `--ledger` is not given.
    pub(crate) ledger: Option<String>,
    /// Alerts, cases and audit log (`[cases]`; docs/cases.md).
    pub(crate) cases: Option<CasesConfig>,
}

/// The `[cases]` table: where the case store is and who the CLI acts as.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CasesConfig {
    /// `postgres://…` URL or SQLite file [default: DATA_DIR/cases.db].
    pub(crate) database_url: Option<String>,
    /// Tenant the CLI acts for [default: `default`].
    pub(crate) tenant: Option<String>,
    /// User the CLI acts as [default: $USER].
    pub(crate) user: Option<String>,
    /// Role of that user [default: analyst].
    pub(crate) role: Option<String>,
}

/// Validated configuration every command runs with.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) data_dir: PathBuf,
    pub(crate) assets: AssetRegistry,
    pub(crate) ledger: String,
    pub(crate) cases: CasesConfig,
}

impl Context {
    /// Builds the context from the global flags (which clap already merged with the
    /// environment) and the config file.
    pub(crate) fn load(global: &crate::cmd::GlobalArgs) -> Result<Context> {
        let (file, file_dir) = match &global.config {
            Some(p) => (read_file_config(p)?, p.parent().map(Path::to_path_buf)),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                (read_file_config(Path::new(DEFAULT_CONFIG_FILE))?, None)
            }
            None => (FileConfig::default(), None),
        };
        // Paths in a config file are relative to the file, as users expect.
        let rel = |p: PathBuf| match &file_dir {
            Some(d) if p.is_relative() && !d.as_os_str().is_empty() => d.join(p),
            _ => p,
        };
        let data_dir = global
            .data_dir
            .clone()
            .or(file.data_dir.map(rel))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let mut assets = AssetRegistry::builtin();
        if let Some(path) = global.assets.clone().or(file.assets_file.map(rel)) {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading assets file {}", path.display()))?;
            assets.load_toml(&text).with_context(|| format!("{}", path.display()))?;
        }
        let ledger = file.ledger.unwrap_or_else(|| "main".to_owned());
        let mut cases = file.cases.unwrap_or_default();
        if let Some(p) = cases.database_url.take() {
            // A SQLite path in the config file is relative to the file, as other paths.
            let is_url = p.starts_with("postgres://") || p.starts_with("postgresql://");
            cases.database_url =
                Some(if is_url { p } else { rel(PathBuf::from(p)).display().to_string() });
        }
        Ok(Context { data_dir, assets, ledger, cases })
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}
