//! `floodgate screen`: screen names, companies and wallet addresses against the loaded lists,
//! and score name pairs for threshold tuning.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::ValueEnum;
use floodgate_app::screen::{
    self as svc, AddressRequest, BatchHit, BatchRequest, HitRef, NameRequest, PairRow,
    PairsRequest, ScoreOptions, SuppressRequest,
};
use floodgate_app::{alerts, DataDir};
use floodgate_screen::screener::{ListInfo, Suppression};
use floodgate_screen::{AddressHit, EntityType, Hit, Screener};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::EXIT_HIT;
use crate::cmd::cases::screen_feed;
use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// Screen names, companies and wallet addresses against the loaded lists.
///
/// Every hit carries its score (0–1) and why: the name similarity and how it was reached, and
/// what the date of birth, country, identity document, entity type and legal form added or
/// took away. Tables show a short explanation; `--format json` carries every feature with its
/// weight, value and evidence. Load lists first with `floodgate lists load`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes:
  0  no hit
  1  at least one hit (a hit an analyst suppressed for this --subject does not count)
  2  error (no lists loaded, bad input, bad flags); the message names the file and line

Examples:
  floodgate screen name \"Lazarus Group\" --type organization
  floodgate screen name \"Nguyễn Văn Đài\" --dob 1969-04-06 --country VN --format json
  floodgate screen address ethereum 0x08723392ed15743cc38513c4925f5e6be5c17243
  floodgate screen batch customers.csv --format csv > hits.csv
  floodgate screen pairs pairs.csv --mode ofac
  floodgate screen suppress c-1001 ofac-sdn 36216 --reason \"other person\" --by alice")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Screen one name (a person, a company, a vessel)
    Name(NameArgs),
    /// Screen one wallet address (exact, chain-aware match)
    Address(AddressArgs),
    /// Screen every row of a CSV file of names and/or addresses, with a progress bar
    Batch(BatchArgs),
    /// Score pairs of names from a CSV file against each other, for threshold tuning
    Pairs(PairsArgs),
    /// Record an analyst's decision that a subject's hit is a false positive
    Suppress(SuppressArgs),
    /// Undo a suppression: the hit counts again
    Unsuppress(UnsuppressArgs),
    /// List the suppressions: who, when, why, and whether each is still in force
    Suppressions(SuppressionsArgs),
}

/// A subject's hit: the subject id and the list entity it hit.
#[derive(Debug, clap::Args)]
struct HitArgs {
    /// The subject id (the `--subject` or batch `id` the hit was screened under)
    #[arg(value_name = "SUBJECT")]
    subject: String,
    /// The list of the hit (e.g. ofac-sdn)
    #[arg(value_name = "LIST")]
    list: String,
    /// The entity id of the hit in that list (the `entity_id` column)
    #[arg(value_name = "ENTITY_ID")]
    entity_id: String,
}

/// Suppress a hit.
///
/// The suppression is tied to the entry's content hash: it holds across list reloads while the
/// entry is unchanged, and the hit comes back for review when the entry changes. A suppressed
/// hit is still shown (suppressed: yes) but does not count for the exit code.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:
  floodgate screen suppress c-1001 ofac-sdn 36216 --reason \"different person: DOB 1988\" --by alice
Exit codes: 0 recorded, 2 error (no such entity loaded, empty reason).")]
struct SuppressArgs {
    #[command(flatten)]
    hit: HitArgs,
    /// Why the hit is a false positive (required)
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who decides [default: the OS user ($USER)]
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Undo a suppression.
#[derive(Debug, clap::Args)]
#[command(after_help = "Exit codes: 0 undone, 2 error (no such suppression).")]
struct UnsuppressArgs {
    #[command(flatten)]
    hit: HitArgs,
    /// Why it is undone
    #[arg(long, value_name = "TEXT", default_value = "")]
    reason: String,
    /// Who undoes it [default: the OS user ($USER)]
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
}

/// List suppressions.
#[derive(Debug, clap::Args)]
struct SuppressionsArgs {
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// A suppression as a table row.
#[derive(Debug, Serialize)]
struct SuppressionRow(Suppression);

impl Tabular for SuppressionRow {
    fn headers() -> Vec<&'static str> {
        vec!["subject", "list", "entity_id", "in_force", "reason", "by", "at", "entity_hash"]
    }
    fn cells(&self) -> Vec<String> {
        let s = &self.0;
        vec![
            s.subject.clone(),
            s.list.clone(),
            s.entity_id.clone(),
            if s.in_force { "yes" } else { "no (entry changed)" }.to_owned(),
            s.reason.clone(),
            s.created_by.clone(),
            s.created_at.clone(),
            s.entity_hash.clone(),
        ]
    }
}

fn hit_ref(h: HitArgs) -> HitRef {
    HitRef { subject: h.subject, list: h.list, entity_id: h.entity_id }
}

fn suppress(args: SuppressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = open_lists(ctx, &ScoreOptions::default())?;
    let req = SuppressRequest {
        hit: hit_ref(args.hit),
        reason: args.reason,
        by: args.by.unwrap_or_else(super::lists::os_user),
    };
    let s = svc::suppress(&mut screener, &req)?;
    output::write_rows(args.format, &[SuppressionRow(s)])?;
    Ok(ExitCode::SUCCESS)
}

fn unsuppress(args: UnsuppressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = open_lists(ctx, &ScoreOptions::default())?;
    let req = SuppressRequest {
        hit: hit_ref(args.hit),
        reason: args.reason,
        by: args.by.unwrap_or_else(super::lists::os_user),
    };
    svc::unsuppress(&mut screener, &req)?;
    let h = &req.hit;
    output::write_text(&format!(
        "suppression of {} {} for subject {} undone by {}\n",
        h.list, h.entity_id, h.subject, req.by
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn suppressions(args: SuppressionsArgs, ctx: &Context) -> Result<ExitCode> {
    let screener = open_lists(ctx, &ScoreOptions::default())?;
    let rows: Vec<SuppressionRow> =
        svc::suppressions(&screener)?.into_iter().map(SuppressionRow).collect();
    if rows.is_empty() && args.format == Format::Table {
        output::write_text("no suppressions\n")?;
    } else {
        output::write_rows(args.format, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Default, clap::Args)]
pub(crate) struct UnihanArgs {
    /// Unihan reading table (`Unihan_Readings.txt` or `.bz2`, from the Unicode Character
    /// Database) to use instead of the built-in extract (Unicode 15.0.0: kMandarin,
    /// kVietnamese, kHangul, kJapaneseOn/Kun), which already gives Sino-Vietnamese matching
    /// ("Vương Kỳ Sơn" ~ 王岐山 ~ "Wang Qishan") and Japanese/Korean readings of Han characters.
    #[arg(long, env = "FLOODGATE_UNIHAN", value_name = "FILE")]
    pub(crate) unihan: Option<PathBuf>,
}

/// Scoring flags shared by the `screen` subcommands.
#[derive(Debug, clap::Args)]
struct ScoreArgs {
    /// Score at or above which a candidate is a hit [default: 0.80, or 0.85 with --mode ofac]
    #[arg(long, value_name = "X")]
    threshold: Option<f64>,
    /// Name comparison: floodgate's multilingual scorer with date of birth, country, document,
    /// type and legal-form features, or an emulation of OFAC's Sanctions List Search
    /// (Jaro-Winkler and Soundex per name part, name only)
    #[arg(long, value_enum, default_value_t = Mode::Default)]
    mode: Mode,
    #[command(flatten)]
    unihan: UnihanArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// floodgate's scorer
    Default,
    /// OFAC Sanctions List Search emulation
    Ofac,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum QueryType {
    /// A natural person
    Person,
    /// A company or other organization
    Organization,
    /// A ship
    Vessel,
    /// An aircraft
    Aircraft,
}

impl From<QueryType> for EntityType {
    fn from(t: QueryType) -> Self {
        match t {
            QueryType::Person => EntityType::Person,
            QueryType::Organization => EntityType::Organization,
            QueryType::Vessel => EntityType::Vessel,
            QueryType::Aircraft => EntityType::Aircraft,
        }
    }
}

/// Screen one name.
#[derive(Debug, clap::Args)]
struct NameArgs {
    /// Case store for the alerts of unsuppressed hits (docs/cases.md)
    #[command(flatten)]
    cases: crate::cmd::cases::StoreArgs,
    /// The name, in any script ("Wang Qishan", "王岐山", "Công ty TNHH Huione")
    #[arg(value_name = "NAME")]
    name: String,
    /// Person or organization; a person never scores high against a company of the same name
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    entity_type: Option<QueryType>,
    /// Date of birth (or incorporation): YYYY, YYYY-MM or YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    dob: Option<String>,
    /// Nationality or country, ISO 3166 two-letter code or name (repeatable)
    #[arg(long, value_name = "CC")]
    country: Vec<String>,
    /// Identity document number: passport, national id, tax id (repeatable)
    #[arg(long, value_name = "NUMBER")]
    id_number: Vec<String>,
    /// Register the query under this subject id: it is stored, re-screened whenever a list is
    /// (re)loaded, and analysts' suppressions for it apply
    #[arg(long, value_name = "ID")]
    subject: Option<String>,
    /// Also screen the parties each hit is linked to (owners, subsidiaries, associates, as the
    /// list publishes them) and show what they hit
    #[arg(long)]
    related: bool,
    #[command(flatten)]
    score: ScoreArgs,
}

/// Screen one address.
#[derive(Debug, clap::Args)]
struct AddressArgs {
    /// Case store for the alerts of unsuppressed hits (docs/cases.md)
    #[command(flatten)]
    cases: crate::cmd::cases::StoreArgs,
    /// bitcoin, ethereum or tron (or btc/xbt, eth, trx); other assets' tickers (ltc, xmr, bch,
    /// …) are matched as exact, case-insensitive text
    #[arg(value_name = "CHAIN")]
    chain: String,
    /// The address, in any accepted form (an Ethereum address in lowercase or EIP-55, a Tron
    /// address in base58 or hex)
    #[arg(value_name = "ADDRESS")]
    address: String,
    /// Register the address under this subject id (see `screen name --subject`)
    #[arg(long, value_name = "ID")]
    subject: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Screen a CSV file.
///
/// The file has a header row; column names are case-insensitive and their order is free:
///
///   name       the name to screen (optional when the row has an address)
///   type       person or organization (optional)
///   dob        date of birth: YYYY, YYYY-MM or YYYY-MM-DD (optional)
///   country    countries, ISO2 or names, separated by `;` (optional)
///   id_number  identity document numbers separated by `;` (optional)
///   chain      the address's chain or asset ticker (required with address)
///   address    a wallet address (optional when the row has a name)
///   id         your id of the customer or address; when present the row is registered as a
///              subject and re-screened on every list load (optional)
///
/// Hits are written to standard output, one row per hit with the input line number.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example input:
  id,name,type,dob,country
  c-1001,Nguyen Van Dai,person,1969,VN
  c-1002,Huione Pay PLC,organization,,KH
or
  id,chain,address
  w-1,ethereum,0x08723392ed15743cc38513c4925f5e6be5c17243")]
struct BatchArgs {
    /// Case store for the alerts of unsuppressed hits (docs/cases.md)
    #[command(flatten)]
    cases: crate::cmd::cases::StoreArgs,
    /// The CSV file
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    score: ScoreArgs,
}

/// Score name pairs.
///
/// The CSV file has a header row with columns `name1`, `name2` and optionally `type` (person
/// or organization). Each pair is scored as two bare names (no lists needed) and printed with
/// its score, whether it reaches the threshold, and the explanation. Use it to see where a
/// threshold falls on your own known matches and non-matches.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example input:
  name1,name2,type
  王岐山,Wang Qishan,person
  Nguyen Van Thang,Nguyễn Văn Thành,person
  ZTE Corp.,ZTE Corporation,organization")]
struct PairsArgs {
    /// The CSV file
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    score: ScoreArgs,
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    match args.command {
        Sub::Name(a) => name(a, ctx),
        Sub::Address(a) => address(a, ctx),
        Sub::Batch(a) => batch(a, ctx, quiet),
        Sub::Pairs(a) => pairs(a, ctx),
        Sub::Suppress(a) => suppress(a, ctx),
        Sub::Unsuppress(a) => unsuppress(a, ctx),
        Sub::Suppressions(a) => suppressions(a, ctx),
    }
}

impl ScoreArgs {
    fn options(&self) -> ScoreOptions {
        ScoreOptions {
            threshold: self.threshold,
            mode: match self.mode {
                Mode::Default => svc::Mode::Default,
                Mode::Ofac => svc::Mode::Ofac,
            },
            unihan: self.unihan.unihan.clone(),
        }
    }
}

/// Opens the data directory's lists for screening; an error when no list is loaded.
fn open_lists(ctx: &Context, score: &ScoreOptions) -> Result<Screener> {
    Ok(svc::open(&DataDir::new(&ctx.data_dir), score)?)
}

fn exit(hit: bool) -> ExitCode {
    if hit {
        ExitCode::from(EXIT_HIT)
    } else {
        ExitCode::SUCCESS
    }
}

/// A name hit as a table row.
#[derive(Debug, Serialize)]
struct NameHitRow<'a>(&'a Hit);

impl Tabular for NameHitRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec![
            "score",
            "list",
            "category",
            "entity_id",
            "entity",
            "type",
            "matched_name",
            "programs",
            "suppressed",
            "explanation",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let h = self.0;
        vec![
            format!("{:.3}", h.score),
            h.list.clone(),
            svc::category_label(h.category),
            h.entity_id.clone(),
            h.entity_name.clone(),
            h.entity_type.as_str().to_owned(),
            h.matched_name.clone(),
            h.programs.join(";"),
            if h.suppressed { "yes" } else { "" }.to_owned(),
            svc::short_explanation(&h.features),
        ]
    }
}

/// An address hit as a table row.
#[derive(Debug, Serialize)]
struct AddressHitRow<'a>(&'a AddressHit);

impl Tabular for AddressHitRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec!["list", "entity_id", "entity", "asset", "listed_address", "programs", "suppressed"]
    }
    fn cells(&self) -> Vec<String> {
        let h = self.0;
        vec![
            h.list.clone(),
            h.entity_id.clone(),
            h.entity_name.clone(),
            h.listed.asset.clone(),
            h.listed.address.clone(),
            h.programs.join(";"),
            if h.suppressed { "yes" } else { "" }.to_owned(),
        ]
    }
}

/// Each hit's relationships, its 50 % rule flag and, with `--related`, what the linked parties
/// hit; empty when there is none.
fn relations_text(hits: &[Hit], related: &[floodgate_screen::relations::RelatedHits]) -> String {
    let mut out = String::new();
    for h in hits {
        if let Some(r) = &h.fifty_percent_rule {
            out.push_str(&format!("{} {}: {r}\n", h.list, h.entity_id));
        }
        if h.relations.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "relationships of {} {} ({}):\n",
            h.list, h.entity_id, h.entity_name
        ));
        for r in &h.relations {
            out.push_str(&format!("  {}\n", r.describe()));
            for rh in related
                .iter()
                .filter(|x| x.via == h.entity_id && x.list == h.list && x.relation == *r)
            {
                if rh.hits.is_empty() {
                    out.push_str("    screened: no hit\n");
                }
                for x in &rh.hits {
                    out.push_str(&format!(
                        "    screened: {} {} {} score {:.3}{}\n",
                        x.list,
                        x.entity_id,
                        x.entity_name,
                        x.score,
                        x.fifty_percent_rule
                            .as_deref()
                            .map(|f| format!(" — {f}"))
                            .unwrap_or_default()
                    ));
                }
            }
        }
    }
    out
}

/// The list versions a screening used, as one line below a table.
fn lists_line(lists: &[ListInfo]) -> String {
    let each: Vec<String> = lists
        .iter()
        .map(|l| match l.load_id {
            Some(id) => format!("{} {} (load {id}, {} entries)", l.list, l.version, l.entities),
            None => format!("{} {} ({} entries)", l.list, l.version, l.entities),
        })
        .collect();
    format!("lists screened: {}\n", each.join(", "))
}

fn name(args: NameArgs, ctx: &Context) -> Result<ExitCode> {
    let req = NameRequest {
        name: args.name.clone(),
        entity_type: args.entity_type.map(EntityType::from),
        dob: args.dob.clone(),
        countries: args.country.clone(),
        identifiers: args.id_number.clone(),
        subject: args.subject.clone(),
        related: args.related,
        score: args.score.options(),
    };
    // A bad flag is named before the lists are opened.
    req.check()?;
    let mut screener = open_lists(ctx, &req.score)?;
    let result = svc::name(&mut screener, &req)?;
    alerts::record(&result.alerts(&req), || screen_feed(&args.cases, ctx))?;
    let format = args.score.format;
    match format {
        Format::Json => output::write_json(&result)?,
        Format::Table if result.hits.is_empty() => output::write_text(&format!(
            "no hit for '{}' at threshold {:.2}\n",
            args.name, result.threshold
        ))?,
        f => {
            let rows: Vec<NameHitRow<'_>> = result.hits.iter().map(NameHitRow).collect();
            output::write_rows(f, &rows)?;
        }
    }
    if format == Format::Table {
        output::write_text(&relations_text(&result.hits, &result.related))?;
        output::write_text(&lists_line(&result.lists))?;
    }
    if format == Format::Table && result.needs_readings() {
        for n in &result.notes {
            output::write_text(&format!("note: {n}\n"))?;
        }
    }
    Ok(exit(result.is_hit()))
}

fn address(args: AddressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = open_lists(ctx, &ScoreOptions::default())?;
    let req = AddressRequest {
        chain: args.chain.clone(),
        address: args.address.clone(),
        subject: args.subject.clone(),
    };
    let result = svc::address(&mut screener, &req)?;
    alerts::record(&result.alerts(&req), || screen_feed(&args.cases, ctx))?;
    match args.format {
        Format::Json => output::write_json(&result)?,
        Format::Table if result.hits.is_empty() => {
            output::write_text(&format!("no hit for {} address {}\n", args.chain, args.address))?
        }
        f => {
            let rows: Vec<AddressHitRow<'_>> = result.hits.iter().map(AddressHitRow).collect();
            output::write_rows(f, &rows)?;
        }
    }
    if args.format == Format::Table {
        output::write_text(&lists_line(&result.lists))?;
    }
    Ok(exit(result.is_hit()))
}

/// A batch hit as a table row.
#[derive(Debug, Serialize)]
struct BatchRow<'a>(&'a BatchHit);

impl Tabular for BatchRow<'_> {
    fn headers() -> Vec<&'static str> {
        vec![
            "line",
            "id",
            "input",
            "score",
            "list",
            "entity_id",
            "entity",
            "suppressed",
            "explanation",
            "category",
            "list_version",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let h = self.0;
        vec![
            h.line.to_string(),
            h.id.clone(),
            h.input.clone(),
            format!("{:.3}", h.score),
            h.list.clone(),
            h.entity_id.clone(),
            h.entity.clone(),
            if h.suppressed { "yes" } else { "" }.to_owned(),
            h.explanation.clone(),
            h.category.clone(),
            h.list_version.clone(),
        ]
    }
}

/// The batch progress bar (rows).
struct RowsBar(ProgressBar);

impl floodgate_app::Progress for RowsBar {
    fn start(&self, total: u64) {
        self.0.set_length(total);
    }
    fn inc(&self, n: u64) {
        self.0.inc(n);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

fn batch(args: BatchArgs, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let req = BatchRequest { file: args.file.clone(), score: args.score.options() };
    req.score.config()?;
    let progress = RowsBar(if quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, {eta}) {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        pb
    });
    let dir = DataDir::new(&ctx.data_dir);
    let open = || svc::open(&dir, &req.score);
    let mut result = svc::batch(&req, ctx.lists.limits(), open, &progress)?;
    let json = matches!(args.score.format, Format::Json | Format::Jsonl);
    if !json {
        // Alerts carry the features only when they are printed (as before the service).
        for h in &mut result.hits {
            h.features.clear();
        }
    }
    alerts::record(&result.alerts(), || screen_feed(&args.cases, ctx))?;
    if args.score.format == Format::Table && result.hits.is_empty() {
        output::write_text(&format!(
            "no hit in {} rows of {}\n",
            result.rows,
            args.file.display()
        ))?;
    } else {
        let rows: Vec<BatchRow<'_>> = result.hits.iter().map(BatchRow).collect();
        output::write_rows(args.score.format, &rows)?;
    }
    if args.score.format == Format::Table {
        output::write_text(&lists_line(&result.lists))?;
    }
    Ok(exit(result.is_hit()))
}

impl Tabular for PairRow {
    fn headers() -> Vec<&'static str> {
        vec!["line", "score", "hit", "name1", "name2", "type", "explanation"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.line.to_string(),
            format!("{:.3}", self.score),
            if self.hit { "yes" } else { "no" }.to_owned(),
            self.name1.clone(),
            self.name2.clone(),
            self.kind.clone(),
            self.explanation.clone(),
        ]
    }
}

fn pairs(args: PairsArgs, ctx: &Context) -> Result<ExitCode> {
    let req = PairsRequest { file: args.file.clone(), score: args.score.options() };
    let result = svc::pairs(&req, ctx.lists.limits())?;
    output::write_rows(args.score.format, &result.pairs)?;
    if args.score.format == Format::Table {
        output::write_text(&format!(
            "{} of {} pairs at or above the threshold {:.2}\n",
            result.pairs.iter().filter(|r| r.hit).count(),
            result.pairs.len(),
            result.threshold
        ))?;
    }
    Ok(exit(result.pairs.iter().any(|r| r.hit)))
}
