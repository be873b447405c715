//! Where each kind of address sits in the dense address id space `0..address_count`, and how
//! an id becomes a real address (a 20-byte payload hashed from the seed and the id).

use floodgate_types::address::{EthAddress, TronAddress};
use floodgate_types::{Address, BtcAddress, BtcNetwork, Chain};

use crate::rng::splitmix64;
use crate::GenConfig;

/// Mixer deposit addresses per mixer (Bitcoin).
pub(crate) const MIXER_ADDRS: u32 = 16;
/// Collection addresses per scam on Bitcoin.
pub(crate) const SCAM_BTC_COLLECT: u32 = 4;
/// Laundering (peel chain) addresses per scam on Bitcoin, reused cyclically.
pub(crate) const SCAM_BTC_LAUNDER: u32 = 64;
/// Collection addresses per scam on an account chain.
pub(crate) const SCAM_ACC_COLLECT: u32 = 2;
/// Mule addresses per scam on an account chain, reused cyclically.
pub(crate) const SCAM_ACC_LAUNDER: u32 = 32;
/// Hot wallet addresses per exchange on Bitcoin.
pub(crate) const HOT_BTC: u32 = 2;

/// Most users a world has (see [`Sizes::of`]).
const MAX_USERS: u64 = 200_000_000;
/// Most exchanges, mixers and scams a world has, each.
const MAX_SERVICES: u32 = 10_000;
/// Most fresh Bitcoin addresses a world has.
const MAX_FRESH: u64 = 1_500_000_000;

/// The id ranges of one account chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccountRanges {
    pub(crate) chain: Chain,
    pub(crate) start: u32,
    pub(crate) hot: u32,
    pub(crate) scam_collect: u32,
    pub(crate) scam_launder: u32,
    pub(crate) deposit: u32,
    pub(crate) user: u32,
    pub(crate) end: u32,
}

/// The whole id space.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) seed: u64,
    pub(crate) exchanges: u32,
    pub(crate) mixers: u32,
    pub(crate) scams: u32,
    pub(crate) customers: u32,
    pub(crate) users: u32,
    // Bitcoin ranges (absolute ids).
    pub(crate) miner: u32,
    pub(crate) btc_hot: u32,
    pub(crate) mixer: u32,
    pub(crate) btc_scam_collect: u32,
    pub(crate) btc_scam_launder: u32,
    pub(crate) btc_deposit: u32,
    pub(crate) btc_user: u32,
    pub(crate) fresh: u32,
    pub(crate) fresh_len: u32,
    pub(crate) eth: AccountRanges,
    pub(crate) tron: AccountRanges,
}

fn account(chain: Chain, start: u32, cfg: &Sizes) -> AccountRanges {
    let hot = start;
    let scam_collect = hot + cfg.exchanges;
    let scam_launder = scam_collect + cfg.scams * SCAM_ACC_COLLECT;
    let deposit = scam_launder + cfg.scams * SCAM_ACC_LAUNDER;
    let user = deposit + cfg.customers;
    AccountRanges {
        chain,
        start,
        hot,
        scam_collect,
        scam_launder,
        deposit,
        user,
        end: user + cfg.users,
    }
}

/// Counts derived from the configuration.
pub(crate) struct Sizes {
    pub(crate) exchanges: u32,
    pub(crate) mixers: u32,
    pub(crate) scams: u32,
    pub(crate) customers: u32,
    pub(crate) users: u32,
    pub(crate) fresh: u32,
}

impl Sizes {
    pub(crate) fn of(cfg: &GenConfig) -> Sizes {
        let n = cfg.transfers.max(1);
        let clamp = |v: u64, lo: u64, hi: u64| v.clamp(lo, hi) as u32;
        let exchanges = cfg.exchanges.clamp(1, MAX_SERVICES);
        // The caps keep every id below 2^32: 3 × (users + customers) + fresh + a few
        // thousand service addresses ≤ 3 × 220 M + 1.5 G. Beyond ~6 billion legs the
        // counts stop growing (and addresses are reused more).
        let users = if cfg.users > 0 { cfg.users } else { clamp(n / 12, 200, MAX_USERS) };
        // Every exchange needs a customer, and customers are users.
        let users = users.clamp(exchanges.max(10), MAX_USERS as u32);
        let customers = if cfg.customers > 0 {
            cfg.customers
        } else {
            clamp(u64::from(users) / 10, 20, u64::from(users))
        };
        let customers = customers.clamp(exchanges, users);
        Sizes {
            exchanges,
            mixers: cfg.mixers.clamp(1, MAX_SERVICES),
            scams: cfg.scams.clamp(1, MAX_SERVICES),
            customers,
            users,
            // About one leg in four pays a fresh (one-time) Bitcoin address; the range is
            // reused cyclically when a run draws more.
            fresh: clamp(n / 4, 1_000, MAX_FRESH),
        }
    }
}

impl Layout {
    pub(crate) fn new(cfg: &GenConfig) -> Layout {
        let s = Sizes::of(cfg);
        let miner = 0;
        let btc_hot = miner + 1;
        let mixer = btc_hot + s.exchanges * HOT_BTC;
        let btc_scam_collect = mixer + s.mixers * MIXER_ADDRS;
        let btc_scam_launder = btc_scam_collect + s.scams * SCAM_BTC_COLLECT;
        let btc_deposit = btc_scam_launder + s.scams * SCAM_BTC_LAUNDER;
        let btc_user = btc_deposit + s.customers;
        let fresh = btc_user + s.users;
        let eth = account(Chain::Ethereum, fresh + s.fresh, &s);
        let tron = account(Chain::Tron, eth.end, &s);
        Layout {
            seed: cfg.seed,
            exchanges: s.exchanges,
            mixers: s.mixers,
            scams: s.scams,
            customers: s.customers,
            users: s.users,
            miner,
            btc_hot,
            mixer,
            btc_scam_collect,
            btc_scam_launder,
            btc_deposit,
            btc_user,
            fresh,
            fresh_len: s.fresh,
            eth,
            tron,
        }
    }

    pub(crate) fn address_count(&self) -> u32 {
        self.tron.end
    }

    pub(crate) fn chain_of(&self, i: u32) -> Chain {
        if i < self.eth.start {
            Chain::Bitcoin
        } else if i < self.tron.start {
            Chain::Ethereum
        } else {
            Chain::Tron
        }
    }

    /// The 20-byte payload of address `i`: key hash, account, or witness program.
    pub(crate) fn payload(&self, i: u32) -> [u8; 20] {
        let mut st = self.seed ^ (u64::from(i).wrapping_mul(0xd134_2543_de82_ef95));
        let a = splitmix64(&mut st).to_le_bytes();
        let b = splitmix64(&mut st).to_le_bytes();
        let c = splitmix64(&mut st).to_le_bytes();
        let mut out = [0u8; 20];
        out[..8].copy_from_slice(&a);
        out[8..16].copy_from_slice(&b);
        out[16..].copy_from_slice(&c[..4]);
        out
    }

    /// Writes the Bitcoin output script of address `i` into `out` (cleared first): P2PKH for
    /// about 40% of addresses, P2WPKH for the rest, told by the payload.
    pub(crate) fn btc_script(&self, i: u32, out: &mut Vec<u8>) {
        let p = self.payload(i);
        out.clear();
        if p[19] < 102 {
            out.extend_from_slice(&[0x76, 0xa9, 0x14]);
            out.extend_from_slice(&p);
            out.extend_from_slice(&[0x88, 0xac]);
        } else {
            out.extend_from_slice(&[0x00, 0x14]);
            out.extend_from_slice(&p);
        }
    }

    pub(crate) fn address(&self, i: u32) -> Address {
        match self.chain_of(i) {
            Chain::Bitcoin => {
                let mut script = Vec::with_capacity(25);
                self.btc_script(i, &mut script);
                Address::Bitcoin(BtcAddress::from_script(&script, BtcNetwork::Mainnet).address)
            }
            Chain::Ethereum => Address::Ethereum(EthAddress(self.payload(i))),
            Chain::Tron => Address::Tron(TronAddress(self.payload(i))),
        }
    }
}
