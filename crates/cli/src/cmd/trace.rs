//! `floodgate trace`: build the transaction graph, and trace funds over it (exposure, paths).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::{Subcommand, ValueEnum};
use floodgate_app::trace::{self as service, ExposureRequest, PathRequest, Tracer};
use floodgate_trace::{to_dot, Direction, IndexUpdate, TaintModel};
use floodgate_types::{Amount, AssetId, Timestamp};
use serde::Serialize;

use crate::config::Context;
use crate::output::{self, Format, Tabular};

mod tags;
// Entities (persisted clustering, aliases, `why`, `entity`) live beside this file.
#[path = "trace_entity.rs"]
mod trace_entity;

/// Trace funds: build the transaction graph from the transfer store, then ask how much of
/// what reached an address came from risky sources (exposure) and which transfers connect
/// two addresses (paths).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate trace build
  floodgate trace exposure 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --hops 3 --tagpack packs/
  floodgate trace path 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --format dot | dot -Tsvg > flow.svg

  floodgate trace why ADDRESS_A ADDRESS_B
  floodgate trace tags 0xd90e2f925da726b50c4ed8d0fb90ad053324f31b --etherscan combinedAccountLabels.json
  floodgate trace entity E17 --change-heuristics

Exit codes: 0 success; 1 `trace path` found no path, `trace why`: not one entity, or `trace tags`: no tag; 2 error (including an address that is
not in the graph).")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: TraceCommand,
}

#[derive(Debug, Subcommand)]
enum TraceCommand {
    /// Build or extend the graph from the transfer store (appends blocks above the graph's tip)
    Build(BuildArgs),
    /// Exposure of an address by risk category, direct and indirect
    Exposure(ExposureArgs),
    /// Shortest paths of funds from one address to another
    Path(PathArgs),
    /// Why two addresses are one entity: the transactions (co-spends, deposit sweeps) that
    /// join them
    Why(trace_entity::WhyArgs),
    /// An entity: members, first and last seen, tags, merge history, change evidence
    Entity(trace_entity::EntityArgs),
    /// Attribution tags of an address, or of an entity E<n> (from its addresses); without a
    /// target, what every tag source loaded and skipped
    Tags(tags::TagsArgs),
}

#[derive(Debug, clap::Args)]
struct BuildArgs {
    /// Build everything anew instead of appending (a reorganisation or rollback is unwound without it)
    #[arg(long)]
    rebuild: bool,
    /// Re-check every segment checksum after building
    #[arg(long)]
    verify: bool,
    /// GraphSense TagPack file or directory (repeatable; <data dir>/tagpacks is always
    /// read): its `exchange` wallets drive deposit-address clustering
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DirectionArg {
    /// Where the address's incoming value came from
    In,
    /// Where the address's outgoing value went
    Out,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModelArg {
    /// Proportional to value at every hop
    Haircut,
    /// Any contact taints the whole transfer
    Poison,
    /// First in, first out: value leaves an address or transaction in the order it arrived
    Fifo,
    /// Last in, first out: the newest value leaves first
    Lifo,
    /// Taint in, highest out: tainted value goes to the largest transfers first
    Tiho,
}

#[derive(Debug, clap::Args)]
struct ExposureArgs {
    /// Address (any accepted form), an entity `E<n>` (see `trace why`), or a graph node key
    /// such as tx:bitcoin:<txid>
    target: String,
    /// Direction of tracing
    #[arg(long, value_enum, default_value_t = DirectionArg::In)]
    direction: DirectionArg,
    /// Hop limit
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    hops: u32,
    /// Taint model (definitions: docs/taint-models.md)
    #[arg(long, value_enum, default_value_t = ModelArg::Haircut)]
    model: ModelArg,
    /// Do not follow transfers below this amount (integer base units)
    #[arg(long, value_name = "BASE_UNITS")]
    min_amount: Option<String>,
    /// Only transfers at or after this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only transfers at or before this time (RFC 3339 or Unix seconds)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// Only this asset (default: every asset the address moved, one report each)
    #[arg(long)]
    asset: Option<String>,
    /// Spend a hop on every peel-chain link. By default a peel chain (an address that got
    /// the large output of a one-input, two-output transaction paying at most a fifth away,
    /// and spent it the same way) is followed without spending hops; the report says how
    /// many links it passed (`peel_links`)
    #[arg(long)]
    no_peel_chains: bool,
    /// Haircut, poison and TIHO as before they respected time: value may be traced to
    /// transfers made after the ones it funds (not for fifo and lifo, which always respect
    /// time)
    #[arg(long)]
    ignore_time: bool,
    /// Trace per query even when the exposure index built by `trace build` could answer
    /// (haircut or poison, `--direction in`, `--hops` 1, 2, 3 or 6, no window, minimum or
    /// extra tags), and without the index pruning the trace (the same answer, more read)
    #[arg(long)]
    no_index: bool,
    /// GraphSense TagPack file or directory (repeatable); <data dir>/tagpacks and
    /// <data dir>/tags/tagpacks are always read
    #[arg(long, value_name = "PATH")]
    tagpack: Vec<PathBuf>,
    /// Spread tags to co-spend entities: every address of an entity with a tagged address
    /// takes its category
    #[arg(long)]
    cluster: bool,
    /// Directory of OFAC sanctioned_addresses_<TICKER>.txt files (tagged sanctioned)
    #[arg(long, value_name = "DIR")]
    ofac: Option<PathBuf>,
    #[command(flatten)]
    sources: tags::SourceArgs,
    /// Output format (table or json)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PathFormat {
    /// One row per transfer
    Table,
    /// The paths as JSON
    Json,
    /// A Graphviz digraph of the fund flow
    Dot,
}

#[derive(Debug, clap::Args)]
struct PathArgs {
    /// Source address
    from: String,
    /// Destination address
    to: String,
    /// Hop limit
    #[arg(long, default_value_t = 6)]
    max_hops: u32,
    /// At most this many paths (all of the shortest length)
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Output format
    #[arg(long, value_enum, default_value_t = PathFormat::Table)]
    format: PathFormat,
}

pub(crate) fn run(args: Args, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    match args.command {
        TraceCommand::Build(a) => build(a, ctx, quiet),
        TraceCommand::Exposure(a) => run_exposure(a, ctx),
        TraceCommand::Path(a) => run_path(a, ctx),
        TraceCommand::Why(a) => trace_entity::run_why(a, ctx),
        TraceCommand::Entity(a) => trace_entity::run_entity(a, ctx),
        TraceCommand::Tags(a) => tags::run(a, ctx),
    }
}

#[derive(Serialize)]
struct KeyValue {
    key: String,
    value: String,
}

impl Tabular for KeyValue {
    fn headers() -> Vec<&'static str> {
        vec!["key", "value"]
    }
    fn cells(&self) -> Vec<String> {
        vec![self.key.clone(), self.value.clone()]
    }
}

fn build(args: BuildArgs, ctx: &Context, quiet: bool) -> Result<ExitCode> {
    // A spinner with the legs read so far (hidden with --quiet or when stderr is not a
    // terminal): a build from a big store takes minutes.
    let progress = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new_spinner();
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos} transfers into the graph ({per_sec})",
            )
            .expect("the template is valid"),
        );
        pb
    };
    let req = service::BuildRequest {
        rebuild: args.rebuild,
        verify: args.verify,
        tagpacks: args.tagpack,
    };
    let built = service::build(&ctx.dir(), &req, &mut |legs| progress.set_position(legs))?;
    progress.finish_and_clear();
    if args.format == Format::Json {
        output::write_json(&built)?;
        return Ok(ExitCode::SUCCESS);
    }
    let report = &built.graph;
    let per_edge = if report.edges > 0 { report.bytes as f64 / report.edges as f64 } else { 0.0 };
    let mut rows = Vec::new();
    if let Some(u) = &report.unwound {
        let tips: Vec<String> = u.tips.iter().map(|(c, h)| format!("{c} {h}")).collect();
        rows.push(KeyValue {
            key: "unwound".into(),
            value: format!(
                "{} segments ({} edges) above the blocks the store still holds; kept {} segments{}{}",
                u.dropped_segments,
                u.dropped_edges,
                u.kept_segments,
                if tips.is_empty() { "" } else { " up to " },
                tips.join(", ")
            ),
        });
    }
    rows.extend([
        KeyValue { key: "new nodes".into(), value: report.new_nodes.to_string() },
        KeyValue { key: "new edges".into(), value: report.new_edges.to_string() },
        KeyValue { key: "nodes".into(), value: report.nodes.to_string() },
        KeyValue { key: "edges".into(), value: report.edges.to_string() },
        KeyValue { key: "segments".into(), value: report.segments.to_string() },
        KeyValue { key: "bytes".into(), value: report.bytes.to_string() },
        KeyValue { key: "bytes per edge".into(), value: format!("{per_edge:.1}") },
    ]);
    for (chain, h) in &report.tips {
        rows.push(KeyValue { key: format!("{chain} tip"), value: h.to_string() });
    }
    // The section table (docs/formats/graph.md): where the bytes per edge go.
    for sec in &built.sections {
        rows.push(KeyValue {
            key: format!("bytes per edge: {}", sec.section),
            value: format!("{:.2} ({} bytes)", sec.bytes_per_edge, sec.bytes),
        });
    }
    rows.push(KeyValue { key: "graph build ms".into(), value: built.graph_ms.to_string() });
    rows.extend(trace_entity::cluster_rows(&built.clustering));
    let ix = &built.index;
    let how = match ix.built.as_ref().map(|b| &b.update) {
        Some(IndexUpdate::Rebuilt { reason }) => format!("rebuilt ({reason})"),
        Some(IndexUpdate::Extended { from_segments, was_segments })
            if from_segments < was_segments =>
        {
            format!("unwound to {from_segments} of its {was_segments} segments, then extended")
        }
        Some(IndexUpdate::Extended { from_segments, .. }) => {
            format!("extended (it covered {from_segments} segments)")
        }
        None => ix.status.to_owned(),
    };
    rows.push(KeyValue { key: "exposure index".into(), value: how });
    rows.push(KeyValue { key: "exposure index bytes".into(), value: ix.bytes.to_string() });
    if let Some(b) = &ix.built {
        rows.push(KeyValue { key: "exposure index build ms".into(), value: ix.ms.to_string() });
        rows.push(KeyValue {
            key: "exposure index entries".into(),
            value: format!(
                "{} addresses, {} exposed within 6 hops, {} with round trips",
                b.entries, b.exposed, b.round_trips
            ),
        });
    }
    output::write_rows(args.format, &rows)?;
    Ok(ExitCode::SUCCESS)
}

fn open_tracer(ctx: &Context) -> Result<Tracer> {
    Ok(Tracer::open(&ctx.dir())?)
}

fn parse_time(s: &Option<String>, flag: &str) -> Result<Option<i64>> {
    s.as_deref()
        .map(|t| Timestamp::parse(t).map(|t| t.0).with_context(|| flag.to_owned()))
        .transpose()
}

#[derive(Serialize)]
struct ExposureRow {
    asset: String,
    category: String,
    risk: bool,
    value: Amount,
    human: String,
    share: f64,
    direct: Amount,
    indirect: Amount,
    min_hops: u32,
    top_source: String,
}

impl Tabular for ExposureRow {
    fn headers() -> Vec<&'static str> {
        vec![
            "asset",
            "category",
            "risk",
            "amount",
            "value",
            "share",
            "direct",
            "indirect",
            "hops",
            "top source",
        ]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.asset.clone(),
            self.category.clone(),
            if self.risk { "yes".into() } else { String::new() },
            self.value.to_string(),
            self.human.clone(),
            format!("{:.2}%", self.share * 100.0),
            self.direct.to_string(),
            self.indirect.to_string(),
            self.min_hops.to_string(),
            self.top_source.clone(),
        ]
    }
}

fn run_exposure(args: ExposureArgs, ctx: &Context) -> Result<ExitCode> {
    let tracer = open_tracer(ctx)?;
    let req = ExposureRequest {
        target: args.target.clone(),
        direction: match args.direction {
            DirectionArg::In => Direction::In,
            DirectionArg::Out => Direction::Out,
        },
        hops: args.hops,
        model: match args.model {
            ModelArg::Haircut => TaintModel::Haircut,
            ModelArg::Poison => TaintModel::Poison,
            ModelArg::Fifo => TaintModel::Fifo,
            ModelArg::Lifo => TaintModel::Lifo,
            ModelArg::Tiho => TaintModel::Tiho,
        },
        min_amount: match &args.min_amount {
            Some(s) => Amount::parse_base_units(s).context("--min-amount")?,
            None => Amount::ZERO,
        },
        since: parse_time(&args.since, "--since")?,
        until: parse_time(&args.until, "--until")?,
        asset: args.asset.clone(),
        peel_chains: !args.no_peel_chains,
        ignore_time: args.ignore_time,
        cluster: args.cluster,
        sources: args.sources.with(args.tagpack, args.ofac),
        no_index: args.no_index,
    };
    let result = tracer.exposure(&req)?;
    if let Some(note) = &result.alias {
        trace_entity::say_alias(note, args.format)?;
    }
    let reports = &result.reports;
    if matches!(args.format, Format::Json) {
        output::write_json(&result)?;
        return Ok(ExitCode::SUCCESS);
    }
    let human = |a: Amount, asset: &str| match ctx.assets.decimals(&AssetId(asset.to_owned())) {
        Some(d) => a.to_decimal_string(d),
        None => String::new(),
    };
    let mut rows = Vec::new();
    for r in reports {
        rows.push(ExposureRow {
            asset: r.asset.clone(),
            category: "(total)".into(),
            risk: false,
            value: r.total,
            human: human(r.total, &r.asset),
            share: 1.0,
            direct: Amount::ZERO,
            indirect: Amount::ZERO,
            min_hops: 0,
            top_source: r.target.clone(),
        });
        for c in &r.categories {
            rows.push(ExposureRow {
                asset: r.asset.clone(),
                category: c.category.to_string(),
                risk: c.risk,
                value: c.value,
                human: human(c.value, &r.asset),
                share: c.share,
                direct: c.direct,
                indirect: c.indirect,
                min_hops: c.min_hops,
                top_source: c.sources.first().map(|s| s.node.clone()).unwrap_or_default(),
            });
        }
        if r.model != TaintModel::Poison {
            let share = |v: Amount| match (v.to_u128(), r.total.to_u128()) {
                (Some(v), Some(t)) if t > 0 => v as f64 / t as f64,
                _ => 0.0,
            };
            rows.push(ExposureRow {
                asset: r.asset.clone(),
                category: "(untraced)".into(),
                risk: false,
                value: r.untraced,
                human: human(r.untraced, &r.asset),
                share: share(r.untraced),
                direct: Amount::ZERO,
                indirect: Amount::ZERO,
                min_hops: 0,
                top_source: String::new(),
            });
        }
    }
    output::write_rows(args.format, &rows)?;
    if let Some(note) = &result.index {
        if matches!(args.format, Format::Table) {
            output::write_text(&format!("note: {note}\n"))?;
        } else {
            tracing::info!(target: "floodgate::trace", "{note}");
        }
    }
    for r in reports.iter().filter(|r| r.peel_links > 0) {
        let note = format!(
            "note: {}: followed {} peel-chain link(s) without spending hops \
             (--no-peel-chains counts them)",
            r.asset, r.peel_links
        );
        if matches!(args.format, Format::Table) {
            output::write_text(&format!("{note}\n"))?;
        } else {
            tracing::info!(target: "floodgate::trace", "{note}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Serialize)]
struct PathRow {
    path: usize,
    step: usize,
    from: String,
    to: String,
    txid: String,
    time: String,
    amount: Amount,
    value: String,
    asset: String,
}

impl Tabular for PathRow {
    fn headers() -> Vec<&'static str> {
        vec!["path", "step", "from", "to", "txid", "time", "amount", "value", "asset"]
    }
    fn cells(&self) -> Vec<String> {
        vec![
            self.path.to_string(),
            self.step.to_string(),
            self.from.clone(),
            self.to.clone(),
            self.txid.clone(),
            self.time.clone(),
            self.amount.to_string(),
            self.value.clone(),
            self.asset.clone(),
        ]
    }
}

fn run_path(args: PathArgs, ctx: &Context) -> Result<ExitCode> {
    let req = PathRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        max_hops: args.max_hops,
        limit: args.limit,
    };
    let result = open_tracer(ctx)?.paths(&req)?;
    let found = &result.paths;
    let decimals = |a: &str| ctx.assets.decimals(&AssetId(a.to_owned()));
    match args.format {
        PathFormat::Json => output::write_json(&result)?,
        PathFormat::Dot => output::write_text(&to_dot(found, &decimals))?,
        PathFormat::Table => {
            let mut rows = Vec::new();
            for (i, p) in found.iter().enumerate() {
                for (j, s) in p.steps.iter().enumerate() {
                    rows.push(PathRow {
                        path: i + 1,
                        step: j + 1,
                        from: s.from.clone(),
                        to: s.to.clone(),
                        txid: s.txid.clone(),
                        time: s.time.map(|t| Timestamp(t).to_string()).unwrap_or_default(),
                        amount: s.amount,
                        value: decimals(&s.asset)
                            .map(|d| s.amount.to_decimal_string(d))
                            .unwrap_or_default(),
                        asset: s.asset.clone(),
                    });
                }
            }
            output::write_rows(Format::Table, &rows)?;
        }
    }
    if found.is_empty() {
        tracing::warn!(target: "floodgate::trace", "no path from {} to {} within {} hops", args.from, args.to, args.max_hops);
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
