//! List services: load sanctions, entity and alert lists into the screening database (every
//! file parsed and every list checked before anything is written; a list that would be
//! emptied or shrink past the allowed share refused), and show what is loaded and the load
//! history. A load re-screens the registered subjects against what changed
//! (`docs/screening.md`).

use std::path::PathBuf;
use std::time::Instant;

use floodgate_screen::loaders::limits::Limits;
use floodgate_screen::screener::{
    DeltaHit, FileDigest, ListInfo, LoadOptions, LoadRecord, StoredHit, DEFAULT_MAX_SHRINK_PERCENT,
};
use floodgate_screen::{ListSnapshot, LoadReport, ScreenError, Screener};
use serde::{Deserialize, Serialize};

use crate::alerts::ScreeningAlerts;
use crate::screen::{self, ScoreOptions, Screening};
use crate::{AppError, DataDir, Progress, Result};
use floodgate_cases::model::AlertSource;

/// List files to load.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadRequest {
    /// List files or directories (the format is told from the name and content).
    pub paths: Vec<PathBuf>,
    /// Merge every file into this one list (replacing it); each file is its own list
    /// otherwise.
    pub list: Option<String>,
    /// The version to record instead of the one found in the file.
    pub version: Option<String>,
    /// Load even when a list drops more than the allowed share of its entries (never when it
    /// would have none).
    pub allow_shrink: bool,
    /// The largest share of a list's entries, in percent, a load may drop (default 10).
    pub max_shrink_percent: Option<u32>,
    /// Who loads, for the load history.
    pub loaded_by: String,
    /// A Unihan reading table to use instead of the built-in extract.
    pub unihan: Option<PathBuf>,
}

/// One list loaded (a row of `floodgate lists load --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct LoadRow {
    /// Version, counts, the delta and the delta re-screen's new and removed hits.
    #[serde(flatten)]
    pub report: LoadReport,
    /// Entities now in force.
    pub entities: usize,
    /// When the version was stored.
    pub loaded_at: String,
    /// The source file(s).
    pub source: String,
    /// Parse and store time.
    pub load_seconds: f64,
    /// Dates of birth dropped because the day does not exist (31 February); logged.
    pub dropped_dates: usize,
}

/// What a load did (`floodgate lists load --format json`: the array of rows).
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// One row per list loaded.
    pub rows: Vec<LoadRow>,
    /// Every hit stored for a registered subject after the load (for the case feed: an
    /// alert a crash lost is raised again; the others are already there).
    pub stored_hits: Vec<StoredHit>,
}

impl LoadResult {
    /// New hits of registered subjects found by the delta re-screen, as alerts about each
    /// subject (a hit alerted before is not alerted again).
    pub fn delta_alerts(&self) -> ScreeningAlerts<'_, DeltaHit> {
        ScreeningAlerts {
            source: AlertSource::ScreenDelta,
            hits: self
                .rows
                .iter()
                .flat_map(|r| r.report.new_hits.iter().map(|h| (h.subject.clone(), h)))
                .collect(),
        }
    }

    /// Every hit stored for a registered subject, as alerts: stored after
    /// [`LoadResult::delta_alerts`], an alert a crash lost (the screening database commits
    /// before the case store) is raised then; the others are already there under the same
    /// key and change nothing.
    pub fn stored_alerts(&self) -> ScreeningAlerts<'_, StoredHit> {
        ScreeningAlerts {
            source: AlertSource::ScreenDelta,
            hits: self.stored_hits.iter().map(|h| (h.subject.clone(), h)).collect(),
        }
    }
}

impl Serialize for LoadResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.rows.serialize(s)
    }
}

/// One parsed file (or the merge of several): the snapshot, the digests of the files read,
/// the parse time and the dates dropped.
struct Parsed {
    snapshot: ListSnapshot,
    files: Vec<FileDigest>,
    seconds: f64,
    dropped_dates: usize,
}

/// Merges several snapshots into one list. Entity ids are prefixed with the list each file
/// would have had on its own, so that ids from different files cannot collide.
fn merge(name: &str, snaps: Vec<ListSnapshot>) -> ListSnapshot {
    let mut snaps = snaps;
    if snaps.len() == 1 {
        if let Some(mut s) = snaps.pop() {
            s.list = name.to_owned();
            return s;
        }
    }
    let mut out = ListSnapshot { list: name.to_owned(), ..ListSnapshot::default() };
    let (mut versions, mut sources) = (Vec::new(), Vec::new());
    for s in snaps {
        versions.push(s.version);
        sources.push(s.source);
        out.entities.extend(s.entities.into_iter().map(|mut e| {
            e.id = format!("{}:{}", s.list, e.id);
            e
        }));
    }
    out.version = versions.join("+");
    out.source = sources.join("; ");
    out
}

/// Parses one list file or directory under `limits`, with the SHA-256 of each file read.
///
/// # Errors
/// The file cannot be read or parsed (the error names the file and the line or element).
fn parse(path: &std::path::Path, limits: &Limits) -> Result<Parsed> {
    let started = Instant::now();
    let loaded = floodgate_screen::loaders::load_path_with(path, limits).map_err(|source| {
        AppError::ListFile {
            context: format!("loading {} (nothing was changed)", path.display()),
            source,
        }
    })?;
    let files = floodgate_screen::loaders::files_read(path)
        .and_then(|fs| fs.iter().map(|f| FileDigest::of(f)).collect::<Result<Vec<_>, _>>())
        .map_err(|source| AppError::ListFile {
            context: format!("hashing {} (nothing was changed)", path.display()),
            source,
        })?;
    Ok(Parsed {
        snapshot: loaded.snapshot,
        files,
        seconds: started.elapsed().as_secs_f64(),
        dropped_dates: loaded.dropped_dates,
    })
}

/// Loads list files into a screening database: every file is parsed and every list checked
/// before any is written, so one bad file or one refused list loads nothing. The registered
/// subjects are re-screened against what each new version added or changed.
///
/// # Errors
/// A file that cannot be parsed, a list refused (empty, or shrinking past the allowed share
/// without `allow_shrink`), the screening database failed. Nothing is changed on any error
/// before the first list is stored.
pub fn load_into(
    screener: &mut Screener,
    req: &LoadRequest,
    limits: &Limits,
    progress: &dyn Progress,
) -> Result<LoadResult> {
    let batches = parse_all(req, limits, progress)?;
    store(screener, req, batches, progress)
}

/// [`load_into`] the data directory's screening database (created on the first load).
///
/// # Errors
/// As [`load_into`]; the screening database cannot be opened.
pub fn load(
    dir: &DataDir,
    req: &LoadRequest,
    limits: &Limits,
    progress: &dyn Progress,
) -> Result<LoadResult> {
    let batches = parse_all(req, limits, progress)?;
    progress.message("opening the screening database");
    let score = ScoreOptions { unihan: req.unihan.clone(), ..ScoreOptions::default() };
    let mut screener = screen::open_db(dir, &score)?;
    store(&mut screener, req, batches, progress)
}

fn load_options(req: &LoadRequest) -> LoadOptions {
    LoadOptions {
        max_shrink_percent: req.max_shrink_percent.unwrap_or(DEFAULT_MAX_SHRINK_PERCENT),
        allow_shrink: req.allow_shrink,
        loaded_by: req.loaded_by.clone(),
        files: Vec::new(),
    }
}

fn parse_all(req: &LoadRequest, limits: &Limits, progress: &dyn Progress) -> Result<Vec<Parsed>> {
    if req.paths.is_empty() {
        return Err(AppError::Invalid {
            field: "paths".into(),
            message: "no list file given".into(),
        });
    }
    if req.max_shrink_percent.is_some_and(|p| p > 100) {
        return Err(AppError::Invalid {
            field: "max_shrink_percent".into(),
            message: "the largest share a load may drop must be 0–100 percent".into(),
        });
    }
    progress.start(req.paths.len() as u64);
    // Parse everything first: a bad file among several must change nothing.
    let mut parsed = Vec::new();
    for p in &req.paths {
        progress.message(&format!("parsing {}", p.display()));
        let r = parse(p, limits);
        if r.is_err() {
            progress.finish();
        }
        parsed.push(r?);
        progress.inc(1);
    }
    let mut batches = match &req.list {
        Some(name) => {
            let seconds = parsed.iter().map(|p| p.seconds).sum();
            let dropped_dates = parsed.iter().map(|p| p.dropped_dates).sum();
            let files = parsed.iter().flat_map(|p| p.files.iter().cloned()).collect();
            let snapshot = merge(name, parsed.into_iter().map(|p| p.snapshot).collect());
            vec![Parsed { snapshot, files, seconds, dropped_dates }]
        }
        None => parsed,
    };
    if let Some(v) = &req.version {
        for b in &mut batches {
            b.snapshot.version.clone_from(v);
        }
    }
    Ok(batches)
}

fn store(
    screener: &mut Screener,
    req: &LoadRequest,
    batches: Vec<Parsed>,
    progress: &dyn Progress,
) -> Result<LoadResult> {
    let opts_base = load_options(req);
    // Check every list before writing any, so that one refused list loads nothing.
    for b in &batches {
        if let Err(e) = screener.check_load(&b.snapshot, &opts_base) {
            progress.finish();
            let hint = match e {
                ScreenError::Shrink { .. } => {
                    " (nothing was changed; check the file, then pass --allow-shrink if the \
                     shrink is real)"
                }
                _ => " (nothing was changed)",
            };
            return Err(AppError::context(
                format!("list {}{hint}", b.snapshot.list),
                AppError::Screen(e),
            ));
        }
    }
    let mut rows = Vec::new();
    for b in batches {
        progress.message(&format!("storing list {}", b.snapshot.list));
        let started = Instant::now();
        let source = b.snapshot.source.clone();
        let opts = LoadOptions { files: b.files, ..opts_base.clone() };
        let report = screener.load_with(b.snapshot, &opts).map_err(|e| {
            AppError::context(
                format!("storing the list from {source} in the screening database"),
                e.into(),
            )
        })?;
        let info = screener.lists()?.into_iter().find(|l| l.list == report.list);
        rows.push(LoadRow {
            entities: info.as_ref().map_or(0, |i| i.entities),
            loaded_at: info.as_ref().map(|i| i.loaded_at.clone()).unwrap_or_default(),
            source,
            load_seconds: b.seconds + started.elapsed().as_secs_f64(),
            dropped_dates: b.dropped_dates,
            report,
        });
    }
    progress.finish();
    Ok(LoadResult { rows, stored_hits: screener.stored_hits()? })
}

/// The lists in force (`floodgate lists show --format json`); none when nothing was loaded.
///
/// # Errors
/// The screening database failed.
pub fn show(dir: &DataDir) -> Result<Vec<ListInfo>> {
    if !dir.root().join(floodgate_screen::screener::DB_FILE).exists() {
        return Ok(Vec::new());
    }
    in_force(&screen::open_db(dir, &ScoreOptions::default())?)
}

/// The list versions a [`Screening`] screens against (what [`show`] prints for a data
/// directory; the HTTP API's `GET /v1/lists` over its shared index).
///
/// # Errors
/// The screening database failed.
pub fn in_force(s: &impl Screening) -> Result<Vec<ListInfo>> {
    s.lists()
}

/// Which loads to show.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistoryRequest {
    /// Only this list's loads.
    pub list: Option<String>,
}

/// The recorded loads (`floodgate lists history --format json`): who loaded which version
/// when, each file's SHA-256, the entry counts before and after.
///
/// # Errors
/// The screening database failed.
pub fn history(dir: &DataDir, req: &HistoryRequest) -> Result<Vec<LoadRecord>> {
    if !dir.root().join(floodgate_screen::screener::DB_FILE).exists() {
        return Ok(Vec::new());
    }
    Ok(screen::open_db(dir, &ScoreOptions::default())?.history(req.list.as_deref())?)
}

#[cfg(test)]
mod tests {
    // In tests a panic is the failure report.
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::NoProgress;

    fn list_file(dir: &std::path::Path, name: &str, entries: usize) -> PathBuf {
        let mut csv = String::from("# list: test-list\n# version: v1\nid,name,type\n");
        for i in 0..entries {
            csv.push_str(&format!("e-{i},Person Number {i},person\n"));
        }
        let p = dir.join(name);
        std::fs::write(&p, csv).unwrap();
        p
    }

    fn request(paths: Vec<PathBuf>) -> LoadRequest {
        LoadRequest { paths, loaded_by: "tester".into(), ..LoadRequest::default() }
    }

    #[test]
    fn a_refused_or_unreadable_load_changes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("data"));
        let limits = Limits::default();
        let ten = list_file(tmp.path(), "ten.csv", 10);
        let r = load(&dir, &request(vec![ten]), &limits, &NoProgress).unwrap();
        assert_eq!(r.rows.len(), 1);
        assert_eq!((r.rows[0].report.list.as_str(), r.rows[0].entities), ("test-list", 10));
        assert_eq!(history(&dir, &HistoryRequest::default()).unwrap().len(), 1);

        // Nine of ten entries dropped: refused, with the code the API answers 409 with.
        let one = list_file(tmp.path(), "one.csv", 1);
        let e = load(&dir, &request(vec![one.clone()]), &limits, &NoProgress).unwrap_err();
        assert_eq!(e.code(), "list_refused", "{e}");
        assert!(e.to_string().contains("--allow-shrink"), "{e}");
        // A file of no known format among good ones: nothing is loaded.
        let junk = tmp.path().join("junk.txt");
        std::fs::write(&junk, "hello\n").unwrap();
        let good = list_file(tmp.path(), "eleven.csv", 11);
        let e = load(&dir, &request(vec![good, junk]), &limits, &NoProgress).unwrap_err();
        assert_eq!(e.code(), "list_file", "{e}");
        assert!(matches!(e.root(), AppError::ListFile { .. }));
        let shown = show(&dir).unwrap();
        assert_eq!((shown.len(), shown[0].entities), (1, 10), "the first version stays");
        assert_eq!(history(&dir, &HistoryRequest::default()).unwrap().len(), 1);

        // With allow_shrink the same file loads.
        let req = LoadRequest { allow_shrink: true, ..request(vec![one]) };
        let r = load(&dir, &req, &limits, &NoProgress).unwrap();
        assert_eq!((r.rows[0].report.removed, r.rows[0].entities), (9, 1));
    }
}
