//! Writes a [`World`] as files `floodgate ingest` reads unchanged, plus the ground truth.
//!
//! | path | content |
//! |---|---|
//! | `bitcoin/blk00000.dat`, … | `blk*.dat` framing of serialized blocks of the `floodgate-gen` network (magic `fgn1`, proof of work valid at regtest's limit; a new file every 128 MiB) |
//! | `ethereum/usdt-00000.jsonl`, … | ethereum-etl `log` rows: USDT-ERC20 `Transfer` events |
//! | `tron/usdt-00000.jsonl`, … | GraphSense Tron log rows: USDT-TRC20 `Transfer` events |
//! | `ledger/exchange-N.csv` | each exchange's customer ledger (`docs/formats/ledger.md`) |
//! | `truth/entities.jsonl` | planted entities and their addresses (only addresses that occur) |
//! | `truth/flows.jsonl` | planted laundering flows, hop by hop |
//! | `truth/coinjoins.jsonl` | CoinJoin transactions |
//! | `truth/summary.json` | configuration and counts |
//! | `tags.yaml` | GraphSense TagPack of what is publicly known |
//! | `README.txt` | the commands to ingest, build the graph and trace a planted flow |
//!
//! Everything is streamed: memory grows with the number of addresses, not of legs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use floodgate_types::{Chain, Hash32, Timestamp};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{Entity, Flow, FlowKind, LedgerDirection, LedgerEntry, Leg, Role, Sink, World};

/// Why the world could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenError {
    /// The output directory holds files and overwriting was not asked for.
    #[error("{}: the output directory is not empty (pass --force to write into it anyway)", path.display())]
    NotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A file could not be created or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Counts over one written world.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GenSummary {
    /// Seed used.
    pub seed: u64,
    /// Legs asked for.
    pub transfers_requested: u64,
    /// Legs generated (all chains).
    pub legs: u64,
    /// Bitcoin legs (inputs and outputs).
    pub bitcoin_legs: u64,
    /// Ethereum USDT transfers.
    pub ethereum_transfers: u64,
    /// Tron USDT transfers.
    pub tron_transfers: u64,
    /// Bitcoin blocks.
    pub bitcoin_blocks: u64,
    /// Bitcoin transactions.
    pub bitcoin_transactions: u64,
    /// Size of the address id space.
    pub address_space: u32,
    /// Distinct addresses that occur in the data.
    pub addresses_used: u64,
    /// Planted laundering flows.
    pub flows: u64,
    /// CoinJoin transactions.
    pub coinjoins: u64,
    /// Ledger entries over all exchanges.
    pub ledger_entries: u64,
    /// Entities in `truth/entities.jsonl`.
    pub entities: u64,
    /// Tags in `tags.yaml`.
    pub tags: u64,
}

/// How to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOptions {
    /// Write into a non-empty directory. Data files a previous run left there (`blk*.dat`,
    /// `usdt-*.jsonl`, `exchange-*.csv` in their subdirectories) are removed first, so a
    /// smaller world does not inherit a bigger one's tail; other files are left alone.
    pub force: bool,
    /// Start a new data file (`blk00001.dat`, `usdt-00001.jsonl`) once one reaches this many
    /// bytes, between blocks (and not before Bitcoin height 17). Default 128 MiB, like Bitcoin Core's block files; the account-chain readers
    /// read a file whole.
    pub split_bytes: u64,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions { force: false, split_bytes: 128 << 20 }
    }
}
/// The `floodgate-gen` network's block-file magic ("fgn1"): generated blocks are not mainnet
/// blocks, and a data directory bound to mainnet refuses them (docs/gen.md).
const GEN_MAGIC: [u8; 4] = *b"fgn1";
/// The `floodgate-gen` network's `nBits`: regtest's proof-of-work limit, so a valid nonce is
/// found in about two tries.
const GEN_BITS: u32 = 0x207f_ffff;
const USDT_ERC20: &str = "0xdac17f958d2ee523a2206206994597c13d831ec7";
const USDT_TRC20: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
const TRANSFER_TOPIC: &str = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef";

/// A file split into numbered parts.
struct Parts {
    split: u64,
    dir: PathBuf,
    prefix: &'static str,
    ext: &'static str,
    index: u32,
    written: u64,
    out: Option<BufWriter<File>>,
}

impl Parts {
    fn new(dir: PathBuf, prefix: &'static str, ext: &'static str, split: u64) -> Parts {
        Parts { split, dir, prefix, ext, index: 0, written: 0, out: None }
    }
    fn path(&self) -> PathBuf {
        self.dir.join(format!("{}{:05}.{}", self.prefix, self.index, self.ext))
    }
    /// Writes `bytes` whole into the current part, starting a new part first when the
    /// current one is full and `may_split`.
    fn write(&mut self, bytes: &[u8], may_split: bool) -> Result<(), GenError> {
        if may_split && self.out.is_some() && self.written + bytes.len() as u64 > self.split {
            self.finish()?;
            self.index += 1;
        }
        if self.out.is_none() {
            self.out = Some(BufWriter::with_capacity(1 << 20, create(&self.path())?));
            self.written = 0;
        }
        let path = self.path();
        if let Some(w) = self.out.as_mut() {
            w.write_all(bytes).map_err(|source| GenError::Io { path, source })?;
        }
        self.written += bytes.len() as u64;
        Ok(())
    }
    fn finish(&mut self) -> Result<(), GenError> {
        let path = self.path();
        if let Some(mut w) = self.out.take() {
            w.flush().map_err(|source| GenError::Io { path, source })?;
        }
        Ok(())
    }
}

fn create(path: &Path) -> Result<File, GenError> {
    File::create(path).map_err(|source| GenError::Io { path: path.to_owned(), source })
}

fn sha256d(b: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(b)).into()
}

/// A Unix time as RFC 3339 UTC ([`Timestamp::rfc3339_bytes`], without chrono on this path).
fn rfc3339(t: i64) -> String {
    let t = Timestamp(t);
    t.rfc3339_bytes()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_else(|| t.to_rfc3339())
}

struct Writer<'w, P: FnMut(u64)> {
    world: &'w World,
    root: PathBuf,
    err: Option<GenError>,
    summary: GenSummary,
    seen: Vec<u64>,
    progress: P,
    // Bitcoin
    blk: Parts,
    block_txs: Vec<u8>,
    block_txids: Vec<[u8; 32]>,
    prev_block: [u8; 32],
    block_height: u64,
    block_time: i64,
    // Account chains: [ethereum, tron]
    acc: [Parts; 2],
    acc_block: [(u64, i64, u32); 2],
    acc_hash: [Hash32; 2],
    line: String,
    ledgers: Vec<BufWriter<File>>,
    ledger_rows: Vec<u64>,
    flows: BufWriter<File>,
    coinjoins: BufWriter<File>,
    first_flow: Option<Flow>,
}

impl<P: FnMut(u64)> Writer<'_, P> {
    fn keep(&mut self, r: Result<(), GenError>) {
        if let (Err(e), None) = (r, &self.err) {
            self.err = Some(e);
        }
    }
    fn io(&mut self, path: &str, r: std::io::Result<()>) {
        let path = self.root.join(path);
        self.keep(r.map_err(|source| GenError::Io { path, source }));
    }
    fn mark(&mut self, a: u32) {
        self.seen[(a / 64) as usize] |= 1 << (a % 64);
    }
    fn key(&self, a: u32) -> String {
        self.world.address_key(a)
    }
    fn account_row(&mut self, leg: &Leg) {
        use std::fmt::Write as _;
        let (Some(from), Some(to)) = (leg.from, leg.to) else { return };
        let a = usize::from(leg.chain == Chain::Tron);
        let (height, time, idx) = self.acc_block[a];
        self.acc_block[a].2 += 1;
        let (from, to) = (self.world.layout.payload(from), self.world.layout.payload(to));
        let (txid, hash) = (leg.txid.to_hex(), self.acc_hash[a].to_hex());
        let pad = "0x000000000000000000000000";
        self.line.clear();
        // Formatted by hand (every value is a number or hex: nothing to escape); serde_json's
        // `Value` costs several allocations per row.
        let _ = if a == 0 {
            writeln!(
                self.line,
                r#"{{"type":"log","log_index":{idx},"transaction_hash":"0x{txid}","transaction_index":{idx},"address":"{USDT_ERC20}","data":"0x{amount:064x}","topics":["{TRANSFER_TOPIC}","{pad}{f}","{pad}{t}"],"block_number":{height},"block_hash":"0x{hash}","block_timestamp":{time}}}"#,
                amount = leg.amount,
                f = hex::encode(from),
                t = hex::encode(to),
            )
        } else {
            // GraphSense's Tron log table names.
            writeln!(
                self.line,
                r#"{{"block_id":{height},"tx_hash":"{txid}","log_index":{idx},"address":"{USDT_TRC20}","topics":["{TRANSFER_TOPIC}","{pad}{f}","{pad}{t}"],"data":"0x{amount:064x}","block_hash":"{hash}","block_timestamp":{time}}}"#,
                amount = leg.amount,
                f = hex::encode(from),
                t = hex::encode(to),
            )
        };
        let line = std::mem::take(&mut self.line);
        // Split only between blocks: a reader groups a block's rows within one file.
        let r = self.acc[a].write(line.as_bytes(), idx == 0);
        self.line = line;
        self.keep(r);
    }
}

/// A stand-in block hash for account chains (their readers take it as given).
fn account_block_hash(seed: u64, chain: Chain, height: u64) -> Hash32 {
    let mut h = Sha256::new();
    h.update(b"floodgate-gen block");
    h.update(seed.to_le_bytes());
    h.update(chain.as_str().as_bytes());
    h.update(height.to_le_bytes());
    let mut hash: [u8; 32] = h.finalize().into();
    if chain == Chain::Tron {
        // A Tron block id begins with its height (java-tron `BlockId`); readers check it. The
        // next four bytes, the network's magic, mark the block as generated, so that it binds
        // `floodgate-gen` (`floodgate_ingest::tron::network::GEN_MARK`).
        hash[..8].copy_from_slice(&height.to_be_bytes());
        hash[8..12].copy_from_slice(&GEN_MAGIC);
    }
    Hash32(hash)
}

/// Finds the first nonce (counting from 0, so the same header always gets the same one) whose
/// header hash meets [`GEN_BITS`]'s target, writes it into the 80-byte header and returns the
/// hash (wire order).
fn grind(header: &mut [u8]) -> [u8; 32] {
    let mut nonce = 0u32;
    loop {
        header[76..80].copy_from_slice(&nonce.to_le_bytes());
        let hash = sha256d(header);
        // The hash is a little-endian 256-bit number; the target of 0x207fffff is
        // 0x7fffff << 232, so the top three bytes below 0x7fffff always meet it.
        if u32::from_be_bytes([0, hash[31], hash[30], hash[29]]) < 0x007f_ffff {
            return hash;
        }
        nonce = nonce.wrapping_add(1);
    }
}

fn merkle_root(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    if level.is_empty() {
        return [0; 32];
    }
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            if let Some(&last) = level.last() {
                level.push(last);
            }
        }
        level = level
            .chunks(2)
            .map(|p| {
                let mut b = [0u8; 64];
                b[..32].copy_from_slice(&p[0]);
                b[32..].copy_from_slice(&p[1]);
                sha256d(&b)
            })
            .collect();
    }
    level[0]
}

impl<P: FnMut(u64)> Sink for Writer<'_, P> {
    fn leg(&mut self, leg: &Leg) {
        self.summary.legs += 1;
        for a in [leg.from, leg.to].into_iter().flatten() {
            self.mark(a);
        }
        match leg.chain {
            Chain::Bitcoin => self.summary.bitcoin_legs += 1,
            Chain::Ethereum => {
                self.summary.ethereum_transfers += 1;
                self.account_row(leg);
            }
            Chain::Tron => {
                self.summary.tron_transfers += 1;
                self.account_row(leg);
            }
        }
    }

    fn block_start(&mut self, chain: Chain, height: u64, time: i64) {
        match chain {
            Chain::Bitcoin => {
                self.block_height = height;
                self.block_time = time;
                self.block_txs.clear();
                self.block_txids.clear();
            }
            Chain::Ethereum | Chain::Tron => {
                let a = usize::from(chain == Chain::Tron);
                self.acc_block[a] = (height, time, 0);
                self.acc_hash[a] = account_block_hash(self.world.config().seed, chain, height);
            }
        }
    }

    fn btc_tx(&mut self, raw: &[u8], txid: &Hash32) {
        let mut wire = txid.0;
        wire.reverse();
        self.block_txids.push(wire);
        self.block_txs.extend_from_slice(raw);
        self.summary.bitcoin_transactions += 1;
    }

    fn block_end(&mut self, chain: Chain) {
        if chain == Chain::Bitcoin {
            let mut header = Vec::with_capacity(80);
            header.extend_from_slice(&0x2000_0000u32.to_le_bytes());
            header.extend_from_slice(&self.prev_block);
            header.extend_from_slice(&merkle_root(self.block_txids.clone()));
            header.extend_from_slice(&(self.block_time as u32).to_le_bytes());
            header.extend_from_slice(&GEN_BITS.to_le_bytes());
            header.extend_from_slice(&0u32.to_le_bytes());
            self.prev_block = grind(&mut header);
            let mut count = Vec::with_capacity(9);
            crate::engine::varint_pub(&mut count, self.block_txids.len() as u64);
            let len = (header.len() + count.len() + self.block_txs.len()) as u32;
            let mut frame = Vec::with_capacity(len as usize + 8);
            frame.extend_from_slice(&GEN_MAGIC);
            frame.extend_from_slice(&len.to_le_bytes());
            frame.extend_from_slice(&header);
            frame.extend_from_slice(&count);
            frame.extend_from_slice(&self.block_txs);
            // A file must not start at a height whose BIP34 push the reader cannot decode
            // (1–16 are opcodes): it tells a block's height from its parent or from BIP34.
            let r = self.blk.write(&frame, self.block_height > 16);
            self.keep(r);
            self.summary.bitcoin_blocks += 1;
        }
        let legs = self.summary.legs;
        (self.progress)(legs);
    }

    fn ledger(&mut self, e: &LedgerEntry) {
        let n = self.ledger_rows[e.exchange as usize];
        self.ledger_rows[e.exchange as usize] += 1;
        self.summary.ledger_entries += 1;
        let line = format!(
            "x{}-{:08},{},c{},{},{},{},{},{},{}\n",
            e.exchange,
            n,
            rfc3339(e.time),
            e.customer,
            match e.direction {
                LedgerDirection::Deposit => "deposit",
                LedgerDirection::Withdrawal => "withdrawal",
            },
            e.asset,
            e.amount,
            e.chain.as_str(),
            self.key(e.counterparty),
            e.txid.to_hex(),
        );
        let r = self.ledgers[e.exchange as usize].write_all(line.as_bytes());
        self.io("ledger", r);
    }

    fn flow(&mut self, f: &Flow) {
        self.summary.flows += 1;
        let hops: Vec<_> = f
            .hops
            .iter()
            .map(|h| {
                json!({"txid": h.txid.to_hex(), "from": self.key(h.from), "to": self.key(h.to), "amount": h.amount})
            })
            .collect();
        let v = json!({
            "id": f.id,
            "kind": f.kind,
            "chain": f.chain.as_str(),
            "asset": f.asset,
            "scam": format!("scam-{}", f.scam),
            "source": self.key(f.source),
            "sink": self.key(f.sink),
            "customer": format!("customer-{}", f.customer),
            "exchange": format!("exchange-{}", f.exchange),
            "amount_in": f.amount_in,
            "amount_out": f.amount_out,
            "hops": hops,
        });
        let r = writeln!(self.flows, "{v}");
        self.io("truth/flows.jsonl", r);
        let publicly_known = f.scam + 1 < self.world.layout.scams || self.world.layout.scams == 1;
        if self.first_flow.is_none() && f.kind == FlowKind::PeelChain && publicly_known {
            self.first_flow = Some(f.clone());
        }
    }

    fn coinjoin(&mut self, txid: &Hash32, participants: u32, denomination: u64) {
        self.summary.coinjoins += 1;
        let v = json!({"txid": txid.to_hex(), "participants": participants, "denomination": denomination});
        let r = writeln!(self.coinjoins, "{v}");
        self.io("truth/coinjoins.jsonl", r);
    }
}

fn mkdir(p: &Path) -> Result<(), GenError> {
    std::fs::create_dir_all(p).map_err(|source| GenError::Io { path: p.to_owned(), source })
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::HotWallet => "hot_wallet",
        Role::Deposit => "deposit",
        Role::Mixer => "mixer",
        Role::ScamCollection => "scam_collection",
        Role::ScamLaundering => "scam_laundering",
        Role::MiningPool => "mining_pool",
    }
}

fn currency(c: Chain) -> &'static str {
    match c {
        Chain::Bitcoin => "BTC",
        Chain::Ethereum => "ETH",
        Chain::Tron => "TRX",
    }
}

/// Removes data files of an earlier run from `dir`'s data subdirectories.
fn remove_stale(dir: &Path) -> Result<(), GenError> {
    let ours = |sub: &str, name: &str| match sub {
        "bitcoin" => name.starts_with("blk") && name.ends_with(".dat"),
        "ledger" => name.starts_with("exchange-") && name.ends_with(".csv"),
        _ => name.starts_with("usdt-") && name.ends_with(".jsonl"),
    };
    for sub in ["bitcoin", "ethereum", "tron", "ledger"] {
        let d = dir.join(sub);
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let e = e.map_err(|source| GenError::Io { path: d.clone(), source })?;
            let name = e.file_name().to_string_lossy().into_owned();
            if ours(sub, &name) {
                let p = e.path();
                std::fs::remove_file(&p).map_err(|source| GenError::Io { path: p, source })?;
            }
        }
    }
    Ok(())
}

/// Writes `world` into `dir` (created if missing). `progress` is called after every block
/// with the number of legs written so far.
///
/// # Errors
/// [`GenError::NotEmpty`] when `dir` has entries and `opts.force` is false (nothing is
/// written); [`GenError::Io`] naming the file that could not be written.
pub fn write_world(
    world: &World,
    dir: &Path,
    opts: &WriteOptions,
    progress: impl FnMut(u64),
) -> Result<GenSummary, GenError> {
    if opts.force {
        remove_stale(dir)?;
    } else if let Ok(mut entries) = std::fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(GenError::NotEmpty { path: dir.to_owned() });
        }
    }
    for sub in ["bitcoin", "ethereum", "tron", "ledger", "truth"] {
        mkdir(&dir.join(sub))?;
    }
    let cfg = world.config();
    let mut ledgers = Vec::new();
    for e in 0..world.exchanges() {
        let path = dir.join("ledger").join(format!("exchange-{e}.csv"));
        let mut w = BufWriter::new(create(&path)?);
        w.write_all(b"id,time,customer_id,direction,asset,amount_base_units,chain,counterparty_address,txid\n")
            .map_err(|source| GenError::Io { path, source })?;
        ledgers.push(w);
    }
    let mut wr = Writer {
        world,
        root: dir.to_owned(),
        err: None,
        summary: GenSummary {
            seed: cfg.seed,
            transfers_requested: cfg.transfers,
            address_space: world.address_count(),
            ..GenSummary::default()
        },
        seen: vec![0; world.address_count() as usize / 64 + 1],
        progress,
        blk: Parts::new(dir.join("bitcoin"), "blk", "dat", opts.split_bytes),
        block_txs: Vec::new(),
        block_txids: Vec::new(),
        prev_block: [0; 32],
        block_height: 0,
        block_time: 0,
        acc: [
            Parts::new(dir.join("ethereum"), "usdt-", "jsonl", opts.split_bytes),
            Parts::new(dir.join("tron"), "usdt-", "jsonl", opts.split_bytes),
        ],
        acc_block: [(0, 0, 0); 2],
        acc_hash: [Hash32([0; 32]); 2],
        line: String::new(),
        ledger_rows: vec![0; world.exchanges() as usize],
        ledgers,
        flows: BufWriter::new(create(&dir.join("truth/flows.jsonl"))?),
        coinjoins: BufWriter::new(create(&dir.join("truth/coinjoins.jsonl"))?),
        first_flow: None,
    };
    world.generate(&mut wr);
    if let Some(e) = wr.err.take() {
        return Err(e);
    }
    wr.blk.finish()?;
    for p in &mut wr.acc {
        p.finish()?;
    }
    let flush = |w: &mut BufWriter<File>, path: PathBuf| {
        w.flush().map_err(|source| GenError::Io { path, source })
    };
    for (e, w) in wr.ledgers.iter_mut().enumerate() {
        flush(w, dir.join("ledger").join(format!("exchange-{e}.csv")))?;
    }
    flush(&mut wr.flows, dir.join("truth/flows.jsonl"))?;
    flush(&mut wr.coinjoins, dir.join("truth/coinjoins.jsonl"))?;
    let seen = &wr.seen;
    let is_seen = |a: u32| seen[(a / 64) as usize] & (1 << (a % 64)) != 0;
    wr.summary.addresses_used = seen.iter().map(|w| u64::from(w.count_ones())).sum();

    // Entities and tags, restricted to addresses that occur in the data.
    let path = dir.join("truth/entities.jsonl");
    let mut ents = BufWriter::new(create(&path)?);
    let mut tags = String::new();
    tags.push_str(&format!(
        "# What would be publicly known about the synthetic world of `floodgate gen --seed {} \
         --transfers {}`:\n# exchange hot wallets, mixers, and the collection addresses of the \
         scams that have been reported.\ntitle: floodgate gen seed {}\ncreator: floodgate gen\n\
         source: floodgate-gen\nis_public: true\ntags:\n",
        cfg.seed, cfg.transfers, cfg.seed
    ));
    let mut result = Ok(());
    let mut n_ent = 0u64;
    let mut n_tags = 0u64;
    world.for_each_entity(|e: &Entity| {
        if result.is_err() {
            return;
        }
        let addrs: Vec<_> = e.addresses.iter().filter(|a| is_seen(a.id)).collect();
        if e.category == "user" && addrs.is_empty() {
            return;
        }
        let list: Vec<_> = addrs
            .iter()
            .map(|a| {
                json!({"address": world.address_key(a.id), "chain": world.address_chain(a.id).as_str(), "role": role_str(a.role), "tagged": a.tagged})
            })
            .collect();
        let mut v = json!({"id": e.id, "category": e.category, "label": e.label, "addresses": list});
        if let Some(x) = &e.exchange {
            v["exchange"] = json!(x);
            v["mule"] = json!(e.mule);
        }
        n_ent += 1;
        result = writeln!(ents, "{v}");
        for a in addrs.iter().filter(|a| a.tagged) {
            n_tags += 1;
            let class = match e.category {
                "scam" => "    abuse: scam\n".to_owned(),
                "mixer" => "    category: mixing_service\n".to_owned(),
                c => format!("    category: {c}\n"),
            };
            tags.push_str(&format!(
                "  - address: {}\n    currency: {}\n    label: {} {}\n{class}",
                world.address_key(a.id),
                currency(world.address_chain(a.id)),
                e.label,
                role_str(a.role).replace('_', " "),
            ));
        }
    });
    result.map_err(|source| GenError::Io { path: path.clone(), source })?;
    flush(&mut ents, path)?;
    wr.summary.entities = n_ent;
    wr.summary.tags = n_tags;
    let tags_path = dir.join("tags.yaml");
    std::fs::write(&tags_path, tags).map_err(|source| GenError::Io { path: tags_path, source })?;

    let summary_path = dir.join("truth/summary.json");
    let text = serde_json::to_string_pretty(&wr.summary).unwrap_or_default() + "\n";
    std::fs::write(&summary_path, text)
        .map_err(|source| GenError::Io { path: summary_path, source })?;

    let readme = readme(world, wr.first_flow.as_ref());
    let readme_path = dir.join("README.txt");
    std::fs::write(&readme_path, readme)
        .map_err(|source| GenError::Io { path: readme_path, source })?;
    Ok(wr.summary)
}

fn readme(world: &World, flow: Option<&Flow>) -> String {
    let cfg = world.config();
    let mut s = format!(
        "A synthetic world written by `floodgate gen --transfers {} --seed {}`.\n\
         Same command, same floodgate version: byte-identical files. See docs/gen.md.\n\n\
         Ingest it, build the graph (run from this directory; add --data-dir DIR to keep the\n\
         store elsewhere):\n\n\
         floodgate ingest bitcoin bitcoin/\n\
         for f in ethereum/*.jsonl; do floodgate ingest ethereum \"$f\"; done\n\
         floodgate ingest tron tron/\n\
         for f in ledger/*.csv; do floodgate ingest ledger \"$f\" --ledger \"$(basename \"$f\" .csv)\"; done\n\
         floodgate trace build\n\n",
        cfg.transfers, cfg.seed
    );
    if let Some(f) = flow {
        let hops = 2 * f.hops.len() + 2;
        s.push_str(&format!(
            "Planted flow {} (truth/flows.jsonl): scam-{} launders {} satoshi from\n  {}\n\
             through a peel chain of {} transactions to\n  {}\n\
             the deposit address of money mule customer-{} at exchange-{}. Its exposure shows\n\
             the scam; the path shows every txid:\n\n\
             floodgate trace exposure {} --hops {hops} --tagpack tags.yaml\n\
             floodgate trace path {} {} --max-hops {hops}\n",
            f.id,
            f.scam,
            f.amount_in,
            world.address_key(f.source),
            f.hops.len(),
            world.address_key(f.sink),
            f.customer,
            f.exchange,
            world.address_key(f.sink),
            world.address_key(f.source),
            world.address_key(f.sink),
        ));
    }
    s.push_str(
        "\nMonitor an exchange's customers (KYT) on its ledger:\n\n\
         floodgate monitor --from-store --ledger exchange-0 --format table\n",
    );
    s.push_str(
        "\nFiles: bitcoin/ blk*.dat blocks of the floodgate-gen network (a data directory holds\n\
         one network: keep them apart from mainnet); ethereum/ and tron/ USDT Transfer log rows;\n\
         ledger/ one customer ledger per exchange; truth/ the ground truth (entities, flows,\n\
         coinjoins, summary); tags.yaml a GraphSense TagPack of what is publicly known.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_825_599), "2000-02-29T11:59:59Z");
    }

    #[test]
    fn merkle_root_of_one_is_the_txid_and_odd_levels_repeat_the_last() {
        let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
        assert_eq!(merkle_root(vec![a]), a);
        let pair = |x: [u8; 32], y: [u8; 32]| {
            let mut v = x.to_vec();
            v.extend_from_slice(&y);
            sha256d(&v)
        };
        assert_eq!(merkle_root(vec![a, b, c]), pair(pair(a, b), pair(c, c)));
    }
}
