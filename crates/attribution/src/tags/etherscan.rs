//! Etherscan address labels (`combinedAccountLabels.json` of the `brianleect/etherscan-labels`
//! scrape: `{"0x…": {"name": "Binance 14", "labels": ["binance", "exchange"]}, …}`) mapped onto
//! the taxonomy with the table [`ETHERSCAN_LABELS`] (documented in `docs/taxonomy.md`).
//!
//! The file is one JSON document, so it is loaded whole or not at all: a syntax error, an entry
//! without `name`/`labels`, or a key that is not an Ethereum address rejects the file with its
//! line and column, and nothing of it is kept.

use std::collections::BTreeMap;
use std::path::Path;

use floodgate_types::{Address, Chain};
use serde::Deserialize;

use super::{RiskCategory, SourceLoad, Tag, TagError, TagSet};

/// The `source` name of tags from Etherscan labels.
pub const ETHERSCAN_SOURCE: &str = "etherscan-labels";

/// Confidence of an Etherscan label: GraphSense's `web_crawl`, the level GraphSense's own
/// `etherscan-wordcloud-*` TagPacks give the same labels (curated by Etherscan, scraped from
/// its label cloud by a third party).
pub const ETHERSCAN_CONFIDENCE: &str = "web_crawl";

/// Etherscan label → (category, actor). Labels not in the table give no tag (the address is
/// counted as uncategorized when none of its labels is here). Actors are GraphSense actor ids
/// where GraphSense has the actor (`okx` → `okex`, `crypto-com` → `cryptocom`, …), else the
/// label itself. Generic labels (`bridge`, `dex`, `hot-wallet` …) carry no actor.
///
/// Why `blocked` is `blocklisted` and not `sanctioned`: Etherscan's "Blocked" label marks
/// addresses frozen by a token issuer; 438 of its 483 addresses in the 2023 snapshot are in
/// GraphSense's `usdt_blacklist.yaml` pack, and only 15 in its `ofac.yaml`. The null address
/// (labelled `blocked`, `burn`, `genesis`) gets no tag: every ERC-20 mint comes from it.
pub const ETHERSCAN_LABELS: &[(&str, RiskCategory, Option<&str>)] = &[
    // Government sanctions.
    ("ofac-sanctions-lists", RiskCategory::Sanctioned, None),
    // Token-issuer freezes (USDT, USDC blacklists).
    ("blocked", RiskCategory::Blocklisted, None),
    // Mixers.
    ("tornado-cash", RiskCategory::Mixer, Some("tornado")),
    ("ethereum-mixer", RiskCategory::Mixer, None),
    ("typhoon-cash", RiskCategory::Mixer, Some("typhooncash")),
    // Hacks, exploits, phishing (labels of later Etherscan snapshots; none in the 2023 one).
    ("phish-hack", RiskCategory::Phishing, None),
    ("exploit", RiskCategory::Theft, None),
    ("heist", RiskCategory::Theft, None),
    // Frauds flagged by Etherscan or a regulator (Forsage, Centra Tech).
    ("high-risk", RiskCategory::Scam, None),
    ("flagged-by-sec", RiskCategory::Scam, None),
    // Gambling.
    ("gambling", RiskCategory::Gambling, None),
    ("fomo3d", RiskCategory::Gambling, Some("fomo3d")),
    ("etheroll", RiskCategory::Gambling, Some("etheroll")),
    ("zethr", RiskCategory::Gambling, Some("zethr")),
    // Centralised exchanges (the actor is the exchange).
    ("binance", RiskCategory::Exchange, Some("binance")),
    ("binance-deposit", RiskCategory::Exchange, Some("binance")),
    ("coinbase", RiskCategory::Exchange, Some("coinbase")),
    ("huobi", RiskCategory::Exchange, Some("huobi")),
    ("okx", RiskCategory::Exchange, Some("okex")),
    ("kraken", RiskCategory::Exchange, Some("kraken")),
    ("bitfinex", RiskCategory::Exchange, Some("bitfinex")),
    ("kucoin", RiskCategory::Exchange, Some("kucoin")),
    ("poloniex", RiskCategory::Exchange, Some("poloniex")),
    ("bithumb", RiskCategory::Exchange, Some("bithumb")),
    ("gemini", RiskCategory::Exchange, Some("gemini")),
    ("bitstamp", RiskCategory::Exchange, Some("bitstamp")),
    ("crypto-com", RiskCategory::Exchange, Some("cryptocom")),
    ("gate-io", RiskCategory::Exchange, Some("gate-io")),
    ("ftx", RiskCategory::Exchange, Some("ftx")),
    ("bittrex", RiskCategory::Exchange, Some("bittrex")),
    ("upbit", RiskCategory::Exchange, Some("upbit")),
    ("korbit", RiskCategory::Exchange, Some("korbit")),
    ("coinone", RiskCategory::Exchange, Some("coinone")),
    ("hitbtc", RiskCategory::Exchange, Some("hitbtc")),
    ("bitmart", RiskCategory::Exchange, Some("bitmart")),
    ("hotbit", RiskCategory::Exchange, Some("hotbit")),
    ("latoken", RiskCategory::Exchange, Some("latoken")),
    ("coinsquare", RiskCategory::Exchange, Some("coinsquare")),
    ("digifinex", RiskCategory::Exchange, Some("digifinex")),
    ("ascendex", RiskCategory::Exchange, Some("ascendex")),
    ("liquid", RiskCategory::Exchange, Some("liquid")),
    ("bitmex", RiskCategory::Exchange, Some("bitmex")),
    ("deribit", RiskCategory::Exchange, Some("deribit")),
    ("shapeshift", RiskCategory::Exchange, Some("shapeshift")),
    ("changenow", RiskCategory::Exchange, Some("changenow")),
    ("remitano", RiskCategory::Exchange, Some("remitano")),
    ("paribu", RiskCategory::Exchange, Some("paribu")),
    ("coinhako", RiskCategory::Exchange, Some("coinhako")),
    ("bitcoin-suisse", RiskCategory::Exchange, Some("bitcoinsuisse")),
    ("zb-com", RiskCategory::Exchange, Some("zbcom")),
    ("yunbi", RiskCategory::Exchange, Some("yunbi")),
    ("quadrigacx", RiskCategory::Exchange, Some("quadrigacx")),
    ("cobinhood", RiskCategory::Exchange, Some("cobinhood")),
    ("coss-io", RiskCategory::Exchange, Some("coss-io")),
    ("tidex", RiskCategory::Exchange, Some("tidex")),
    ("crex24", RiskCategory::Exchange, Some("crex24")),
    ("maskex", RiskCategory::Exchange, Some("maskex")),
    ("coinmetro", RiskCategory::Exchange, Some("coinmetro")),
    ("hoo-com", RiskCategory::Exchange, Some("hoo")),
    ("bgogo", RiskCategory::Exchange, Some("bgogo")),
    ("allbit", RiskCategory::Exchange, Some("allbit")),
    ("abcc", RiskCategory::Exchange, Some("abcc")),
    ("kryptono", RiskCategory::Exchange, Some("kryptono")),
    ("topbtc", RiskCategory::Exchange, Some("topbtc")),
    ("coinbit", RiskCategory::Exchange, Some("coinbit")),
    ("lcx-ag", RiskCategory::Exchange, Some("lcx-ag")),
    ("gbx", RiskCategory::Exchange, Some("gbx")),
    ("trade-io", RiskCategory::Exchange, Some("trade-io")),
    // Custodial wallets, lenders and payment services.
    ("nexo", RiskCategory::WalletService, Some("nexo")),
    ("celsius-network", RiskCategory::WalletService, Some("celsius")),
    ("blockfi", RiskCategory::WalletService, Some("blockfi")),
    ("wirex", RiskCategory::WalletService, Some("wirex")),
    ("bitpie", RiskCategory::WalletService, Some("bitpie")),
    ("flexa", RiskCategory::WalletService, Some("flexa")),
    ("fiat-gateway", RiskCategory::WalletService, None),
    ("payments", RiskCategory::WalletService, None),
    // Mining pools.
    ("mining", RiskCategory::Miner, None),
    ("miningpoolhub", RiskCategory::Miner, Some("miningpoolhub")),
    ("f2pool", RiskCategory::Miner, Some("f2pool")),
    // DeFi: generic labels, then protocols (DEXes, lending, bridges, rollups).
    ("bridge", RiskCategory::Defi, None),
    ("defi", RiskCategory::Defi, None),
    ("dex", RiskCategory::Defi, None),
    ("layer-2", RiskCategory::Defi, None),
    ("yield-farming", RiskCategory::Defi, None),
    ("staking", RiskCategory::Defi, None),
    ("loans", RiskCategory::Defi, None),
    ("derivatives", RiskCategory::Defi, None),
    ("vaults", RiskCategory::Defi, None),
    ("sushiswap", RiskCategory::Defi, Some("sushiswap")),
    ("balancer", RiskCategory::Defi, Some("balancer")),
    ("bancor", RiskCategory::Defi, Some("bancor")),
    ("curve-fi", RiskCategory::Defi, Some("curve")),
    ("aave", RiskCategory::Defi, Some("aave")),
    ("compound", RiskCategory::Defi, Some("compound")),
    ("synthetix", RiskCategory::Defi, Some("synthetix")),
    ("maker", RiskCategory::Defi, Some("maker")),
    ("yearn-finance", RiskCategory::Defi, Some("yearn-finance")),
    ("lido", RiskCategory::Defi, Some("lido")),
    ("rocket-pool", RiskCategory::Defi, Some("rocketpool")),
    ("1inch", RiskCategory::Defi, Some("1inch")),
    ("kyberswap", RiskCategory::Defi, Some("kyberswap")),
    ("0x-protocol", RiskCategory::Defi, Some("0x")),
    ("0x-protocol-ecosystem", RiskCategory::Defi, Some("0x")),
    ("dydx", RiskCategory::Defi, Some("dydx")),
    ("multichain", RiskCategory::Defi, Some("multichain")),
    ("hop-protocol", RiskCategory::Defi, Some("hop-protocol")),
    ("across-protocol", RiskCategory::Defi, Some("across-protocol")),
    ("wormhole", RiskCategory::Defi, Some("wormhole")),
    ("synapse", RiskCategory::Defi, Some("synapse")),
    ("arbitrum", RiskCategory::Defi, Some("arbitrum")),
    ("arbitrum-one", RiskCategory::Defi, Some("arbitrum")),
    ("arbitrum-nova", RiskCategory::Defi, Some("arbitrum")),
    ("optimism", RiskCategory::Defi, Some("optimism")),
    ("polygon-matic", RiskCategory::Defi, Some("polygon")),
    ("starknet", RiskCategory::Defi, Some("starknet")),
    ("celer-network", RiskCategory::Defi, Some("celer-network")),
    ("connext", RiskCategory::Defi, Some("connext")),
    ("loopring", RiskCategory::Defi, Some("loopring")),
    ("pancakeswap", RiskCategory::Defi, Some("pancakeswap")),
    ("paraswap", RiskCategory::Defi, Some("paraswap")),
    ("cow-protocol", RiskCategory::Defi, Some("cow-protocol")),
    ("idex", RiskCategory::Defi, Some("idex")),
    ("switcheo", RiskCategory::Defi, Some("switcheo")),
    ("airswap", RiskCategory::Defi, Some("airswap")),
    ("tokenlon", RiskCategory::Defi, Some("tokenlon")),
];

/// The category and actor of an Etherscan label, when the table has it.
pub fn etherscan_label(label: &str) -> Option<(RiskCategory, Option<&'static str>)> {
    ETHERSCAN_LABELS.iter().find(|(l, _, _)| *l == label).map(|&(_, c, a)| (c, a))
}

#[derive(Deserialize)]
struct RawLabel {
    name: String,
    labels: Vec<String>,
}

impl TagSet {
    /// Loads an Etherscan `combinedAccountLabels.json` file: one tag per address and category
    /// its labels map to ([`ETHERSCAN_LABELS`]), with the Etherscan name as the tag's label
    /// (the label slugs when the name is empty), the mapping labels in its source, and
    /// confidence [`ETHERSCAN_CONFIDENCE`]. Addresses none of whose labels is in the table
    /// are counted in [`SourceLoad::uncategorized`].
    ///
    /// # Errors
    /// [`TagError::Io`], or [`TagError::Malformed`] naming the file, line and column of a
    /// JSON error or of a key that is not an Ethereum address. Nothing of the file is kept.
    pub fn load_etherscan(&mut self, path: &Path) -> Result<SourceLoad, TagError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| TagError::Io { path: path.to_owned(), source })?;
        let raw: BTreeMap<String, RawLabel> =
            serde_json::from_str(&text).map_err(|e| TagError::Malformed {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                detail: e.to_string(),
            })?;
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let mut load = SourceLoad::new(ETHERSCAN_SOURCE, path);
        let mut staged = Vec::new();
        for (key, entry) in &raw {
            let addr = Address::parse(Chain::Ethereum, key).map_err(|e| {
                let (line, column) = position_of(&text, &format!("\"{key}\""));
                TagError::Malformed {
                    path: path.to_owned(),
                    line,
                    column,
                    detail: format!("key is not an Ethereum address: {e}"),
                }
            })?;
            load.entries += 1;
            // The null address is "blocked" by token issuers (no token may be sent to it), and
            // every ERC-20 mint comes from it: tagging it would flag every mint as risky.
            if key.trim_start_matches("0x").bytes().all(|b| b == b'0') {
                load.uncategorized += 1;
                continue;
            }
            // One tag per category; its actor is the first mapped label's that has one.
            let mut by_cat: BTreeMap<RiskCategory, (Option<&str>, Vec<&str>)> = BTreeMap::new();
            for l in &entry.labels {
                if let Some((c, actor)) = etherscan_label(l) {
                    let slot = by_cat.entry(c).or_default();
                    slot.0 = slot.0.or(actor);
                    slot.1.push(l);
                }
            }
            if by_cat.is_empty() {
                load.uncategorized += 1;
                continue;
            }
            for (category, (actor, labels)) in by_cat {
                let name = entry.name.trim();
                staged.push(Tag {
                    address: addr.to_canonical(),
                    category,
                    label: if name.is_empty() { labels.join(", ") } else { name.to_owned() },
                    source: format!("{ETHERSCAN_SOURCE} ({file}: {})", labels.join(", ")),
                    confidence: Some(ETHERSCAN_CONFIDENCE.to_owned()),
                    actor: actor.map(str::to_owned),
                });
            }
        }
        for t in staged {
            load.count(t.category);
            self.add(t);
        }
        Ok(load)
    }
}

/// The 1-based line and column of the first occurrence of `needle` in `text` ((0, 0) when
/// absent).
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    match text.find(needle) {
        Some(i) => {
            let before = &text[..i];
            let line = before.matches('\n').count() + 1;
            let col = i - before.rfind('\n').map_or(0, |j| j + 1) + 1;
            (line, col)
        }
        None => (0, 0),
    }
}
