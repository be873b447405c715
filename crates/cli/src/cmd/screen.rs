//! `floodgate screen`: screen names, companies and wallet addresses against the loaded lists,
//! and score name pairs for threshold tuning.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use clap::ValueEnum;
use floodgate_screen::loaders::limits::{LimitedReader, Limits};
use floodgate_screen::normalize::Script;
use floodgate_screen::score::{score_pair, Feature};
use floodgate_screen::screener::{ListInfo, Suppression};
use floodgate_screen::unihan::Unihan;
use floodgate_screen::{
    AddressHit, EntityType, Hit, NameQuery, PartialDate, ScoreConfig, Screener, Subject,
};
use floodgate_types::{Chain, ChainError};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use super::EXIT_HIT;
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

fn suppress(args: SuppressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = screener_with_lists(ctx, ScoreConfig::default(), &UnihanArgs::default())?;
    let by = args.by.unwrap_or_else(super::lists::os_user);
    let h = &args.hit;
    let s =
        screener.suppress_by(&h.subject, &h.list, &h.entity_id, &args.reason, &by).with_context(
            || format!("suppressing {} {} for subject {}", h.list, h.entity_id, h.subject),
        )?;
    output::write_rows(args.format, &[SuppressionRow(s)])?;
    Ok(ExitCode::SUCCESS)
}

fn unsuppress(args: UnsuppressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = screener_with_lists(ctx, ScoreConfig::default(), &UnihanArgs::default())?;
    let by = args.by.unwrap_or_else(super::lists::os_user);
    let h = &args.hit;
    screener.unsuppress(&h.subject, &h.list, &h.entity_id, &args.reason, &by).with_context(
        || {
            format!(
                "undoing the suppression of {} {} for subject {}",
                h.list, h.entity_id, h.subject
            )
        },
    )?;
    output::write_text(&format!(
        "suppression of {} {} for subject {} undone by {by}\n",
        h.list, h.entity_id, h.subject
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn suppressions(args: SuppressionsArgs, ctx: &Context) -> Result<ExitCode> {
    let screener = screener_with_lists(ctx, ScoreConfig::default(), &UnihanArgs::default())?;
    let rows: Vec<SuppressionRow> =
        screener.suppressions()?.into_iter().map(SuppressionRow).collect();
    if rows.is_empty() && args.format == Format::Table {
        output::write_text("no suppressions\n")?;
    } else {
        output::write_rows(args.format, &rows)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the Unihan reading table is.
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

fn load_unihan(args: &UnihanArgs) -> Result<Option<Arc<Unihan>>> {
    match &args.unihan {
        Some(p) => Ok(Some(Arc::new(
            Unihan::load(p).with_context(|| format!("loading the Unihan table {}", p.display()))?,
        ))),
        None => Ok(None),
    }
}

/// Opens the screening database in the data directory, with the Unihan table if given.
pub(crate) fn open_screener(
    ctx: &Context,
    cfg: ScoreConfig,
    unihan: &UnihanArgs,
) -> Result<Screener> {
    let unihan = load_unihan(unihan)?;
    Ok(Screener::open(&ctx.data_dir, cfg, unihan)?)
}

impl ScoreArgs {
    fn config(&self) -> Result<ScoreConfig> {
        let mut cfg = match self.mode {
            Mode::Default => ScoreConfig::default(),
            Mode::Ofac => ScoreConfig::ofac_emulation(),
        };
        if let Some(t) = self.threshold {
            if !(0.0..=1.0).contains(&t) {
                bail!("--threshold {t} is outside 0–1");
            }
            cfg.threshold = t;
        }
        Ok(cfg)
    }

    fn notes(&self) -> Vec<String> {
        vec![match &self.unihan.unihan {
            Some(p) => format!("Unihan reading table: {}", p.display()),
            None => "Unihan reading table: built-in extract (Unicode 15.0.0; --unihan FILE \
                     overrides)"
                .to_owned(),
        }]
    }
}

/// Opens the screener for screening; an error when no list is loaded.
fn screener_with_lists(ctx: &Context, cfg: ScoreConfig, unihan: &UnihanArgs) -> Result<Screener> {
    let hint = || {
        anyhow::anyhow!(
            "no lists loaded in {} (run `floodgate lists load PATH…` first, or pass --data-dir)",
            ctx.data_dir.display()
        )
    };
    if !ctx.data_dir.join(floodgate_screen::screener::DB_FILE).exists() {
        return Err(hint());
    }
    let s = open_screener(ctx, cfg, unihan)?;
    if s.lists()?.is_empty() {
        return Err(hint());
    }
    Ok(s)
}

/// A short, one-line explanation of a hit: each feature with what it added.
fn short_explanation(features: &[Feature]) -> String {
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
            category_label(h.category),
            h.entity_id.clone(),
            h.entity_name.clone(),
            h.entity_type.as_str().to_owned(),
            h.matched_name.clone(),
            h.programs.join(";"),
            if h.suppressed { "yes" } else { "" }.to_owned(),
            short_explanation(&h.features),
        ]
    }
}

/// What a hit's list says the entity is: "special measure" for the section 311 / 9714 list,
/// "sanctioned" for lists that store no category (OFAC, UN, CSL …).
fn category_label(c: Option<floodgate_types::RiskCategory>) -> String {
    match c {
        None => "sanctioned".to_owned(),
        Some(c) => c.as_str().replace('_', " "),
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

/// The JSON document of `screen name`.
#[derive(Debug, Serialize)]
struct NameReport<'a> {
    query: &'a NameQuery,
    threshold: f64,
    mode: &'static str,
    notes: Vec<String>,
    /// The list versions screened against.
    lists: &'a [ListInfo],
    hits: &'a [Hit],
    #[serde(skip_serializing_if = "no_related")]
    related: &'a [floodgate_screen::relations::RelatedHits],
}

fn no_related(r: &&[floodgate_screen::relations::RelatedHits]) -> bool {
    r.is_empty()
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

fn parse_dob(s: &str) -> Result<PartialDate> {
    PartialDate::parse(s).with_context(|| {
        format!("date of birth '{s}' is not a calendar date as YYYY, YYYY-MM or YYYY-MM-DD")
    })
}

fn name(args: NameArgs, ctx: &Context) -> Result<ExitCode> {
    if args.name.trim().is_empty() {
        bail!("the name to screen is empty");
    }
    let cfg = args.score.config()?;
    let query = NameQuery {
        name: args.name.clone(),
        entity_type: args.entity_type.map(EntityType::from),
        dob: args.dob.as_deref().map(parse_dob).transpose().context("--dob")?,
        countries: args.country.clone(),
        identifiers: args.id_number.clone(),
    };
    let mut screener = screener_with_lists(ctx, cfg.clone(), &args.score.unihan)?;
    let hits = match &args.subject {
        Some(id) => screener.screen_subject(id, Subject::Name(query.clone()))?.0,
        None => screener.matcher().screen(query.clone()),
    };
    let hit = hits.iter().any(|h| !h.suppressed);
    let lists = screener.lists()?;
    let related = if args.related {
        floodgate_screen::relations::screen_related(screener.matcher(), &hits)
    } else {
        Vec::new()
    };
    let subject = args.subject.clone().unwrap_or_else(|| args.name.clone());
    crate::cmd::cases::screening_alerts(
        &args.cases,
        ctx,
        floodgate_cases::model::AlertSource::ScreenOnboarding,
        &hits.iter().map(|h| (subject.clone(), h)).collect::<Vec<_>>(),
    )?;
    match args.score.format {
        Format::Json => output::write_json(&NameReport {
            query: &query,
            threshold: cfg.threshold,
            mode: match args.score.mode {
                Mode::Default => "default",
                Mode::Ofac => "ofac",
            },
            notes: args.score.notes(),
            lists: &lists,
            hits: &hits,
            related: &related,
        })?,
        Format::Table if hits.is_empty() => output::write_text(&format!(
            "no hit for '{}' at threshold {:.2}\n",
            args.name, cfg.threshold
        ))?,
        f => {
            let rows: Vec<NameHitRow<'_>> = hits.iter().map(NameHitRow).collect();
            output::write_rows(f, &rows)?;
        }
    }
    if args.score.format == Format::Table {
        output::write_text(&relations_text(&hits, &related))?;
        output::write_text(&lists_line(&lists))?;
    }
    let needs_readings = floodgate_screen::normalize::is_vietnamese(&args.name)
        || matches!(
            floodgate_screen::normalize::detect_script(&args.name),
            Script::Han | Script::Kana | Script::Hangul
        );
    if args.score.format == Format::Table && needs_readings {
        for n in args.score.notes() {
            output::write_text(&format!("note: {n}\n"))?;
        }
    }
    Ok(exit(hit))
}

/// Screens one address: a supported chain by canonical form, another asset by its text.
fn screen_address(
    screener: &mut Screener,
    chain: &str,
    address: &str,
    subject: Option<&str>,
) -> Result<Vec<AddressHit>> {
    match chain.parse::<Chain>() {
        Ok(c) => match subject {
            Some(id) => Ok(screener
                .screen_subject(id, Subject::Address { chain: c, address: address.to_owned() })?
                .1),
            None => Ok(screener.matcher().screen_address(c, address)?),
        },
        Err(ChainError::Unsupported(asset)) => {
            if subject.is_some() {
                bail!("only bitcoin, ethereum and tron addresses can be registered as subjects");
            }
            Ok(screener.matcher().screen_raw_address(&asset, address))
        }
        Err(e) => Err(e.into()),
    }
}

fn address(args: AddressArgs, ctx: &Context) -> Result<ExitCode> {
    let mut screener = screener_with_lists(ctx, ScoreConfig::default(), &UnihanArgs::default())?;
    let hits = screen_address(&mut screener, &args.chain, &args.address, args.subject.as_deref())?;
    let hit = hits.iter().any(|h| !h.suppressed);
    let lists = screener.lists()?;
    let subject = args.subject.clone().unwrap_or_else(|| args.address.clone());
    crate::cmd::cases::screening_alerts(
        &args.cases,
        ctx,
        floodgate_cases::model::AlertSource::ScreenOnboarding,
        &hits.iter().map(|h| (subject.clone(), h)).collect::<Vec<_>>(),
    )?;
    match args.format {
        Format::Json => output::write_json(&serde_json::json!({
            "chain": args.chain,
            "address": args.address,
            "lists": lists,
            "hits": hits,
        }))?,
        Format::Table if hits.is_empty() => {
            output::write_text(&format!("no hit for {} address {}\n", args.chain, args.address))?
        }
        f => {
            let rows: Vec<AddressHitRow<'_>> = hits.iter().map(AddressHitRow).collect();
            output::write_rows(f, &rows)?;
        }
    }
    if args.format == Format::Table {
        output::write_text(&lists_line(&lists))?;
    }
    Ok(exit(hit))
}

/// One hit of a batch: the input row and the hit.
#[derive(Debug, Serialize)]
struct BatchHit {
    line: u64,
    id: String,
    input: String,
    list: String,
    /// The version of `list` screened against.
    list_version: String,
    entity_id: String,
    entity: String,
    score: f64,
    suppressed: bool,
    explanation: String,
    /// "sanctioned", "special measure", … (see [`category_label`]).
    category: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<Feature>,
}

impl Tabular for BatchHit {
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
        vec![
            self.line.to_string(),
            self.id.clone(),
            self.input.clone(),
            format!("{:.3}", self.score),
            self.list.clone(),
            self.entity_id.clone(),
            self.entity.clone(),
            if self.suppressed { "yes" } else { "" }.to_owned(),
            self.explanation.clone(),
            self.category.clone(),
            self.list_version.clone(),
        ]
    }
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
            bail!(
                "{}: the header row has neither a `name` nor an `address` column (found: {})",
                path.display(),
                header.iter().collect::<Vec<_>>().join(",")
            );
        }
        if c.address.is_some() && c.chain.is_none() {
            bail!("{}: an `address` column needs a `chain` column", path.display());
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

/// Opens a CSV input file, held to the line limit (`lists.max_line_bytes`). CRLF line ends
/// (what spreadsheets write) are read as LF: the csv reader counts a record's line by the
/// `\n`s before it, and with CRLF the `\n` of the previous line is still unread when a record
/// starts, so every line number came out one too low and hits named the previous customer.
fn open_csv(
    path: &Path,
    limits: Limits,
) -> Result<csv::Reader<CrlfToLf<LimitedReader<std::fs::File>>>> {
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
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

impl<R: std::io::Read> CrlfToLf<R> {
    fn new(inner: R) -> Self {
        CrlfToLf { inner, buf: vec![0; 64 * 1024].into_boxed_slice(), pos: 0, len: 0, cr: false }
    }
}

impl<R: std::io::Read> std::io::Read for CrlfToLf<R> {
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
        bail!(
            "{} line {line}: field {} has {} bytes, more than {max} (limit lists.max_field_bytes)",
            path.display(),
            i + 1,
            f.len()
        );
    }
    Ok(())
}

fn batch(args: BatchArgs, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    let cfg = args.score.config()?;
    let path = &args.file;
    let limits = ctx.lists.limits();
    let total = {
        let mut r = open_csv(path, limits)?;
        let mut n = 0u64;
        for rec in r.records() {
            rec.with_context(|| format!("reading {}", path.display()))?;
            n += 1;
        }
        n
    };
    let mut reader = open_csv(path, limits)?;
    let header = reader.headers().with_context(|| format!("{}: header row", path.display()))?;
    let cols = BatchColumns::from_header(path, header)?;
    let mut screener = screener_with_lists(ctx, cfg, &args.score.unihan)?;
    let lists = screener.lists()?;
    let version_of = |list: &str| {
        lists.iter().find(|l| l.list == list).map(|l| l.version.clone()).unwrap_or_default()
    };
    let progress = if quiet {
        ProgressBar::hidden()
    } else {
        let pb = ProgressBar::new(total);
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} rows ({per_sec}, {eta}) {msg}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        pb
    };
    let json = matches!(args.score.format, Format::Json | Format::Jsonl);
    let mut out = Vec::new();
    // Read and check every row first, so a bad row stops the batch before any screening; then
    // screen the names of rows without a subject on every core (results keep the row order);
    // rows with a subject are screened in order below, since they write to the database.
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        check_cells(path, line, &rec, limits)?;
        rows.push(rec);
    }
    let mut queries = Vec::new();
    let mut parsed = Vec::with_capacity(rows.len());
    for rec in &rows {
        let line = rec.position().map_or(0, |p| p.line());
        let at = || format!("{} line {line}", path.display());
        let name = cell(rec, cols.name);
        if name.is_empty() {
            parsed.push(None);
            continue;
        }
        let dob = cell(rec, cols.dob);
        let kind = cell(rec, cols.kind);
        let q = NameQuery {
            name: name.to_owned(),
            entity_type: match EntityType::parse(kind) {
                EntityType::Unknown if !kind.is_empty() => {
                    bail!("{}: type '{kind}' is not person or organization", at())
                }
                EntityType::Unknown => None,
                t => Some(t),
            },
            dob: if dob.is_empty() {
                None
            } else {
                Some(parse_dob(dob).with_context(|| format!("{}, column dob", at()))?)
            },
            countries: split_list(cell(rec, cols.country)),
            identifiers: split_list(cell(rec, cols.id_number)),
        };
        if cell(rec, cols.id).is_empty() {
            queries.push(q);
            parsed.push(None);
        } else {
            parsed.push(Some(q));
        }
    }
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut screened = screener.matcher().screen_many(queries, threads).into_iter();
    for (rec, subject_query) in rows.iter().zip(parsed) {
        let line = rec.position().map_or(0, |p| p.line());
        let at = || format!("{} line {line}", path.display());
        let id = cell(rec, cols.id);
        let subject = (!id.is_empty()).then_some(id);
        let name = cell(rec, cols.name);
        if !name.is_empty() {
            let hits = match (subject, subject_query) {
                (Some(s), Some(q)) => {
                    screener.screen_subject(s, Subject::Name(q)).with_context(at)?.0
                }
                _ => screened.next().unwrap_or_default(),
            };
            for h in hits {
                out.push(BatchHit {
                    line,
                    id: id.to_owned(),
                    input: name.to_owned(),
                    explanation: short_explanation(&h.features),
                    category: category_label(h.category),
                    features: if json { h.features } else { Vec::new() },
                    list_version: version_of(&h.list),
                    list: h.list,
                    entity_id: h.entity_id,
                    entity: h.entity_name,
                    score: h.score,
                    suppressed: h.suppressed,
                });
            }
        }
        let address = cell(rec, cols.address);
        if !address.is_empty() {
            let chain = cell(rec, cols.chain);
            let hits = screen_address(&mut screener, chain, address, subject).with_context(at)?;
            for h in hits {
                out.push(BatchHit {
                    line,
                    id: id.to_owned(),
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
    progress.finish_and_clear();
    let hit = out.iter().any(|h| !h.suppressed);
    crate::cmd::cases::screening_alerts(
        &args.cases,
        ctx,
        floodgate_cases::model::AlertSource::ScreenBatch,
        &out.iter()
            .map(|h| (if h.id.is_empty() { h.input.clone() } else { h.id.clone() }, h))
            .collect::<Vec<_>>(),
    )?;
    if args.score.format == Format::Table && out.is_empty() {
        output::write_text(&format!("no hit in {} rows of {}\n", total, path.display()))?;
    } else {
        output::write_rows(args.score.format, &out)?;
    }
    if args.score.format == Format::Table {
        output::write_text(&lists_line(&lists))?;
    }
    Ok(exit(hit))
}

/// One scored pair.
#[derive(Debug, Serialize)]
struct PairRow {
    line: u64,
    name1: String,
    name2: String,
    #[serde(rename = "type")]
    kind: String,
    score: f64,
    hit: bool,
    explanation: String,
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
    let cfg = args.score.config()?;
    let unihan = load_unihan(&args.score.unihan)?;
    let path = &args.file;
    let limits = ctx.lists.limits();
    let mut reader = open_csv(path, limits)?;
    let header = reader.headers().with_context(|| format!("{}: header row", path.display()))?;
    let find = |n: &str| header.iter().position(|h| h.trim().eq_ignore_ascii_case(n));
    let (Some(c1), Some(c2)) = (find("name1"), find("name2")) else {
        bail!(
            "{}: the header row needs columns name1 and name2 (and optionally type)",
            path.display()
        );
    };
    let ct = find("type");
    let mut rows = Vec::new();
    for rec in reader.records() {
        let rec = rec.with_context(|| format!("reading {}", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        check_cells(path, line, &rec, limits)?;
        let (a, b) = (cell(&rec, Some(c1)), cell(&rec, Some(c2)));
        if a.is_empty() || b.is_empty() {
            bail!("{} line {line}: name1 and name2 must both be given", path.display());
        }
        let kind_text = cell(&rec, ct);
        let kind = match EntityType::parse(kind_text) {
            EntityType::Unknown if !kind_text.is_empty() => bail!(
                "{} line {line}: type '{kind_text}' is not person or organization",
                path.display()
            ),
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
    output::write_rows(args.score.format, &rows)?;
    if args.score.format == Format::Table {
        output::write_text(&format!(
            "{} of {} pairs at or above the threshold {:.2}\n",
            rows.iter().filter(|r| r.hit).count(),
            rows.len(),
            cfg.threshold
        ))?;
    }
    Ok(exit(rows.iter().any(|r| r.hit)))
}
