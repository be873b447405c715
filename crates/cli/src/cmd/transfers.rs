//! `floodgate transfers`: list stored transfers.

use std::process::ExitCode;

use anyhow::{Context as _, Result};
use floodgate_store::{TransferFilter, TransferRow, TransferStore};
use floodgate_types::{Address, AssetId, Chain};

use crate::config::Context;
use crate::output::{self, Format, Tabular};

/// List stored transfers: Bitcoin transaction legs (inputs and outputs), Ethereum and Tron
/// native, token and internal transfers, and ledger entries. Amounts are integers in the
/// asset's base units (`amount`), with the human form beside them in tables (`value`).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  floodgate transfers --chain tron --format csv > tron.csv
  floodgate transfers --address 0xdAC17F958D2ee523a2206206994597C13D831ec7
  floodgate transfers --chain ledger --format jsonl")]
pub(crate) struct Args {
    /// Only this chain: bitcoin, ethereum, tron, or ledger
    #[arg(long, value_name = "CHAIN")]
    chain: Option<String>,
    /// Only transfers from or to this address (any accepted form; it is canonicalized)
    #[arg(long, value_name = "ADDRESS")]
    address: Option<String>,
    /// At most this many rows (the listing streams and stops there)
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

struct Row<'a>(TransferRow, &'a Context);

impl serde::Serialize for Row<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Tabular for Row<'_> {
    fn headers() -> Vec<&'static str> {
        vec![
            "chain", "height", "time", "txid", "index", "kind", "from", "to", "asset", "amount",
            "value",
        ]
    }
    fn cells(&self) -> Vec<String> {
        let r = &self.0;
        let value = match (r.amount, self.1.assets.decimals(&AssetId(r.asset.clone()))) {
            (Some(a), Some(d)) => a.to_decimal_string(d),
            _ => String::new(),
        };
        vec![
            r.chain.clone(),
            r.height.map(|h| h.to_string()).unwrap_or_default(),
            r.time.map(|t| t.to_string()).unwrap_or_default(),
            r.txid.clone(),
            r.index.clone(),
            r.kind.clone(),
            r.from.clone().unwrap_or_default(),
            r.to.clone().unwrap_or_default(),
            r.asset.clone(),
            r.amount.map(|a| a.to_string()).unwrap_or_default(),
            value,
        ]
    }
}

pub(crate) fn run(args: Args, ctx: &Context) -> Result<ExitCode> {
    let mut filter = TransferFilter { limit: args.limit, ..Default::default() };
    match args.chain.as_deref() {
        Some(c) if c.eq_ignore_ascii_case("ledger") => filter.ledger_only = true,
        Some(c) => filter.chain = Some(c.parse::<Chain>().context("--chain")?),
        None => {}
    }
    if let Some(a) = &args.address {
        let parsed = match filter.chain {
            Some(c) => Address::parse(c, a),
            None => Address::parse_any(a),
        };
        filter.address = Some(parsed.context("--address")?);
    }
    let store = ctx.dir().open_store()?;
    // Rows stream from the store to stdout: `--limit N` reads only the first blocks, and a
    // reader that goes away (`| head`) stops the query at the next row.
    let mut out = output::RowWriter::new(args.format)?;
    store.for_each_transfer(&filter, |r| out.push(&Row(r, ctx)).map_err(anyhow::Error::from))?;
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
