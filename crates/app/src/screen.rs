//! Screening services: a name, an address, a CSV file of names and addresses, name pairs for
//! threshold tuning, and analysts' suppressions — against the lists loaded with
//! [`crate::lists::load`]. Every hit carries its score and why (`docs/screening.md`).
//!
//! The operations run over a [`Screening`]: the CLI opens one from the data directory
//! ([`open`]); the HTTP API implements it over its shared, atomically swapped index. Either
//! way the same function decides, so the two doors never screen differently.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use floodgate_screen::loaders::limits::{LimitedReader, Limits};
use floodgate_screen::normalize::Script;
use floodgate_screen::score::{score_pair, Feature};
use floodgate_screen::screener::{ListInfo, Suppression};
use floodgate_screen::unihan::Unihan;
use floodgate_screen::{
    AddressHit, EntityType, Hit, Matcher, NameQuery, PartialDate, ScoreConfig, Screener, Subject,
};
use floodgate_types::{Chain, ChainError};
use serde::{Deserialize, Serialize};

use crate::alerts::ScreeningAlerts;
use crate::{AppError, DataDir, Progress, Result};
use floodgate_cases::model::AlertSource;

/// What screening reads and writes: the matcher of the lists in force, the versions they
/// came from, and the register of subjects (whose hits are stored for delta re-screening).
pub trait Screening {
    /// The matcher of the lists in force.
    fn matcher(&self) -> &Matcher;
    /// The list versions the matcher was built from.
    ///
    /// # Errors
    /// The screening database failed.
    fn lists(&self) -> Result<Vec<ListInfo>>;
    /// Registers (or replaces) a subject, screens it and stores its hits; suppressed hits
    /// are marked.
    ///
    /// # Errors
    /// The screening database failed, or an address is invalid for its chain.
    fn screen_subject(&mut self, id: &str, subject: Subject)
        -> Result<(Vec<Hit>, Vec<AddressHit>)>;
}

impl Screening for Screener {
    fn matcher(&self) -> &Matcher {
        Screener::matcher(self)
    }
    fn lists(&self) -> Result<Vec<ListInfo>> {
        Ok(Screener::lists(self)?)
    }
    fn screen_subject(
        &mut self,
        id: &str,
        subject: Subject,
    ) -> Result<(Vec<Hit>, Vec<AddressHit>)> {
        Ok(Screener::screen_subject(self, id, subject)?)
    }
}

/// Name comparison: floodgate's scorer, or an emulation of OFAC's Sanctions List Search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// floodgate's multilingual scorer with date of birth, country, document, type and
    /// legal-form features.
    #[default]
    Default,
    /// Jaro-Winkler and Soundex per name part, name only.
    Ofac,
}

impl Mode {
    /// The mode's name (`default`, `ofac`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Default => "default",
            Mode::Ofac => "ofac",
        }
    }
}

/// How names are scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreOptions {
    /// Score at or above which a candidate is a hit (default 0.80, 0.85 in OFAC mode).
    pub threshold: Option<f64>,
    /// Name comparison.
    pub mode: Mode,
    /// A Unihan reading table to use instead of the built-in extract.
    pub unihan: Option<PathBuf>,
}

impl ScoreOptions {
    /// The score configuration.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for a threshold outside 0–1.
    pub fn config(&self) -> Result<ScoreConfig> {
        let mut cfg = match self.mode {
            Mode::Default => ScoreConfig::default(),
            Mode::Ofac => ScoreConfig::ofac_emulation(),
        };
        if let Some(t) = self.threshold {
            if !(0.0..=1.0).contains(&t) {
                return Err(AppError::Invalid {
                    field: "threshold".into(),
                    message: format!("--threshold {t} is outside 0–1"),
                });
            }
            cfg.threshold = t;
        }
        Ok(cfg)
    }

    /// Notes on the scoring for the reader: which Unihan reading table is in use.
    pub fn notes(&self) -> Vec<String> {
        vec![match &self.unihan {
            Some(p) => format!("Unihan reading table: {}", p.display()),
            None => "Unihan reading table: built-in extract (Unicode 15.0.0; --unihan FILE \
                     overrides)"
                .to_owned(),
        }]
    }

    /// The Unihan table given, loaded.
    fn load_unihan(&self) -> Result<Option<Arc<Unihan>>> {
        match &self.unihan {
            Some(p) => Ok(Some(Arc::new(Unihan::load(p).map_err(|e| {
                AppError::context(format!("loading the Unihan table {}", p.display()), e.into())
            })?))),
            None => Ok(None),
        }
    }
}

/// Opens the screening database of a data directory with the given scoring (whether or not
/// any list is loaded: `lists load` fills it).
///
/// # Errors
/// The Unihan table or the screening database cannot be read.
pub fn open_db(dir: &DataDir, score: &ScoreOptions) -> Result<Screener> {
    let unihan = score.load_unihan()?;
    Ok(Screener::open(dir.root(), score.config()?, unihan)?)
}

/// Opens the data directory's lists for screening.
///
/// # Errors
/// [`AppError::NoLists`] when no list is loaded; as [`open_db`].
pub fn open(dir: &DataDir, score: &ScoreOptions) -> Result<Screener> {
    let none = || AppError::NoLists { dir: dir.root().to_path_buf() };
    if !dir.root().join(floodgate_screen::screener::DB_FILE).exists() {
        return Err(none());
    }
    // The threshold is checked before the database is opened (a bad flag names itself).
    score.config()?;
    let s = open_db(dir, score)?;
    if s.lists()?.is_empty() {
        return Err(none());
    }
    Ok(s)
}

/// A date of birth as a user gives it.
///
/// # Errors
/// [`AppError::Invalid`] naming `field` when it is not a calendar date.
pub fn parse_dob(field: &str, s: &str) -> Result<PartialDate> {
    PartialDate::parse(s).ok_or_else(|| AppError::Invalid {
        field: field.to_owned(),
        message: format!(
            "date of birth '{s}' is not a calendar date as YYYY, YYYY-MM or YYYY-MM-DD"
        ),
    })
}

/// What a hit's list says the entity is: "special measure" for the section 311 / 9714 list,
/// "sanctioned" for lists that store no category (OFAC, UN, CSL …).
pub fn category_label(c: Option<floodgate_types::RiskCategory>) -> String {
    match c {
        None => "sanctioned".to_owned(),
        Some(c) => c.as_str().replace('_', " "),
    }
}

/// A short, one-line explanation of a hit: each feature with what it added.
pub fn short_explanation(features: &[Feature]) -> String {
    features
        .iter()
        .map(|f| {
            if f.feature == "name" {
                format!("name {:.2}: {}", f.value, f.evidence)
            } else {
                format!("{} {:+.2}: {}", f.feature, f.contribution, f.evidence)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

// ---------------------------------------------------------------------------------------
// One name

/// A name to screen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NameRequest {
    /// The name, in any script.
    pub name: String,
    /// Person, organization, vessel or aircraft.
    pub entity_type: Option<EntityType>,
    /// Date of birth (or incorporation): `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub dob: Option<String>,
    /// Nationalities or countries (ISO2 or names).
    pub countries: Vec<String>,
    /// Identity document numbers.
    pub identifiers: Vec<String>,
    /// Register the query under this subject id (re-screened on every list load;
    /// suppressions for it apply).
    pub subject: Option<String>,
    /// Also screen the parties each hit is linked to (owners, subsidiaries, associates).
    #[serde(default)]
    pub related: bool,
    /// How names are scored.
    pub score: ScoreOptions,
}

impl NameRequest {
    /// The query, checked with the scoring options: the name, then the threshold, then the
    /// date of birth.
    ///
    /// # Errors
    /// [`AppError::Invalid`] naming the field.
    pub fn check(&self) -> Result<NameQuery> {
        if self.name.trim().is_empty() {
            return self.query();
        }
        self.score.config()?;
        self.query()
    }

    /// The query, checked.
    ///
    /// # Errors
    /// [`AppError::Invalid`] for an empty name or a date of birth that is not a date.
    pub fn query(&self) -> Result<NameQuery> {
        if self.name.trim().is_empty() {
            return Err(AppError::Invalid {
                field: "name".into(),
                message: "the name to screen is empty".into(),
            });
        }
        let dob = match &self.dob {
            Some(d) => Some(parse_dob("dob", d).map_err(|e| AppError::context("--dob", e))?),
            None => None,
        };
        Ok(NameQuery {
            name: self.name.clone(),
            entity_type: self.entity_type,
            dob,
            countries: self.countries.clone(),
            identifiers: self.identifiers.clone(),
        })
    }
}

/// The hits of a name (`floodgate screen name --format json`).
#[derive(Debug, Clone, Serialize)]
pub struct NameResult {
    /// The query screened.
    pub query: NameQuery,
    /// The hit threshold.
    pub threshold: f64,
    /// `default` or `ofac`.
    pub mode: Mode,
    /// Notes on the scoring (the Unihan table in use).
    pub notes: Vec<String>,
    /// The list versions screened against.
    pub lists: Vec<ListInfo>,
    /// The hits, best first, each with its features.
    pub hits: Vec<Hit>,
    /// With `related`: what each hit's linked parties hit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<floodgate_screen::relations::RelatedHits>,
}

impl NameResult {
    /// Whether a hit counts (one that is not suppressed for the subject).
    pub fn is_hit(&self) -> bool {
        self.hits.iter().any(|h| !h.suppressed)
    }

    /// The hits as onboarding alerts about the request's subject, or the name when it has
    /// none.
    pub fn alerts<'a>(&'a self, req: &NameRequest) -> ScreeningAlerts<'a, Hit> {
        let subject = req.subject.clone().unwrap_or_else(|| req.name.clone());
        ScreeningAlerts {
            source: AlertSource::ScreenOnboarding,
            hits: self.hits.iter().map(|h| (subject.clone(), h)).collect(),
        }
    }

    /// Whether the name is one whose matching depends on character readings (Vietnamese,
    /// Han, kana, hangul): the notes on the reading table matter to the reader.
    pub fn needs_readings(&self) -> bool {
        let n = &self.query.name;
        floodgate_screen::normalize::is_vietnamese(n)
            || matches!(
                floodgate_screen::normalize::detect_script(n),
                Script::Han | Script::Kana | Script::Hangul
            )
    }
}

/// Screens one name (registered as a subject when the request names one).
///
/// # Errors
/// [`AppError::Invalid`] for a bad query; the screening database failed.
pub fn name(s: &mut impl Screening, req: &NameRequest) -> Result<NameResult> {
    let query = req.check()?;
    let hits = match &req.subject {
        Some(id) => s.screen_subject(id, Subject::Name(query.clone()))?.0,
        None => s.matcher().screen(query.clone()),
    };
    let related = if req.related {
        floodgate_screen::relations::screen_related(s.matcher(), &hits)
    } else {
        Vec::new()
    };
    Ok(NameResult {
        query,
        threshold: s.matcher().config().threshold,
        mode: req.score.mode,
        notes: req.score.notes(),
        lists: s.lists()?,
        hits,
        related,
    })
}

// ---------------------------------------------------------------------------------------
// One address

/// An address to screen.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressRequest {
    /// `bitcoin`, `ethereum` or `tron` (or `btc`/`xbt`, `eth`, `trx`); another asset's
    /// ticker is matched as exact, case-insensitive text.
    pub chain: String,
    /// The address, in any accepted form.
    pub address: String,
    /// Register the address under this subject id.
    pub subject: Option<String>,
}

/// The hits of an address (`floodgate screen address --format json`: one JSON object whose
/// keys, the hits' included, are in alphabetical order).
#[derive(Debug, Clone)]
pub struct AddressResult {
    /// The chain as given.
    pub chain: String,
    /// The address as given.
    pub address: String,
    /// The list versions screened against.
    pub lists: Vec<ListInfo>,
    /// The hits.
    pub hits: Vec<AddressHit>,
}

impl Serialize for AddressResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        // The shape the command line has always printed: a JSON map, which sorts its keys.
        let v = serde_json::json!({
            "chain": self.chain,
            "address": self.address,
            "lists": self.lists,
            "hits": self.hits,
        });
        v.serialize(s)
    }
}

impl AddressResult {
    /// Whether a hit counts (one that is not suppressed for the subject).
    pub fn is_hit(&self) -> bool {
        self.hits.iter().any(|h| !h.suppressed)
    }

    /// The hits as onboarding alerts about the request's subject, or the address as given
    /// when it has none.
    pub fn alerts<'a>(&'a self, req: &AddressRequest) -> ScreeningAlerts<'a, AddressHit> {
        let subject = req.subject.clone().unwrap_or_else(|| req.address.clone());
        ScreeningAlerts {
            source: AlertSource::ScreenOnboarding,
            hits: self.hits.iter().map(|h| (subject.clone(), h)).collect(),
        }
    }
}

/// Screens one address: a supported chain by canonical form, another asset by its text.
///
/// # Errors
/// [`AppError::Chain`] for a chain that is not a name or ticker, [`AppError::Invalid`]
/// (field `subject`) for a subject on an asset floodgate does not parse, an invalid address.
pub fn screen_address(
    s: &mut impl Screening,
    chain: &str,
    address: &str,
    subject: Option<&str>,
) -> Result<Vec<AddressHit>> {
    match chain.parse::<Chain>() {
        Ok(c) => match subject {
            Some(id) => Ok(s
                .screen_subject(id, Subject::Address { chain: c, address: address.to_owned() })?
                .1),
            None => Ok(s.matcher().screen_address(c, address)?),
        },
        Err(ChainError::Unsupported(asset)) => {
            if subject.is_some() {
                return Err(AppError::Invalid {
                    field: "subject".into(),
                    message: "only bitcoin, ethereum and tron addresses can be registered as \
                              subjects"
                        .into(),
                });
            }
            Ok(s.matcher().screen_raw_address(&asset, address))
        }
        Err(e) => Err(AppError::Chain(e)),
    }
}

/// Screens one address (see [`screen_address`]).
///
/// # Errors
/// As [`screen_address`]; the screening database failed.
pub fn address(s: &mut impl Screening, req: &AddressRequest) -> Result<AddressResult> {
    let hits = screen_address(s, &req.chain, &req.address, req.subject.as_deref())?;
    Ok(AddressResult {
        chain: req.chain.clone(),
        address: req.address.clone(),
        lists: s.lists()?,
        hits,
    })
}

// ---------------------------------------------------------------------------------------
// A CSV file

/// A CSV file of names and addresses to screen (columns: `docs/screening.md`, "Batch").
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchRequest {
    /// The CSV file.
    pub file: PathBuf,
    /// How names are scored.
    pub score: ScoreOptions,
}

/// One hit of a batch: the input row and the hit. `floodgate screen batch --format json` and
/// `POST /v1/screen/batch` (whose `line` is the item's position from 1) print arrays of these.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchHit {
    /// The input line.
    pub line: u64,
    /// The row's `id` (empty when none).
    pub id: String,
    /// The name, or `chain:address`.
    pub input: String,
    /// The list of the hit.
    pub list: String,
    /// The version of `list` screened against.
    pub list_version: String,
    /// The entity's id in the list.
    pub entity_id: String,
    /// The entity's name.
    pub entity: String,
    /// Score (1 for an address).
    pub score: f64,
    /// Suppressed for the row's subject.
    pub suppressed: bool,
    /// One-line explanation.
    pub explanation: String,
    /// "sanctioned", "special measure", … (see [`category_label`]).
    pub category: String,
    /// Every feature with its weight, value and evidence (names only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<Object>>))]
    pub features: Vec<Feature>,
}

/// The hits of a batch (`floodgate screen batch --format json`: the array of hits).
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// The rows read.
    pub rows: u64,
    /// The list versions screened against.
    pub lists: Vec<ListInfo>,
    /// The hits, in row order.
    pub hits: Vec<BatchHit>,
}

impl Serialize for BatchResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.hits.serialize(s)
    }
}

impl BatchResult {
    /// Whether a hit counts (one that is not suppressed for its subject).
    pub fn is_hit(&self) -> bool {
        self.hits.iter().any(|h| !h.suppressed)
    }

    /// The hits as batch alerts, each about its row's `id`, or its input when the row has
    /// none.
    pub fn alerts(&self) -> ScreeningAlerts<'_, BatchHit> {
        ScreeningAlerts {
            source: AlertSource::ScreenBatch,
            hits: self
                .hits
                .iter()
                .map(|h| (if h.id.is_empty() { h.input.clone() } else { h.id.clone() }, h))
                .collect(),
        }
    }
}

/// A batch row's name: none, one screened with the others, or a subject's.
enum Named {
    None,
    Free,
    Subject(NameQuery),
}

/// Column positions of a batch file.
struct BatchColumns {
    name: Option<usize>,
    kind: Option<usize>,
    dob: Option<usize>,
    country: Option<usize>,
    id_number: Option<usize>,
    chain: Option<usize>,
    address: Option<usize>,
    id: Option<usize>,
}

fn invalid_file(path: &Path, message: String) -> AppError {
    AppError::Invalid { field: path.display().to_string(), message }
}

impl BatchColumns {
    fn from_header(path: &Path, header: &csv::StringRecord) -> Result<BatchColumns> {
        let find = |n: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n));
        let c = BatchColumns {
            name: find("name"),
            kind: find("type"),
            dob: find("dob"),
            country: find("country"),
            id_number: find("id_number"),
            chain: find("chain"),
            address: find("address"),
            id: find("id"),
        };
        if c.name.is_none() && c.address.is_none() {
            return Err(invalid_file(
                path,
                format!(
                    "{}: the header row has neither a `name` nor an `address` column (found: {})",
                    path.display(),
                    header.iter().collect::<Vec<_>>().join(",")
                ),
            ));
        }
        if c.address.is_some() && c.chain.is_none() {
            return Err(invalid_file(
                path,
                format!("{}: an `address` column needs a `chain` column", path.display()),
            ));
        }
        Ok(c)
    }
}

fn cell(rec: &csv::StringRecord, i: Option<usize>) -> &str {
    i.and_then(|i| rec.get(i)).map_or("", str::trim)
}

fn split_list(s: &str) -> Vec<String> {
    s.split(';').map(str::trim).filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn csv_error(path: &Path, what: String) -> impl FnOnce(csv::Error) -> AppError + '_ {
    let _ = path;
    move |e| AppError::Parse { context: what, source: Box::new(e) }
}

/// Opens a CSV input file, held to the line limit (`lists.max_line_bytes`). CRLF line ends
/// (what spreadsheets write) are read as LF: the csv reader counts a record's line by the
/// `\n`s before it, and with CRLF the `\n` of the previous line is still unread when a record
/// starts, so every line number came out one too low and hits named the previous customer.
fn open_csv(
    path: &Path,
    limits: Limits,
) -> Result<csv::Reader<CrlfToLf<LimitedReader<std::fs::File>>>> {
    let f = std::fs::File::open(path).map_err(AppError::io("opening", path))?;
    Ok(csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(CrlfToLf::new(LimitedReader::new(f, limits))))
}

/// A reader that drops the `\r` of every `\r\n`, streaming (a lone `\r` is kept).
struct CrlfToLf<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    /// A `\r` read but not yet written: dropped if a `\n` follows.
    cr: bool,
}

impl<R: Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf { inner, buf: vec![0; 64 * 1024].into_boxed_slice(), pos: 0, len: 0, cr: false }
    }
}

impl<R: Read> Read for CrlfToLf<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        while n == 0 && !out.is_empty() {
            if self.pos == self.len {
                self.len = self.inner.read(&mut self.buf)?;
                self.pos = 0;
                if self.len == 0 {
                    if std::mem::take(&mut self.cr) {
                        out[0] = b'\r';
                        return Ok(1);
                    }
                    return Ok(0);
                }
            }
            while self.pos < self.len && n < out.len() {
                let b = self.buf[self.pos];
                if std::mem::take(&mut self.cr) && b != b'\n' {
                    out[n] = b'\r';
                    n += 1;
                    continue;
                }
                self.pos += 1;
                if b == b'\r' {
                    self.cr = true;
                } else {
                    out[n] = b;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

/// Holds every cell of an input row to `lists.max_field_bytes`.
fn check_cells(path: &Path, line: u64, rec: &csv::StringRecord, limits: Limits) -> Result<()> {
    let max = limits.max_field_bytes;
    if let Some((i, f)) = rec.iter().enumerate().find(|(_, f)| f.len() as u64 > max) {
        return Err(invalid_file(
            path,
            format!(
                "{} line {line}: field {} has {} bytes, more than {max} (limit \
                 lists.max_field_bytes)",
                path.display(),
                i + 1,
                f.len()
            ),
        ));
    }
    Ok(())
}

/// Screens every row of a CSV file: names (with type, date of birth, countries and
/// documents) and addresses; a row with an `id` is registered as a subject. Every row is read
/// and checked before any is screened, so a bad row stops the batch with nothing screened.
///
/// The file's rows are counted and its header checked before `open` is called for the lists
/// to screen against.
///
/// # Errors
/// [`AppError::Invalid`] naming the file, line and column; `open`'s error; the screening
/// database failed.
pub fn batch<S: Screening>(
    req: &BatchRequest,
    limits: Limits,
    open: impl FnOnce() -> Result<S>,
    progress: &dyn Progress,
) -> Result<BatchResult> {
    req.score.config()?;
    let path = &req.file;
    let total = {
        let mut r = open_csv(path, limits)?;
        let mut n = 0u64;
        for rec in r.records() {
            rec.map_err(csv_error(path, format!("reading {}", path.display())))?;
            n += 1;
        }
        n
    };
    let mut reader = open_csv(path, limits)?;
    let header =
        reader.headers().map_err(csv_error(path, format!("{}: header row", path.display())))?;
    let cols = BatchColumns::from_header(path, header)?;
    let mut screener = open()?;
    let s = &mut screener;
    let lists = s.lists()?;
    progress.start(total);
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(csv_error(path, format!("reading {}", path.display())))?;
        let line = rec.position().map_or(0, |p| p.line());
        check_cells(path, line, &rec, limits)?;
        rows.push(rec);
    }
    let mut items = Vec::with_capacity(rows.len());
    for rec in &rows {
        let line = rec.position().map_or(0, |p| p.line());
        let at = || format!("{} line {line}", path.display());
        let name = cell(rec, cols.name);
        let query = if name.is_empty() {
            None
        } else {
            let dob = cell(rec, cols.dob);
            let kind = cell(rec, cols.kind);
            Some(NameQuery {
                name: name.to_owned(),
                entity_type: match EntityType::parse(kind) {
                    EntityType::Unknown if !kind.is_empty() => {
                        return Err(invalid_file(
                            path,
                            format!("{}: type '{kind}' is not person or organization", at()),
                        ))
                    }
                    EntityType::Unknown => None,
                    t => Some(t),
                },
                dob: if dob.is_empty() {
                    None
                } else {
                    Some(
                        parse_dob("dob", dob)
                            .map_err(|e| AppError::context(format!("{}, column dob", at()), e))?,
                    )
                },
                countries: split_list(cell(rec, cols.country)),
                identifiers: split_list(cell(rec, cols.id_number)),
            })
        };
        items.push(BatchItem {
            line,
            id: cell(rec, cols.id).to_owned(),
            name: query,
            chain: cell(rec, cols.chain).to_owned(),
            address: cell(rec, cols.address).to_owned(),
        });
    }
    let hits = screen_items(s, &path.display().to_string(), &lists, items, progress)?;
    progress.finish();
    Ok(BatchResult { rows: total, lists, hits })
}

/// One row of a batch: a name and/or an address, under a subject id or none.
#[derive(Debug, Clone, Default)]
pub struct BatchItem {
    /// Where it came from: the file's line, or the request item's position from 1.
    pub line: u64,
    /// The subject id: when not empty the row is registered and re-screened on list loads.
    pub id: String,
    /// The name to screen, checked.
    pub name: Option<NameQuery>,
    /// The address's chain or asset ticker (with `address`).
    pub chain: String,
    /// The address to screen (empty: none).
    pub address: String,
}

/// Screens batch items (what [`batch`] reads from a CSV file; the HTTP API's
/// `POST /v1/screen/batch` items): the hits, in item order, each with the item's line.
///
/// # Errors
/// An item's subject or address refused, naming `source` and the item's line; the screening
/// database failed.
pub fn batch_items<S: Screening>(
    s: &mut S,
    source: &str,
    items: Vec<BatchItem>,
    progress: &dyn Progress,
) -> Result<BatchResult> {
    let lists = s.lists()?;
    let rows = items.len() as u64;
    progress.start(rows);
    let hits = screen_items(s, source, &lists, items, progress)?;
    progress.finish();
    Ok(BatchResult { rows, lists, hits })
}

/// The hits of batch items: names of items without a subject on every core (results keep
/// the item order), items with a subject in order (they write to the database), then each
/// item's address.
fn screen_items<S: Screening>(
    s: &mut S,
    source: &str,
    lists: &[ListInfo],
    items: Vec<BatchItem>,
    progress: &dyn Progress,
) -> Result<Vec<BatchHit>> {
    let version_of = |list: &str| {
        lists.iter().find(|l| l.list == list).map(|l| l.version.clone()).unwrap_or_default()
    };
    let mut queries = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for it in &items {
        match &it.name {
            None => parsed.push(Named::None),
            Some(q) if it.id.is_empty() => {
                queries.push(q.clone());
                parsed.push(Named::Free);
            }
            Some(q) => parsed.push(Named::Subject(q.clone())),
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut screened = s.matcher().screen_many(queries, threads).into_iter();
    let mut out = Vec::new();
    for (it, named) in items.iter().zip(parsed) {
        let line = it.line;
        let at = || format!("{source} line {line}");
        let subject = (!it.id.is_empty()).then_some(it.id.as_str());
        if let Some(q) = &it.name {
            let hits = match (subject, named) {
                (Some(sid), Named::Subject(q)) => {
                    s.screen_subject(sid, Subject::Name(q))
                        .map_err(|e| AppError::context(at(), e))?
                        .0
                }
                _ => screened.next().unwrap_or_default(),
            };
            for h in hits {
                out.push(BatchHit {
                    line,
                    id: it.id.clone(),
                    input: q.name.clone(),
                    explanation: short_explanation(&h.features),
                    category: category_label(h.category),
                    features: h.features,
                    list_version: version_of(&h.list),
                    list: h.list,
                    entity_id: h.entity_id,
                    entity: h.entity_name,
                    score: h.score,
                    suppressed: h.suppressed,
                });
            }
        }
        if !it.address.is_empty() {
            let (chain, address) = (&it.chain, &it.address);
            let hits = screen_address(s, chain, address, subject)
                .map_err(|e| AppError::context(at(), e))?;
            for h in hits {
                out.push(BatchHit {
                    line,
                    id: it.id.clone(),
                    input: format!("{chain}:{address}"),
                    category: category_label(h.category),
                    explanation: format!(
                        "address listed as {} {}",
                        h.listed.asset, h.listed.address
                    ),
                    features: Vec::new(),
                    list_version: version_of(&h.list),
                    list: h.list,
                    entity_id: h.entity_id,
                    entity: h.entity_name,
                    score: 1.0,
                    suppressed: h.suppressed,
                });
            }
        }
        progress.inc(1);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Name pairs

/// A CSV file of name pairs (`name1`, `name2`, optionally `type`) to score against each
/// other, for threshold tuning. No lists are needed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PairsRequest {
    /// The CSV file.
    pub file: PathBuf,
    /// How names are scored.
    pub score: ScoreOptions,
}

/// One scored pair.
#[derive(Debug, Clone, Serialize)]
pub struct PairRow {
    /// The input line.
    pub line: u64,
    /// The first name.
    pub name1: String,
    /// The second name.
    pub name2: String,
    /// `person`, `organization` or empty.
    #[serde(rename = "type")]
    pub kind: String,
    /// Score.
    pub score: f64,
    /// At or above the threshold.
    pub hit: bool,
    /// Why.
    pub explanation: String,
}

/// The scored pairs (`floodgate screen pairs --format json`: the array of pairs).
#[derive(Debug, Clone)]
pub struct PairsResult {
    /// The threshold.
    pub threshold: f64,
    /// One row per pair, in file order.
    pub pairs: Vec<PairRow>,
}

impl Serialize for PairsResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.pairs.serialize(s)
    }
}

/// Scores each pair of names of a CSV file as two bare names.
///
/// # Errors
/// [`AppError::Invalid`] naming the file and line.
pub fn pairs(req: &PairsRequest, limits: Limits) -> Result<PairsResult> {
    let cfg = req.score.config()?;
    let unihan = req.score.load_unihan()?;
    let path = &req.file;
    let mut reader = open_csv(path, limits)?;
    let header =
        reader.headers().map_err(csv_error(path, format!("{}: header row", path.display())))?;
    let find = |n: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n));
    let (Some(c1), Some(c2)) = (find("name1"), find("name2")) else {
        return Err(invalid_file(
            path,
            format!(
                "{}: the header row needs columns name1 and name2 (and optionally type)",
                path.display()
            ),
        ));
    };
    let ct = find("type");
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(csv_error(path, format!("reading {}", path.display())))?;
        let line = rec.position().map_or(0, |p| p.line());
        check_cells(path, line, &rec, limits)?;
        let (a, b) = (cell(&rec, Some(c1)), cell(&rec, Some(c2)));
        if a.is_empty() || b.is_empty() {
            return Err(invalid_file(
                path,
                format!("{} line {line}: name1 and name2 must both be given", path.display()),
            ));
        }
        let kind_text = cell(&rec, ct);
        let kind = match EntityType::parse(kind_text) {
            EntityType::Unknown if !kind_text.is_empty() => {
                return Err(invalid_file(
                    path,
                    format!(
                        "{} line {line}: type '{kind_text}' is not person or organization",
                        path.display()
                    ),
                ))
            }
            EntityType::Unknown => None,
            t => Some(t),
        };
        let (score, explanation) = score_pair(&cfg, a, b, kind, unihan.as_deref());
        rows.push(PairRow {
            line,
            name1: a.to_owned(),
            name2: b.to_owned(),
            kind: kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
            score,
            hit: score >= cfg.threshold,
            explanation,
        });
    }
    Ok(PairsResult { threshold: cfg.threshold, pairs: rows })
}

// ---------------------------------------------------------------------------------------
// Suppressions

/// A subject's hit: the subject id and the list entity it hit.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HitRef {
    /// The subject id the hit was screened under.
    pub subject: String,
    /// The list of the hit.
    pub list: String,
    /// The entity id of the hit in that list.
    pub entity_id: String,
}

/// An analyst's decision that a subject's hit is a false positive.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SuppressRequest {
    /// The hit.
    #[serde(flatten)]
    pub hit: HitRef,
    /// Why (required).
    pub reason: String,
    /// Who decides.
    pub by: String,
}

/// Suppresses a hit; the suppression is tied to the entry's content hash.
///
/// # Errors
/// No such entity loaded, an empty reason, the screening database failed.
pub fn suppress(s: &mut Screener, req: &SuppressRequest) -> Result<Suppression> {
    let h = &req.hit;
    s.suppress_by(&h.subject, &h.list, &h.entity_id, &req.reason, &req.by).map_err(|e| {
        AppError::context(
            format!("suppressing {} {} for subject {}", h.list, h.entity_id, h.subject),
            e.into(),
        )
    })
}

/// Undoes a suppression: the hit counts again.
///
/// # Errors
/// No such suppression; the screening database failed.
pub fn unsuppress(s: &mut Screener, req: &SuppressRequest) -> Result<()> {
    let h = &req.hit;
    s.unsuppress(&h.subject, &h.list, &h.entity_id, &req.reason, &req.by).map_err(|e| {
        AppError::context(
            format!(
                "undoing the suppression of {} {} for subject {}",
                h.list, h.entity_id, h.subject
            ),
            e.into(),
        )
    })
}

/// Every suppression: who, when, why, and whether it is still in force.
///
/// # Errors
/// The screening database failed.
pub fn suppressions(s: &Screener) -> Result<Vec<Suppression>> {
    Ok(s.suppressions()?)
}
