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
    /// Deepest reorganisation `ingest` unwinds without `--rollback-to`.
    pub(crate) max_unwind: Option<u64>,
    /// `[lists]`: list-load guards and input limits.
    pub(crate) lists: Option<crate::cmd::lists::ListsConfig>,
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
    /// From the config file; `ingest --max-unwind` / `FLOODGATE_MAX_UNWIND` override it.
    pub(crate) max_unwind: u64,
    pub(crate) lists: crate::cmd::lists::ListsConfig,
    pub(crate) cases: CasesConfig,
}

impl Context {
    /// Builds the context from the global flags (which clap already merged with the
    /// environment) and the config file.
    /// The data directory, for the services of `floodgate-app`.
    pub(crate) fn dir(&self) -> floodgate_app::DataDir {
        floodgate_app::DataDir::new(&self.data_dir)
    }

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
        let max_unwind = file.max_unwind.unwrap_or(floodgate_store::DEFAULT_MAX_UNWIND);
        let lists = file.lists.unwrap_or_default().with_env()?;
        let mut cases = file.cases.unwrap_or_default();
        if let Some(p) = cases.database_url.take() {
            // A SQLite path in the config file is relative to the file, as other paths.
            let is_url = p.starts_with("postgres://") || p.starts_with("postgresql://");
            cases.database_url =
                Some(if is_url { p } else { rel(PathBuf::from(p)).display().to_string() });
        }
        Ok(Context { data_dir, assets, ledger, max_unwind, lists, cases })
    }
}

fn read_file_config(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("config file {}", path.display()))
}

/// How a command uses the data directory (docs/config.md, "Data directory lock").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The command does not touch the data directory.
    None,
    /// Reads only: any number of readers at once, but not beside a writer.
    Shared,
    /// Writes: alone.
    Exclusive,
}

/// The lock file inside the data directory.
pub(crate) const LOCK_FILE: &str = "floodgate.lock";

/// A held lock on the data directory; released when dropped (or when the process ends, even
/// by `kill -9`: the operating system drops the lock with the file descriptor).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: Option<std::fs::File>,
}

/// Takes the data directory lock for `access` without waiting. The holder's PID and command
/// line are written into the lock file, so a refused command can say who holds it.
///
/// # Errors
/// When another process holds the lock in a conflicting mode: "data directory DIR is in use
/// by process PID (COMMAND)"; or when the lock file cannot be opened.
pub(crate) fn lock_data_dir(data_dir: &Path, access: Access) -> Result<DirLock> {
    use std::io::{Read as _, Seek as _, Write as _};
    let path = data_dir.join(LOCK_FILE);
    match access {
        Access::None => return Ok(DirLock { _file: None }),
        // A reader of a data directory that does not exist yet has nothing to protect, and
        // must not create the directory.
        Access::Shared if !data_dir.is_dir() => return Ok(DirLock { _file: None }),
        _ => {}
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening lock file {}", path.display()))?;
    let got = match access {
        Access::Exclusive => file.try_lock(),
        _ => file.try_lock_shared(),
    };
    match got {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            // The holder wrote its PID and command; a torn read only makes the message vaguer.
            let _ = file.read_to_string(&mut holder);
            let field = |key: &str| {
                holder.lines().find_map(|l| l.strip_prefix(key)).map(str::trim).unwrap_or("?")
            };
            let who = if alive(field("pid ")) == Some(false) {
                // The recorded reader has ended; other readers still hold the directory.
                "another floodgate process (a reader)".to_owned()
            } else {
                format!("process {} ({})", field("pid "), field("command "))
            };
            anyhow::bail!(
                "data directory {} is in use by {who}; wait for it to finish, or use another \
                 --data-dir (lock file {})",
                data_dir.display(),
                path.display()
            );
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("locking {}", path.display()));
        }
    }
    if access == Access::Shared {
        // Readers share the lock: the first one is named until it ends, then the next.
        let mut holder = String::new();
        let _ = file.read_to_string(&mut holder);
        let pid = holder.lines().find_map(|l| l.strip_prefix("pid ")).unwrap_or("");
        if alive(pid.trim()) == Some(true) {
            return Ok(DirLock { _file: Some(file) });
        }
    }
    let command: Vec<String> = std::env::args().collect();
    let text = format!("pid {}\ncommand {}\n", std::process::id(), command.join(" "));
    // Best effort: the lock itself is what protects the directory.
    let _ =
        file.set_len(0).and_then(|()| file.rewind()).and_then(|()| file.write_all(text.as_bytes()));
    Ok(DirLock { _file: Some(file) })
}

/// Whether process `pid` is running, where the system tells (`/proc`); `None` elsewhere.
fn alive(pid: &str) -> Option<bool> {
    let proc = Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(pid.parse::<u32>().is_ok() && proc.join(pid).exists())
}
