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

use super::{Category, SourceLoad, Tag, TagError, TagSet};

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
pub const ETHERSCAN_LABELS: &[(&str, Category, Option<&str>)] = &[
    // Government sanctions.
    ("ofac-sanctions-lists", Category::Sanctioned, None),
    // Token-issuer freezes (USDT, USDC blacklists).
    ("blocked", Category::Blocklisted, None),
    // Mixers.
    ("tornado-cash", Category::Mixer, Some("tornado")),
    ("ethereum-mixer", Category::Mixer, None),
    ("typhoon-cash", Category::Mixer, Some("typhooncash")),
    // Hacks, exploits, phishing (labels of later Etherscan snapshots; none in the 2023 one).
    ("phish-hack", Category::Phishing, None),
    ("exploit", Category::Theft, None),
    ("heist", Category::Theft, None),
    // Frauds flagged by Etherscan or a regulator (Forsage, Centra Tech).
    ("high-risk", Category::Scam, None),
    ("flagged-by-sec", Category::Scam, None),
    // Gambling.
    ("gambling", Category::Gambling, None),
    ("fomo3d", Category::Gambling, Some("fomo3d")),
    ("etheroll", Category::Gambling, Some("etheroll")),
    ("zethr", Category::Gambling, Some("zethr")),
    // Centralised exchanges (the actor is the exchange).
    ("binance", Category::Exchange, Some("binance")),
    ("binance-deposit", Category::Exchange, Some("binance")),
    ("coinbase", Category::Exchange, Some("coinbase")),
    ("huobi", Category::Exchange, Some("huobi")),
    ("okx", Category::Exchange, Some("okex")),
    ("kraken", Category::Exchange, Some("kraken")),
    ("bitfinex", Category::Exchange, Some("bitfinex")),
    ("kucoin", Category::Exchange, Some("kucoin")),
    ("poloniex", Category::Exchange, Some("poloniex")),
    ("bithumb", Category::Exchange, Some("bithumb")),
    ("gemini", Category::Exchange, Some("gemini")),
    ("bitstamp", Category::Exchange, Some("bitstamp")),
    ("crypto-com", Category::Exchange, Some("cryptocom")),
    ("gate-io", Category::Exchange, Some("gate-io")),
    ("ftx", Category::Exchange, Some("ftx")),
    ("bittrex", Category::Exchange, Some("bittrex")),
    ("upbit", Category::Exchange, Some("upbit")),
    ("korbit", Category::Exchange, Some("korbit")),
    ("coinone", Category::Exchange, Some("coinone")),
    ("hitbtc", Category::Exchange, Some("hitbtc")),
    ("bitmart", Category::Exchange, Some("bitmart")),
    ("hotbit", Category::Exchange, Some("hotbit")),
    ("latoken", Category::Exchange, Some("latoken")),
    ("coinsquare", Category::Exchange, Some("coinsquare")),
    ("digifinex", Category::Exchange, Some("digifinex")),
    ("ascendex", Category::Exchange, Some("ascendex")),
    ("liquid", Category::Exchange, Some("liquid")),
    ("bitmex", Category::Exchange, Some("bitmex")),
    ("deribit", Category::Exchange, Some("deribit")),
    ("shapeshift", Category::Exchange, Some("shapeshift")),
    ("changenow", Category::Exchange, Some("changenow")),
    ("remitano", Category::Exchange, Some("remitano")),
    ("paribu", Category::Exchange, Some("paribu")),
    ("coinhako", Category::Exchange, Some("coinhako")),
    ("bitcoin-suisse", Category::Exchange, Some("bitcoinsuisse")),
    ("zb-com", Category::Exchange, Some("zbcom")),
    ("yunbi", Category::Exchange, Some("yunbi")),
    ("quadrigacx", Category::Exchange, Some("quadrigacx")),
    ("cobinhood", Category::Exchange, Some("cobinhood")),
    ("coss-io", Category::Exchange, Some("coss-io")),
    ("tidex", Category::Exchange, Some("tidex")),
    ("crex24", Category::Exchange, Some("crex24")),
    ("maskex", Category::Exchange, Some("maskex")),
    ("coinmetro", Category::Exchange, Some("coinmetro")),
    ("hoo-com", Category::Exchange, Some("hoo")),
    ("bgogo", Category::Exchange, Some("bgogo")),
    ("allbit", Category::Exchange, Some("allbit")),
    ("abcc", Category::Exchange, Some("abcc")),
    ("kryptono", Category::Exchange, Some("kryptono")),
    ("topbtc", Category::Exchange, Some("topbtc")),
    ("coinbit", Category::Exchange, Some("coinbit")),
    ("lcx-ag", Category::Exchange, Some("lcx-ag")),
    ("gbx", Category::Exchange, Some("gbx")),
    ("trade-io", Category::Exchange, Some("trade-io")),
    // Custodial wallets, lenders and payment services.
    ("nexo", Category::WalletService, Some("nexo")),
    ("celsius-network", Category::WalletService, Some("celsius")),
    ("blockfi", Category::WalletService, Some("blockfi")),
    ("wirex", Category::WalletService, Some("wirex")),
    ("bitpie", Category::WalletService, Some("bitpie")),
    ("flexa", Category::WalletService, Some("flexa")),
    ("fiat-gateway", Category::WalletService, None),
    ("payments", Category::WalletService, None),
    // Mining pools.
    ("mining", Category::Miner, None),
    ("miningpoolhub", Category::Miner, Some("miningpoolhub")),
    ("f2pool", Category::Miner, Some("f2pool")),
    // DeFi: generic labels, then protocols (DEXes, lending, bridges, rollups).
    ("bridge", Category::Defi, None),
    ("defi", Category::Defi, None),
    ("dex", Category::Defi, None),
    ("layer-2", Category::Defi, None),
    ("yield-farming", Category::Defi, None),
    ("staking", Category::Defi, None),
    ("loans", Category::Defi, None),
    ("derivatives", Category::Defi, None),
    ("vaults", Category::Defi, None),
    ("sushiswap", Category::Defi, Some("sushiswap")),
    ("balancer", Category::Defi, Some("balancer")),
    ("bancor", Category::Defi, Some("bancor")),
    ("curve-fi", Category::Defi, Some("curve")),
    ("aave", Category::Defi, Some("aave")),
    ("compound", Category::Defi, Some("compound")),
    ("synthetix", Category::Defi, Some("synthetix")),
    ("maker", Category::Defi, Some("maker")),
    ("yearn-finance", Category::Defi, Some("yearn-finance")),
    ("lido", Category::Defi, Some("lido")),
    ("rocket-pool", Category::Defi, Some("rocketpool")),
    ("1inch", Category::Defi, Some("1inch")),
    ("kyberswap", Category::Defi, Some("kyberswap")),
    ("0x-protocol", Category::Defi, Some("0x")),
    ("0x-protocol-ecosystem", Category::Defi, Some("0x")),
    ("dydx", Category::Defi, Some("dydx")),
    ("multichain", Category::Defi, Some("multichain")),
    ("hop-protocol", Category::Defi, Some("hop-protocol")),
    ("across-protocol", Category::Defi, Some("across-protocol")),
    ("wormhole", Category::Defi, Some("wormhole")),
    ("synapse", Category::Defi, Some("synapse")),
    ("arbitrum", Category::Defi, Some("arbitrum")),
    ("arbitrum-one", Category::Defi, Some("arbitrum")),
    ("arbitrum-nova", Category::Defi, Some("arbitrum")),
    ("optimism", Category::Defi, Some("optimism")),
    ("polygon-matic", Category::Defi, Some("polygon")),
    ("starknet", Category::Defi, Some("starknet")),
    ("celer-network", Category::Defi, Some("celer-network")),
    ("connext", Category::Defi, Some("connext")),
    ("loopring", Category::Defi, Some("loopring")),
    ("pancakeswap", Category::Defi, Some("pancakeswap")),
    ("paraswap", Category::Defi, Some("paraswap")),
    ("cow-protocol", Category::Defi, Some("cow-protocol")),
    ("idex", Category::Defi, Some("idex")),
    ("switcheo", Category::Defi, Some("switcheo")),
    ("airswap", Category::Defi, Some("airswap")),
    ("tokenlon", Category::Defi, Some("tokenlon")),
];

/// The category and actor of an Etherscan label, when the table has it.
pub fn etherscan_label(label: &str) -> Option<(Category, Option<&'static str>)> {
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
            let mut by_cat: BTreeMap<Category, (Option<&str>, Vec<&str>)> = BTreeMap::new();
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
