//! A seeded, deterministic synthetic world of crypto transfers with planted typologies and
//! their ground truth (issue 4 item 6).
//!
//! [`World::new`] plans a world from a [`GenConfig`]: how many exchanges, customers, mixers,
//! scams and users there are, and which dense address id (`0..address_count`) plays which
//! role. [`World::for_each_leg`] then plays the world out, block by block, and hands every leg
//! to a callback without allocating per leg: a Bitcoin transaction with n inputs and m outputs
//! gives n [`LegKind::Input`] and m [`LegKind::Output`] legs (as
//! `floodgate_store::export::ExportLeg` does), an Ethereum or Tron USDT transfer one
//! [`LegKind::Transfer`] leg. Bitcoin transaction ids are the real double SHA-256 of the
//! transaction's serialization, so [`write::write_world`] can write blocks that
//! `floodgate ingest bitcoin` reads back with the same txids and addresses. Addresses are
//! rendered only on request ([`World::address_key`]).
//!
//! The world (see `docs/gen.md`): heavy-tailed (log-uniform) payee popularity and amounts;
//! ordinary payments with change to fresh one-time addresses; exchanges whose customers pay
//! into per-customer deposit addresses that are swept (fan-in) to hot wallets, and whose hot
//! wallets pay batched withdrawals (fan-out); a mining pool; custodial mixers; CoinJoins with
//! equal-value outputs; scams whose victims pay collection addresses and whose proceeds are
//! laundered to money-mule customers' exchange deposit addresses through peel chains, mixers,
//! or (on Tron and Ethereum USDT) fan-out to mules and fan-in to one deposit address.
//!
//! **Determinism.** The same configuration gives the same legs, in the same order, and the
//! same files byte for byte, for a given floodgate version. The random stream is the crate's
//! own xoshiro256** (not `rand`, whose streams may change); the world's rules may change
//! between floodgate versions.
//!
//! ```
//! use floodgate_gen::{GenConfig, LegKind, World};
//!
//! let world = World::new(&GenConfig { transfers: 2_000, seed: 7, ..GenConfig::default() });
//! let (mut legs, mut inputs) = (0u64, 0u64);
//! world.for_each_leg(|leg| {
//!     legs += 1;
//!     inputs += u64::from(leg.kind == LegKind::Input);
//! });
//! assert!(legs >= 2_000 && legs < 2_200);
//! assert!(inputs > 0);
//! assert!(world.address_key(0).starts_with('1') || world.address_key(0).starts_with("bc1q"));
//! ```

mod engine;
mod layout;
mod rng;
pub mod write;

use floodgate_types::{Chain, Hash32};
use serde::Serialize;

pub use engine::Sink;
use layout::Layout;
pub use rng::splitmix64;

/// What to generate. Every knob has a default; `transfers` and `seed` are the ones that
/// matter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenConfig {
    /// Number of legs to generate (≈ graph edges). Generation stops after the transaction
    /// that reaches it, so the count may exceed it by one transaction's legs.
    pub transfers: u64,
    /// The seed: same seed, same world.
    pub seed: u64,
    /// Exchanges (each with hot wallets, customers and deposit addresses on every chain);
    /// 1 to 10,000.
    pub exchanges: u32,
    /// Custodial mixers (Bitcoin); 1 to 10,000.
    pub mixers: u32,
    /// Scam operations (pig-butchering clusters); 1 to 10,000.
    pub scams: u32,
    /// Users; 0 means `transfers / 12` (at least 200). At least 10 and the number of
    /// exchanges, at most 200 million.
    pub users: u32,
    /// Exchange customers (users `0..customers`); 0 means a tenth of the users (at least 20).
    /// At least one per exchange, at most the users.
    pub customers: u32,
    /// Unix time of the first block.
    pub start_time: i64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            transfers: 100_000,
            seed: 1,
            exchanges: 4,
            mixers: 2,
            scams: 3,
            users: 0,
            customers: 0,
            // 2025-01-01T00:00:00Z
            start_time: 1_735_689_600,
        }
    }
}

/// What a leg is (the same three kinds as the store's export; one definition, in
/// `floodgate-types`).
pub use floodgate_types::LegKind;

/// One leg. Addresses are dense ids; [`World::address_key`] renders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    /// Kind of leg.
    pub kind: LegKind,
    /// The chain.
    pub chain: Chain,
    /// Global transaction number, counted over all chains from 0.
    pub tx: u64,
    /// Transaction id in display order (as `floodgate_types::Hash32` always is).
    pub txid: Hash32,
    /// Sender; `None` for a Bitcoin output.
    pub from: Option<u32>,
    /// Receiver; `None` for a Bitcoin input.
    pub to: Option<u32>,
    /// Amount in base units (satoshi; USDT micro-units).
    pub amount: u64,
    /// Block time, Unix seconds.
    pub time: i64,
    /// Block height on its chain.
    pub height: u64,
    /// Asset id: `BTC`, `USDT-ERC20` or `USDT-TRC20`.
    pub asset: &'static str,
}

/// The role an address plays in the world's ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An exchange hot wallet: receives sweeps, pays withdrawals.
    HotWallet,
    /// A per-customer exchange deposit address (custodial; swept to a hot wallet).
    Deposit,
    /// A custodial mixer's address.
    Mixer,
    /// A scam's collection address: victims pay it.
    ScamCollection,
    /// An address a scam launders through (peel-chain hop, mule account).
    ScamLaundering,
    /// The mining pool's payout address.
    MiningPool,
}

/// A planted address of an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlantedAddress {
    /// Dense address id.
    pub id: u32,
    /// What it does.
    pub role: Role,
    /// Whether `tags.yaml` tags it (what would be publicly known).
    pub tagged: bool,
}

/// A planted entity: an exchange, a mixer, a scam, the mining pool or an exchange customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    /// Stable id such as `exchange-0`, `mixer-1`, `scam-2`, `customer-17`.
    pub id: String,
    /// Category from `docs/taxonomy.md` (`exchange`, `mixer`, `scam`, `miner`, `user`).
    pub category: &'static str,
    /// Human label.
    pub label: String,
    /// For a customer: the exchange (`exchange-N`) holding the account.
    pub exchange: Option<String>,
    /// For a customer: whether a scam uses the account as a money mule.
    pub mule: bool,
    /// The entity's addresses.
    pub addresses: Vec<PlantedAddress>,
}

/// How a planted flow launders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowKind {
    /// Bitcoin: consolidation, then a chain of peels to a mule's deposit address.
    PeelChain,
    /// Bitcoin: consolidation, a mixer deposit, and a mixer payout to a mule's deposit address.
    Mixer,
    /// USDT: fan-out to mule accounts, then fan-in to one mule's deposit address.
    FanOutFanIn,
}

/// One transaction of a planted flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    /// Transaction id.
    pub txid: Hash32,
    /// The address the value leaves (for a consolidation, its first input).
    pub from: u32,
    /// The address the value reaches.
    pub to: u32,
    /// Amount moved from `from` to `to`, base units.
    pub amount: u64,
}

/// A planted laundering flow: from a scam's collection address to an exchange deposit address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    /// Sequence number, from 0.
    pub id: u64,
    /// How it launders.
    pub kind: FlowKind,
    /// The chain.
    pub chain: Chain,
    /// Asset moved.
    pub asset: &'static str,
    /// Scam index (entity `scam-N`).
    pub scam: u32,
    /// The scam collection address the flow starts at.
    pub source: u32,
    /// The exchange deposit address it ends at.
    pub sink: u32,
    /// The money-mule customer owning `sink`.
    pub customer: u32,
    /// The exchange holding `sink`.
    pub exchange: u32,
    /// Value leaving the source.
    pub amount_in: u64,
    /// Value reaching the sink.
    pub amount_out: u64,
    /// Every transaction of the flow, in order.
    pub hops: Vec<Hop>,
}

/// Which way a ledger entry moves value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerDirection {
    /// Into the customer's account (from the counterparty address, on chain).
    Deposit,
    /// Out of the customer's account (to the counterparty address).
    Withdrawal,
}

/// An exchange's record of a customer deposit or withdrawal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Exchange index.
    pub exchange: u32,
    /// Customer index (`customer-N`).
    pub customer: u32,
    /// Deposit or withdrawal.
    pub direction: LedgerDirection,
    /// Chain.
    pub chain: Chain,
    /// Asset id.
    pub asset: &'static str,
    /// Base units.
    pub amount: u64,
    /// The on-chain other side: the sender of a deposit, the receiver of a withdrawal.
    pub counterparty: u32,
    /// The on-chain transaction.
    pub txid: Hash32,
    /// Unix seconds.
    pub time: i64,
}

/// A planned world: sizes, the address id layout and the planted entities. Cheap to build;
/// the legs are produced on demand by [`World::for_each_leg`] or [`World::generate`].
#[derive(Debug, Clone)]
pub struct World {
    cfg: GenConfig,
    pub(crate) layout: Layout,
}

impl World {
    /// Plans the world for `cfg`.
    pub fn new(cfg: &GenConfig) -> World {
        World { cfg: cfg.clone(), layout: Layout::new(cfg) }
    }

    /// The configuration.
    pub fn config(&self) -> &GenConfig {
        &self.cfg
    }

    /// Size of the address id space. Every leg's address is below it; a few ids (fresh
    /// addresses beyond what the run used, customers who never deposited) may never appear.
    pub fn address_count(&self) -> u32 {
        self.layout.address_count()
    }

    /// The chain address `i` lives on.
    pub fn address_chain(&self, i: u32) -> Chain {
        self.layout.chain_of(i)
    }

    /// Canonical address string (`floodgate_types::Address` canonical form: base58 P2PKH or
    /// bech32 P2WPKH on Bitcoin mainnet, EIP-55 on Ethereum, `T…` on Tron), deterministic
    /// from (seed, i).
    pub fn address_key(&self, i: u32) -> String {
        self.layout.address(i).to_canonical()
    }

    /// The typed address of id `i`.
    pub fn address(&self, i: u32) -> floodgate_types::Address {
        self.layout.address(i)
    }

    /// Number of exchanges.
    pub fn exchanges(&self) -> u32 {
        self.layout.exchanges
    }

    /// Number of exchange customers.
    pub fn customers(&self) -> u32 {
        self.layout.customers
    }

    /// Every leg in block/time order (Bitcoin, Ethereum and Tron blocks interleaved), as
    /// [`World::generate`] produces them; no per-leg heap allocation.
    pub fn for_each_leg(&self, f: impl FnMut(&Leg)) {
        struct Legs<F>(F);
        impl<F: FnMut(&Leg)> Sink for Legs<F> {
            fn leg(&mut self, leg: &Leg) {
                (self.0)(leg)
            }
        }
        self.generate(&mut Legs(f));
    }

    /// Plays the world out into `sink`: blocks, raw Bitcoin transactions, legs, ledger
    /// entries, planted flows and CoinJoins, in order.
    pub fn generate(&self, sink: &mut impl Sink) {
        engine::Engine::new(&self.cfg, &self.layout, sink).run();
    }

    /// The planted entities, in id order: exchanges, mixers, scams, the mining pool, then
    /// every customer. Calls `f` once per entity.
    pub fn for_each_entity(&self, mut f: impl FnMut(&Entity)) {
        engine::entities(&self.layout, &mut f);
    }
}
