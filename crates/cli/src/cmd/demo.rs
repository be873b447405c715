//! `floodgate demo`: ingest the bundled real sample and show what it holds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use super::ingest::{self, Source};
use crate::config::Context;
use crate::output;

/// The sample, embedded so that an installed binary can run the demo without the repository.
/// Provenance: `crates/cli/sample/README.md`.
const SAMPLE: &[(Source, &str, &[u8])] = &[
    (
        Source::Bitcoin,
        "bitcoin/mainnet_blocks_0-438.blk.dat",
        include_bytes!("../../sample/bitcoin/mainnet_blocks_0-438.blk.dat"),
    ),
    (
        Source::Bitcoin,
        "bitcoin/mainnet_block_227835.raw",
        include_bytes!("../../sample/bitcoin/mainnet_block_227835.raw"),
    ),
    (
        Source::Bitcoin,
        "bitcoin/mainnet_block_227836.raw",
        include_bytes!("../../sample/bitcoin/mainnet_block_227836.raw"),
    ),
    (
        Source::Ethereum,
        "ethereum/blocks.jsonl",
        include_bytes!("../../sample/ethereum/blocks.jsonl"),
    ),
    (
        Source::Ethereum,
        "ethereum/transactions.jsonl",
        include_bytes!("../../sample/ethereum/transactions.jsonl"),
    ),
    (Source::Ethereum, "ethereum/logs.jsonl", include_bytes!("../../sample/ethereum/logs.jsonl")),
    (
        Source::Ethereum,
        "ethereum/traces.jsonl",
        include_bytes!("../../sample/ethereum/traces.jsonl"),
    ),
    (Source::Tron, "tron/blocks.jsonl", include_bytes!("../../sample/tron/blocks.jsonl")),
    (
        Source::Tron,
        "tron/transactions.jsonl",
        include_bytes!("../../sample/tron/transactions.jsonl"),
    ),
    (Source::Tron, "tron/logs.jsonl", include_bytes!("../../sample/tron/logs.jsonl")),
    (Source::Tron, "tron/traces.jsonl", include_bytes!("../../sample/tron/traces.jsonl")),
    (
        Source::Ledger,
        "ledger/exchange-ledger.csv",
        include_bytes!("../../sample/ledger/exchange-ledger.csv"),
    ),
    (Source::Ledger, "README.md", include_bytes!("../../sample/README.md")),
];

/// Real attribution data, embedded beside the chain sample (provenance:
/// `crates/cli/sample/README.md`): the OFAC SDN digital-currency address lists and the UN
/// Security Council Consolidated List (loaded with `floodgate lists load`, so address and name
/// screening, KYT and tracing see them) and a few
/// GraphSense TagPacks (put in the data directory's tag store, `tags/tagpacks/`, where
/// `floodgate trace` and the API read tags).
const ATTRIBUTION: &[(&str, &[u8])] = &[
    (
        "ofac/sanctioned_addresses_ARB.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_ARB.txt"),
    ),
    (
        "ofac/sanctioned_addresses_BCH.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_BCH.txt"),
    ),
    (
        "ofac/sanctioned_addresses_BNB.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_BNB.txt"),
    ),
    (
        "ofac/sanctioned_addresses_BSC.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_BSC.txt"),
    ),
    (
        "ofac/sanctioned_addresses_BSV.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_BSV.txt"),
    ),
    (
        "ofac/sanctioned_addresses_BTG.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_BTG.txt"),
    ),
    (
        "ofac/sanctioned_addresses_DASH.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_DASH.txt"),
    ),
    (
        "ofac/sanctioned_addresses_ETC.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_ETC.txt"),
    ),
    (
        "ofac/sanctioned_addresses_ETH.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_ETH.txt"),
    ),
    (
        "ofac/sanctioned_addresses_LTC.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_LTC.txt"),
    ),
    (
        "ofac/sanctioned_addresses_SOL.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_SOL.txt"),
    ),
    (
        "ofac/sanctioned_addresses_TRX.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_TRX.txt"),
    ),
    (
        "ofac/sanctioned_addresses_USDC.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_USDC.txt"),
    ),
    (
        "ofac/sanctioned_addresses_USDT.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_USDT.txt"),
    ),
    (
        "ofac/sanctioned_addresses_XBT.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_XBT.txt"),
    ),
    (
        "ofac/sanctioned_addresses_XMR.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_XMR.txt"),
    ),
    (
        "ofac/sanctioned_addresses_XRP.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_XRP.txt"),
    ),
    (
        "ofac/sanctioned_addresses_XVG.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_XVG.txt"),
    ),
    (
        "ofac/sanctioned_addresses_ZEC.txt",
        include_bytes!("../../sample/ofac/sanctioned_addresses_ZEC.txt"),
    ),
    ("un/UN_consolidated.xml", include_bytes!("../../sample/un/UN_consolidated.xml")),
    ("tagpacks/LICENSE", include_bytes!("../../sample/tagpacks/LICENSE")),
    (
        "tagpacks/exchange-wallets-binance.yaml",
        include_bytes!("../../sample/tagpacks/exchange-wallets-binance.yaml"),
    ),
    ("tagpacks/lazarus.yaml", include_bytes!("../../sample/tagpacks/lazarus.yaml")),
    ("tagpacks/ofac.yaml", include_bytes!("../../sample/tagpacks/ofac.yaml")),
    ("tagpacks/ronin_bridge.yaml", include_bytes!("../../sample/tagpacks/ronin_bridge.yaml")),
    ("tagpacks/tornado_cash.yaml", include_bytes!("../../sample/tagpacks/tornado_cash.yaml")),
];

/// Block 227835 predates BIP34 (its coinbase carries no height) and its parent is not in the
/// sample, so it is ingested on its own with its height given, as a user would with
/// `--height`.
fn split_pre_bip34(paths: Vec<PathBuf>) -> Vec<(Vec<PathBuf>, Option<u64>)> {
    let (pre, rest): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.into_iter().partition(|p| p.ends_with("mainnet_block_227835.raw"));
    let mut out: Vec<(Vec<PathBuf>, Option<u64>)> = Vec::new();
    if !rest.is_empty() {
        out.push((rest, None));
    }
    for p in pre {
        out.push((vec![p], Some(227_835)));
    }
    out
}

/// Ingest the small real sample bundled with floodgate (Bitcoin blocks 0–438, 227835–227836,
/// Ethereum block 18000011, Tron block 50000011, a synthetic exchange ledger) into the data
/// directory, print what the store holds, then serve the analyst's workbench (and the API) on
/// `--addr` until Ctrl-C, with a fresh analyst key printed for signing in. Running it again
/// adds nothing to the store.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Stop after the summary instead of serving the workbench (for scripts and tests)
    #[arg(long)]
    no_serve: bool,
    /// Where the workbench listens (loopback by default)
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    addr: String,
}

/// `lock` is the exclusive data-directory lock the ingest needs; it is traded for a shared one
/// before serving, so that `floodgate transfers` and the other readers work beside the demo.
pub(crate) fn run(
    args: Args,
    ctx: &Context,
    quiet: bool,
    lock: crate::config::DirLock,
) -> Result<ExitCode> {
    let dir = ctx.data_dir.join("sample");
    let mut by_source: Vec<(Source, Vec<PathBuf>)> = Vec::new();
    for (source, rel, bytes) in SAMPLE {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        if rel.ends_with(".md") {
            continue;
        }
        match by_source.iter_mut().find(|(s, _)| s == source) {
            Some((_, v)) => v.push(path),
            None => by_source.push((*source, vec![path])),
        }
    }
    for (source, paths) in by_source {
        for (paths, height) in split_pre_bip34(paths) {
            let mut line = format!("\n== floodgate ingest {source:?}").to_lowercase();
            if let Some(h) = height {
                line.push_str(&format!(" --height {h}"));
            }
            output::write_text(&format!("{line} ==\n"))?;
            let mut args = ingest::Args::for_paths(source, paths);
            args.height = height;
            ingest::run(args, ctx, quiet)?;
        }
    }
    load_attribution(&dir, ctx, quiet)?;
    output::write_text("\n== floodgate status ==\n")?;
    super::status::run(super::status::Args::table(), ctx)?;
    output::write_text(
        "\nTry next:\n  floodgate transfers --address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S   (Satoshi pays Hal Finney, block 170)\n  floodgate screen name \"Korea Mining Development Trading Corporation\"   (UN list, DPRK)\n  floodgate transfers --chain tron --limit 10\n  floodgate transfers --chain ledger\n",
    )?;
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    prepare(ctx, quiet)?;
    drop(lock);
    let _shared = crate::config::lock_data_dir(&ctx.data_dir, crate::config::Access::Shared)?;
    serve(&args.addr, ctx)
}

/// Writes the bundled OFAC address lists, the UN list and the TagPacks out, loads the lists (a
/// second run loads the same versions again and changes nothing) and puts the TagPacks in the
/// tag store.
fn load_attribution(dir: &Path, ctx: &Context, quiet: bool) -> Result<()> {
    let tag_store = floodgate_app::DataDir::new(&ctx.data_dir).tags_dir().join("tagpacks");
    std::fs::create_dir_all(&tag_store).with_context(|| tag_store.display().to_string())?;
    for (rel, bytes) in ATTRIBUTION {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("{}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        if let Some(name) = rel.strip_prefix("tagpacks/").filter(|n| n.ends_with(".yaml")) {
            let dest = tag_store.join(name);
            std::fs::write(&dest, bytes).with_context(|| format!("writing {}", dest.display()))?;
        }
    }
    for list in [dir.join("ofac"), dir.join("un").join("UN_consolidated.xml")] {
        let list = list.to_string_lossy();
        output::write_text(&format!("\n== floodgate lists load {list} ==\n"))?;
        super::lists::run(parse(&["lists", "load", &list])?, ctx, quiet)?;
    }
    output::write_text(&format!(
        "\n== TagPacks into {} ==\n{} GraphSense TagPacks (tracing reads them; `floodgate trace tags` lists what they hold)\n",
        tag_store.display(),
        ATTRIBUTION.iter().filter(|(r, _)| r.ends_with(".yaml")).count()
    ))?;
    Ok(())
}

/// Parses `argv` as one command's arguments, as the command line would.
fn parse<A: clap::Args + clap::FromArgMatches>(argv: &[&str]) -> Result<A> {
    let m = A::augment_args(clap::Command::new("floodgate"))
        .try_get_matches_from(argv)
        .with_context(|| format!("demo: building the arguments of {}", argv.join(" ")))?;
    A::from_arg_matches(&m).with_context(|| format!("demo: building {}", argv.join(" ")))
}

/// Gives the workbench something to show: the KYT decisions on the bundled ledger (their alerts
/// and reports go to the case store; a second run decides nothing twice) and the transfer graph
/// for tracing. Runs under the exclusive lock.
fn prepare(ctx: &Context, quiet: bool) -> Result<()> {
    output::write_text("\n== floodgate monitor --from-store --format table ==\n")?;
    super::monitor::run(parse(&["monitor", "--from-store", "--format", "table"])?, ctx, quiet)?;
    output::write_text("\n== floodgate trace build ==\n")?;
    super::trace::run(parse(&["trace", "build"])?, ctx, quiet)?;
    Ok(())
}

/// Creates an analyst key for the `default` tenant (printed once, as `serve keys create` prints
/// it) and serves with `floodgate serve`'s own set-up until Ctrl-C.
fn serve(addr: &str, ctx: &Context) -> Result<ExitCode> {
    output::write_text("\n== the analyst's workbench ==\nSign in with this analyst key (shown once; `floodgate serve keys list` shows the keys):\n")?;
    super::serve::run(
        parse(&[
            "serve", "keys", "create", "--tenant", "default", "--user", "demo", "--role", "analyst",
        ])?,
        ctx,
    )?;
    output::write_text(&format!(
        "\nWorkbench: http://{addr}/   (API docs: http://{addr}/docs). Ctrl-C stops it.\n"
    ))?;
    super::serve::run(parse(&["serve", "--addr", addr])?, ctx)
}
