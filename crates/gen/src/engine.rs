//! Plays a [`Layout`] out into blocks of transactions.

use floodgate_types::{Chain, Hash32};
use sha2::{Digest, Sha256};

use crate::layout::{
    AccountRanges, Layout, HOT_BTC, MIXER_ADDRS, SCAM_ACC_COLLECT, SCAM_ACC_LAUNDER,
    SCAM_BTC_COLLECT, SCAM_BTC_LAUNDER,
};
use crate::rng::{splitmix64, Rng};
use crate::{
    Entity, Flow, FlowKind, GenConfig, Hop, LedgerDirection, LedgerEntry, Leg, LegKind,
    PlantedAddress, Role,
};

/// Receives what [`crate::World::generate`] produces. Only [`Sink::leg`] is required.
pub trait Sink {
    /// Every leg, in order.
    fn leg(&mut self, leg: &Leg);
    /// A block of `chain` begins; its legs follow.
    fn block_start(&mut self, _chain: Chain, _height: u64, _time: i64) {}
    /// The raw (legacy, witness-free) serialization of the next Bitcoin transaction of the
    /// current block, before its legs; the first of a block is its coinbase.
    fn btc_tx(&mut self, _raw: &[u8], _txid: &Hash32) {}
    /// The current block of `chain` is complete.
    fn block_end(&mut self, _chain: Chain) {}
    /// An exchange ledger entry, right after the legs of its transaction.
    fn ledger(&mut self, _entry: &LedgerEntry) {}
    /// A planted flow, once its last transaction has been produced.
    fn flow(&mut self, _flow: &Flow) {}
    /// A CoinJoin transaction with `participants` equal-value outputs.
    fn coinjoin(&mut self, _txid: &Hash32, _participants: u32, _denomination: u64) {}
    /// An exchange batch withdrawal that pays `payees` customers one same `amount` among
    /// others, funded from several deposit addresses: one spender's transaction that has
    /// the equal outputs and the many input addresses of a CoinJoin (a hard negative for
    /// CoinJoin detection).
    fn equal_withdrawals(&mut self, _txid: &Hash32, _payees: u32, _amount: u64) {}
}

/// Block subsidy paid to the mining pool (3.125 BTC).
const SUBSIDY: u64 = 312_500_000;
/// Outputs below this are not created (Bitcoin Core's dust limit for P2PKH).
const DUST: u64 = 546;
/// One USDT in base units.
const USDT: u64 = 1_000_000;
/// A wallet id that no wallet has: the output is tracked by the caller (a laundering hop).
const NONE: u32 = u32::MAX;
/// A user wallet with this many coins spends them all in its next transaction.
const HEAVY_COINS: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Coin {
    txid: [u8; 32],
    vout: u32,
    addr: u32,
    value: u64,
}

#[derive(Debug, Clone, Copy)]
struct Out {
    addr: u32,
    value: u64,
    wallet: u32,
}

/// A laundering episode in progress: one transaction per block.
#[derive(Debug)]
struct Episode {
    flow: Flow,
    step: u32,
    steps: u32,
    /// Bitcoin: the coin the next step spends.
    coin: Option<Coin>,
    /// Account chains: the mule accounts and amounts of the fan-out.
    mules: Vec<(u32, u64)>,
    mixer: u32,
}

struct AccountState {
    r: AccountRanges,
    asset: &'static str,
    height: u64,
    balance: Vec<u64>,
    /// Per scam collection address.
    scam_balance: Vec<u64>,
    /// Per exchange: deposits not yet swept (customer, amount).
    pending: Vec<Vec<(u32, u64)>>,
    mule_next: Vec<u32>,
    episodes: Vec<Episode>,
}

pub(crate) struct Engine<'a, S: Sink> {
    lay: &'a Layout,
    sink: &'a mut S,
    rng: Rng,
    seed: u64,
    target: u64,
    legs: u64,
    tx_no: u64,
    flow_no: u64,
    time: i64,
    start_time: i64,
    per_block: [u64; 3],
    // Bitcoin
    btc_height: u64,
    wallets: Vec<Vec<Coin>>,
    funded: Vec<u32>,
    funded_pos: Vec<u32>,
    /// Users whose coin count reached [`HEAVY_COINS`]: they consolidate next, which keeps
    /// popular payees from piling up coins (memory stays bounded by addresses, not legs).
    heavy: Vec<u32>,
    fresh_next: u32,
    launder_next: Vec<u32>,
    btc_episodes: Vec<Episode>,
    ins: Vec<Coin>,
    outs: Vec<Out>,
    raw: Vec<u8>,
    script: Vec<u8>,
    acc: [AccountState; 2],
}

fn sha256d(b: &[u8]) -> [u8; 32] {
    Sha256::digest(Sha256::digest(b)).into()
}

fn varint(out: &mut Vec<u8>, n: u64) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        _ => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
    }
}

/// Bitcoin's CompactSize integer, for the writer.
pub(crate) fn varint_pub(out: &mut Vec<u8>, n: u64) {
    varint(out, n);
}

/// The BIP34 coinbase height push, as Bitcoin Core writes it (`CScript() << nHeight`):
/// `OP_0`, `OP_1`…`OP_16` for heights up to 16, else a minimally encoded script number.
/// (rust-bitcoin's `bip34_block_height` reads only the latter, so the writer never starts a
/// block file at a height of 16 or less.)
pub(crate) fn bip34_push(height: u64, out: &mut Vec<u8>) {
    if (1..=16).contains(&height) {
        out.push(0x50 + height as u8);
        return;
    }
    let mut bytes = Vec::with_capacity(9);
    let mut h = height;
    while h > 0 {
        bytes.push((h & 0xff) as u8);
        h >>= 8;
    }
    if bytes.last().is_some_and(|b| b & 0x80 != 0) {
        bytes.push(0);
    }
    if bytes.is_empty() {
        out.push(0x00); // OP_0
    } else {
        out.push(bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

impl<'a, S: Sink> Engine<'a, S> {
    pub(crate) fn new(cfg: &GenConfig, lay: &'a Layout, sink: &'a mut S) -> Self {
        let per_round = (cfg.transfers / 40).clamp(60, 3_000);
        let wallets = 1 + 2 * lay.exchanges + lay.mixers + lay.scams + lay.users;
        let account = |r: AccountRanges, asset, height| AccountState {
            r,
            asset,
            height,
            balance: vec![0; lay.users as usize],
            scam_balance: vec![0; (lay.scams * SCAM_ACC_COLLECT) as usize],
            pending: vec![Vec::new(); lay.exchanges as usize],
            mule_next: vec![0; lay.scams as usize],
            episodes: Vec::new(),
        };
        Engine {
            lay,
            sink,
            rng: Rng::new(cfg.seed),
            seed: cfg.seed,
            target: cfg.transfers,
            legs: 0,
            tx_no: 0,
            flow_no: 0,
            time: cfg.start_time,
            start_time: cfg.start_time,
            per_block: [per_round * 7 / 10, per_round * 15 / 100, per_round * 15 / 100],
            btc_height: 0,
            wallets: vec![Vec::new(); wallets as usize],
            funded: Vec::new(),
            funded_pos: vec![u32::MAX; lay.users as usize],
            heavy: Vec::new(),
            fresh_next: 0,
            launder_next: vec![0; lay.scams as usize],
            btc_episodes: Vec::new(),
            ins: Vec::new(),
            outs: Vec::new(),
            raw: Vec::with_capacity(4096),
            script: Vec::with_capacity(32),
            acc: [
                account(lay.eth, "USDT-ERC20", 21_000_000),
                account(lay.tron, "USDT-TRC20", 70_000_000),
            ],
        }
    }

    fn done(&self) -> bool {
        self.legs >= self.target
    }

    /// Whether a new laundering episode may start: late ones would not finish.
    fn may_launder(&self) -> bool {
        self.legs < self.target / 10 * 7
    }

    pub(crate) fn run(mut self) {
        let mut round: i64 = 0;
        while !self.done() {
            self.time = self.start_time + round * 600;
            self.btc_block();
            if !self.done() {
                self.account_block(0);
            }
            if !self.done() {
                self.account_block(1);
            }
            round += 1;
        }
    }

    // ---- wallets ---------------------------------------------------------------------------

    fn w_hot(&self, e: u32) -> u32 {
        1 + e
    }
    fn w_dep(&self, e: u32) -> u32 {
        1 + self.lay.exchanges + e
    }
    fn w_mix(&self, m: u32) -> u32 {
        1 + 2 * self.lay.exchanges + m
    }
    fn w_scam(&self, s: u32) -> u32 {
        1 + 2 * self.lay.exchanges + self.lay.mixers + s
    }
    fn w_user(&self, u: u32) -> u32 {
        1 + 2 * self.lay.exchanges + self.lay.mixers + self.lay.scams + u
    }
    fn user_of_wallet(&self, w: u32) -> Option<u32> {
        w.checked_sub(self.w_user(0))
    }

    fn hot_addr(&mut self, e: u32) -> u32 {
        self.lay.btc_hot + e * HOT_BTC + self.rng.below(u64::from(HOT_BTC)) as u32
    }
    fn mixer_addr(&mut self, m: u32) -> u32 {
        self.lay.mixer + m * MIXER_ADDRS + self.rng.below(u64::from(MIXER_ADDRS)) as u32
    }
    fn fresh(&mut self) -> u32 {
        let a = self.lay.fresh + self.fresh_next;
        self.fresh_next = (self.fresh_next + 1) % self.lay.fresh_len;
        a
    }
    fn launder_addr(&mut self, s: u32) -> u32 {
        let k = self.launder_next[s as usize];
        self.launder_next[s as usize] = (k + 1) % SCAM_BTC_LAUNDER;
        self.lay.btc_scam_launder + s * SCAM_BTC_LAUNDER + k
    }
    /// A user's receiving address: the reused main address or a fresh one.
    fn user_addr(&mut self, u: u32) -> u32 {
        if self.rng.percent(40) {
            self.lay.btc_user + u
        } else {
            self.fresh()
        }
    }
    fn customer_of(&mut self, e: u32) -> u32 {
        let per = (self.lay.customers - e - 1) / self.lay.exchanges + 1;
        (e + self.lay.exchanges * self.rng.below(u64::from(per)) as u32).min(self.lay.customers - 1)
    }
    fn mule(&self, s: u32, j: u32) -> u32 {
        let c = self.lay.customers;
        c - 1 - (s * 3 + j) % c
    }

    fn give(&mut self, w: u32, coin: Coin) {
        self.wallets[w as usize].push(coin);
        if let Some(u) = self.user_of_wallet(w) {
            if self.wallets[w as usize].len() == HEAVY_COINS {
                self.heavy.push(u);
            }
            if self.funded_pos[u as usize] == u32::MAX {
                self.funded_pos[u as usize] = self.funded.len() as u32;
                self.funded.push(u);
            }
        }
    }

    fn unfund_if_empty(&mut self, w: u32) {
        if let Some(u) = self.user_of_wallet(w) {
            let p = self.funded_pos[u as usize];
            if self.wallets[w as usize].is_empty() && p != u32::MAX {
                let last = self.funded.len() - 1;
                self.funded.swap(p as usize, last);
                let moved = self.funded[p as usize];
                self.funded_pos[moved as usize] = p;
                self.funded.pop();
                self.funded_pos[u as usize] = u32::MAX;
            }
        }
    }

    /// Moves up to `n` of wallet `w`'s coins into the inputs; returns their value.
    fn take(&mut self, w: u32, n: usize) -> u64 {
        let mut total = 0;
        for _ in 0..n {
            match self.wallets[w as usize].pop() {
                Some(c) => {
                    total += c.value;
                    self.ins.push(c);
                }
                None => break,
            }
        }
        self.unfund_if_empty(w);
        total
    }

    fn random_funded_user(&mut self) -> Option<u32> {
        if self.funded.is_empty() {
            return None;
        }
        Some(self.funded[self.rng.below(self.funded.len() as u64) as usize])
    }

    // ---- Bitcoin transactions ----------------------------------------------------------------

    /// Serializes `ins`/`outs` (or a coinbase), hands the raw transaction and its legs to the
    /// sink, gives the created coins to their wallets, and returns the txid (wire order).
    fn emit_btc(&mut self, coinbase: bool) -> [u8; 32] {
        let raw = &mut self.raw;
        raw.clear();
        raw.extend_from_slice(&2u32.to_le_bytes());
        if coinbase {
            raw.push(1);
            raw.extend_from_slice(&[0u8; 32]);
            raw.extend_from_slice(&u32::MAX.to_le_bytes());
            let mut sig = Vec::with_capacity(16);
            bip34_push(self.btc_height, &mut sig);
            sig.push(8);
            sig.extend_from_slice(&self.seed.to_le_bytes());
            varint(raw, sig.len() as u64);
            raw.extend_from_slice(&sig);
            raw.extend_from_slice(&u32::MAX.to_le_bytes());
        } else {
            varint(raw, self.ins.len() as u64);
            for c in &self.ins {
                raw.extend_from_slice(&c.txid);
                raw.extend_from_slice(&c.vout.to_le_bytes());
                // A dummy unlocking script: a 9-byte push standing in for signature and key.
                raw.push(9);
                raw.push(8);
                raw.extend_from_slice(&u64::from(c.addr).to_le_bytes());
                raw.extend_from_slice(&u32::MAX.to_le_bytes());
            }
        }
        varint(raw, self.outs.len() as u64);
        for o in &self.outs {
            raw.extend_from_slice(&o.value.to_le_bytes());
            self.lay.btc_script(o.addr, &mut self.script);
            varint(raw, self.script.len() as u64);
            raw.extend_from_slice(&self.script);
        }
        raw.extend_from_slice(&0u32.to_le_bytes());
        let wire = sha256d(raw);
        let txid = Hash32::from_wire_order(wire);
        self.sink.btc_tx(raw, &txid);
        let mut leg = Leg {
            kind: LegKind::Input,
            chain: Chain::Bitcoin,
            tx: self.tx_no,
            txid,
            from: None,
            to: None,
            amount: 0,
            time: self.time,
            height: self.btc_height,
            asset: "BTC",
        };
        for c in &self.ins {
            leg.from = Some(c.addr);
            leg.amount = c.value;
            self.sink.leg(&leg);
        }
        leg.kind = LegKind::Output;
        leg.from = None;
        for o in &self.outs {
            leg.to = Some(o.addr);
            leg.amount = o.value;
            self.sink.leg(&leg);
        }
        self.legs += (self.ins.len() + self.outs.len()) as u64;
        self.tx_no += 1;
        for i in 0..self.outs.len() {
            let o = self.outs[i];
            if o.wallet != NONE {
                self.give(
                    o.wallet,
                    Coin { txid: wire, vout: i as u32, addr: o.addr, value: o.value },
                );
            }
        }
        self.ins.clear();
        self.outs.clear();
        wire
    }

    fn txid_of(wire: [u8; 32]) -> Hash32 {
        Hash32::from_wire_order(wire)
    }

    /// Takes up to `n` coins of wallet `w` as the inputs of a one-output payment: the value
    /// left after the fee, or `None` with the coins given back when it would be dust.
    fn fund_one(&mut self, w: u32, n: usize) -> Option<u64> {
        let total = self.take(w, n);
        let fee = self.fee(self.ins.len(), 1);
        if total < fee + DUST {
            let back: Vec<Coin> = self.ins.drain(..).collect();
            for c in back {
                self.give(w, c);
            }
            return None;
        }
        Some(total - fee)
    }

    fn fee(&mut self, n_in: usize, n_out: usize) -> u64 {
        (n_in as u64 * 68 + n_out as u64 * 31 + 11) * self.rng.range(2, 20)
    }

    fn btc_block(&mut self) {
        let time = self.time;
        self.sink.block_start(Chain::Bitcoin, self.btc_height, time);
        let miner = self.lay.miner;
        self.outs.push(Out { addr: miner, value: SUBSIDY, wallet: 0 });
        if self.btc_height == 0 {
            // Genesis allocation: every exchange starts with reserves in its hot wallets.
            for e in 0..self.lay.exchanges {
                for k in 0..HOT_BTC {
                    let addr = self.lay.btc_hot + e * HOT_BTC + k;
                    let wallet = self.w_hot(e);
                    for _ in 0..8 {
                        self.outs.push(Out { addr, value: 50_000_000_000, wallet });
                    }
                }
            }
        }
        self.emit_btc(true);
        self.btc_launder();
        let start = self.legs;
        let mut attempts = 0;
        while self.legs - start < self.per_block[0] && !self.done() && attempts < 10_000 {
            attempts += 1;
            self.btc_slot();
        }
        self.sink.block_end(Chain::Bitcoin);
        self.btc_height += 1;
    }

    fn btc_slot(&mut self) {
        if let Some(u) = self.heavy.pop() {
            if self.wallets[self.w_user(u) as usize].len() >= HEAVY_COINS
                && self.btc_payment_from(u, 250)
            {
                return;
            }
        }
        let r = self.rng.below(100);
        let ok = match r {
            0..=49 | 94..=99 => self.btc_payment(),
            92..=93 => self.btc_equal_withdrawals(),
            50..=59 => self.btc_deposit(),
            60..=66 => self.btc_withdrawal(),
            67..=71 => self.btc_sweep(),
            72..=75 => self.btc_pool_payout(),
            76..=79 => self.btc_to_mixer(),
            80..=83 => self.btc_mixer_payout(),
            84..=85 => self.btc_coinjoin(),
            _ => self.btc_victim(),
        };
        if !ok && !self.btc_withdrawal() && !self.btc_sweep() {
            self.btc_pool_payout();
        }
    }

    /// A random funded user pays one to five (mostly popular) users, with change to a fresh
    /// address of its own.
    fn btc_payment(&mut self) -> bool {
        let Some(u) = self.random_funded_user() else { return false };
        let many = self.wallets[self.w_user(u) as usize].len() >= 6;
        let n_in = if many { 20 } else { self.rng.range(1, 3) as usize };
        self.btc_payment_from(u, n_in)
    }

    /// A payment by user `u` spending up to `n_in` of its coins.
    fn btc_payment_from(&mut self, u: u32, n_in: usize) -> bool {
        let w = self.w_user(u);
        let total = self.take(w, n_in);
        let n_pay = match self.rng.below(10) {
            0..=6 => 1,
            7..=8 => 2,
            _ => self.rng.range(3, 5) as usize,
        };
        let fee = self.fee(self.ins.len(), n_pay + 1);
        let Some(spend) = total.checked_sub(fee) else {
            // Too small to move: return the coins.
            let back: Vec<Coin> = self.ins.drain(..).collect();
            for c in back {
                self.give(w, c);
            }
            return false;
        };
        let pay_all = self.rng.percent(15) || spend < 4 * DUST * n_pay as u64;
        let pay_total = if pay_all { spend } else { spend / 100 * self.rng.range(20, 95) };
        let each = pay_total / n_pay as u64;
        for k in 0..n_pay {
            let v = self.rng.zipf(u64::from(self.lay.users)) as u32;
            let addr = self.user_addr(v);
            let value = if k + 1 == n_pay { pay_total - each * (n_pay as u64 - 1) } else { each };
            self.outs.push(Out { addr, value, wallet: self.w_user(v) });
        }
        let change = spend - pay_total;
        if change >= DUST {
            let addr = self.fresh();
            self.outs.push(Out { addr, value: change, wallet: w });
        }
        self.outs.retain(|o| o.value >= DUST);
        if self.outs.is_empty() {
            self.outs.push(Out { addr: self.lay.btc_user + u, value: spend, wallet: w });
        }
        self.emit_btc(false);
        true
    }

    fn btc_deposit(&mut self) -> bool {
        let Some(u) = self.random_funded_user() else { return false };
        if u >= self.lay.customers {
            return self.btc_payment();
        }
        let w = self.w_user(u);
        let Some(value) = self.fund_one(w, 3) else { return false };
        let from = self.ins[0].addr;
        let e = u % self.lay.exchanges;
        let dep = self.lay.btc_deposit + u;
        self.outs.push(Out { addr: dep, value, wallet: self.w_dep(e) });
        let wire = self.emit_btc(false);
        self.ledger(
            e,
            u,
            LedgerDirection::Deposit,
            Chain::Bitcoin,
            "BTC",
            value,
            from,
            Self::txid_of(wire),
        );
        true
    }

    #[allow(clippy::too_many_arguments)] // one ledger line's fields
    fn ledger(
        &mut self,
        exchange: u32,
        customer: u32,
        direction: LedgerDirection,
        chain: Chain,
        asset: &'static str,
        amount: u64,
        counterparty: u32,
        txid: Hash32,
    ) {
        let entry = LedgerEntry {
            exchange,
            customer,
            direction,
            chain,
            asset,
            amount,
            counterparty,
            txid,
            time: self.time,
        };
        self.sink.ledger(&entry);
    }

    fn btc_withdrawal(&mut self) -> bool {
        let e = self.rng.below(u64::from(self.lay.exchanges)) as u32;
        let w = self.w_hot(e);
        if self.wallets[w as usize].is_empty() {
            return false;
        }
        let n = (2 + self.rng.zipf(120)) as usize;
        let mut payouts = Vec::with_capacity(n);
        let mut need = 0;
        for _ in 0..n {
            let c = self.customer_of(e);
            let value = self.rng.heavy_amount(100_000, 2_000_000_000);
            need += value;
            payouts.push((c, value));
        }
        let mut total = 0;
        while total < need + 100_000 && self.ins.len() < 50 {
            let before = self.ins.len();
            total += self.take(w, 1);
            if self.ins.len() == before {
                break;
            }
        }
        let fee = self.fee(self.ins.len(), n + 1);
        let mut left = total.saturating_sub(fee);
        let mut paid = Vec::with_capacity(n);
        for (c, value) in payouts {
            if value + DUST > left {
                break;
            }
            left -= value;
            let addr = self.user_addr(c);
            self.outs.push(Out { addr, value, wallet: self.w_user(c) });
            paid.push((c, addr, value));
        }
        self.settle_payouts(e, w, left, paid).is_some()
    }

    /// Ends a withdrawal batch: `left` (at least dust) goes back to exchange `e`'s hot wallet
    /// as change, the transaction is emitted and each paid customer gets a ledger withdrawal.
    /// When nothing was paid and nothing else is sent, the coins taken go back to wallet `w`
    /// and nothing is emitted (`None`). Not enough for one payout with some change: the batch
    /// is a consolidation.
    fn settle_payouts(
        &mut self,
        e: u32,
        w: u32,
        left: u64,
        paid: Vec<(u32, u32, u64)>,
    ) -> Option<Hash32> {
        if left >= DUST {
            let addr = self.hot_addr(e);
            self.outs.push(Out { addr, value: left, wallet: self.w_hot(e) });
        }
        if paid.is_empty() && self.outs.is_empty() {
            let back: Vec<Coin> = self.ins.drain(..).collect();
            for c in back {
                self.give(w, c);
            }
            return None;
        }
        let txid = Self::txid_of(self.emit_btc(false));
        for (c, addr, value) in paid {
            self.ledger(
                e,
                c,
                LedgerDirection::Withdrawal,
                Chain::Bitcoin,
                "BTC",
                value,
                addr,
                txid,
            );
        }
        Some(txid)
    }

    /// An exchange pays several customers one same round amount (a fixed-size withdrawal,
    /// such as a 0.001 BTC promotion payout) in a batch with other customers' withdrawals of
    /// any size, spending coins straight from its customers' deposit addresses (many input
    /// addresses, most holding more than the amount), with change to a hot wallet. Exchanges
    /// do pay withdrawals from deposit coins; the shape has the equal outputs, the distinct
    /// funding inputs and the other outputs of a CoinJoin, and is one spender's.
    fn btc_equal_withdrawals(&mut self) -> bool {
        let e = self.rng.below(u64::from(self.lay.exchanges)) as u32;
        let w = self.w_dep(e);
        if self.wallets[w as usize].len() < 4 {
            return false;
        }
        let amount = 100_000u64 * [1, 5, 10][self.rng.below(3) as usize];
        let k = self.rng.range(3, 10) as usize;
        let others = self.rng.range(k as u64 - 2, 2 * k as u64) as usize;
        let mut payouts: Vec<u64> = vec![amount; k];
        for _ in 0..others {
            payouts.push(self.rng.heavy_amount(100_000, 200_000_000));
        }
        let need: u64 = payouts.iter().sum::<u64>() + 100_000;
        // Deposit coins are spent as they come, at least a few more than the equal payees
        // (the batch also consolidates small deposits).
        let mut total = 0;
        while (total < need || self.ins.len() < k + 2) && self.ins.len() < 60 {
            let got = self.take(w, 1);
            if got == 0 {
                break;
            }
            total += got;
        }
        let fee = self.fee(self.ins.len(), payouts.len() + 1);
        let mut left = total.saturating_sub(fee);
        let mut paid = Vec::with_capacity(payouts.len());
        let mut equal = 0u32;
        for value in payouts {
            if value + DUST > left {
                continue;
            }
            left -= value;
            let c = self.customer_of(e);
            let addr = self.user_addr(c);
            self.outs.push(Out { addr, value, wallet: self.w_user(c) });
            paid.push((c, addr, value));
            equal += u32::from(value == amount);
        }
        let Some(txid) = self.settle_payouts(e, w, left, paid) else {
            // Too little on the deposit addresses: the coins taken stay where they were.
            return false;
        };
        self.sink.equal_withdrawals(&txid, equal, amount);
        true
    }

    fn btc_sweep(&mut self) -> bool {
        let e = self.rng.below(u64::from(self.lay.exchanges)) as u32;
        let w = self.w_dep(e);
        if self.wallets[w as usize].is_empty() {
            return false;
        }
        let total = self.take(w, 50);
        let fee = self.fee(self.ins.len(), 1);
        let addr = self.hot_addr(e);
        self.outs.push(Out {
            addr,
            value: total.saturating_sub(fee).max(DUST),
            wallet: self.w_hot(e),
        });
        self.emit_btc(false);
        true
    }

    fn btc_pool_payout(&mut self) -> bool {
        if self.wallets[0].is_empty() {
            return false;
        }
        let total = self.take(0, 5);
        let n = self.rng.range(10, 60);
        let fee = self.fee(self.ins.len(), n as usize + 1);
        let spend = total.saturating_sub(fee);
        let each = spend / (n + 1);
        for _ in 0..n {
            let u = self.rng.below(u64::from(self.lay.users)) as u32;
            let addr = self.fresh();
            self.outs.push(Out { addr, value: each, wallet: self.w_user(u) });
        }
        let rest = spend - each * n;
        self.outs.push(Out { addr: self.lay.miner, value: rest, wallet: 0 });
        self.outs.retain(|o| o.value >= DUST);
        if self.outs.is_empty() {
            self.outs.push(Out { addr: self.lay.miner, value: total, wallet: 0 });
        }
        self.emit_btc(false);
        true
    }

    fn btc_to_mixer(&mut self) -> bool {
        let Some(u) = self.random_funded_user() else { return false };
        let w = self.w_user(u);
        let Some(value) = self.fund_one(w, 2) else { return false };
        let m = self.rng.below(u64::from(self.lay.mixers)) as u32;
        let addr = self.mixer_addr(m);
        self.outs.push(Out { addr, value, wallet: self.w_mix(m) });
        self.emit_btc(false);
        true
    }

    fn btc_mixer_payout(&mut self) -> bool {
        let m = self.rng.below(u64::from(self.lay.mixers)) as u32;
        let w = self.w_mix(m);
        if self.wallets[w as usize].is_empty() {
            return false;
        }
        let total = self.take(w, 2);
        let fee = self.fee(self.ins.len(), 3);
        let spend = total.saturating_sub(fee);
        // The mixer keeps 3%.
        let keep = spend / 100 * 3;
        let n = self.rng.range(1, 2);
        let each = (spend - keep) / n;
        for _ in 0..n {
            let u = self.rng.below(u64::from(self.lay.users)) as u32;
            let addr = self.fresh();
            self.outs.push(Out { addr, value: each, wallet: self.w_user(u) });
        }
        let addr = self.mixer_addr(m);
        self.outs.push(Out { addr, value: spend - each * n, wallet: w });
        self.outs.retain(|o| o.value >= DUST);
        if self.outs.is_empty() {
            let addr = self.mixer_addr(m);
            self.outs.push(Out { addr, value: total, wallet: w });
        }
        self.emit_btc(false);
        true
    }

    fn btc_coinjoin(&mut self) -> bool {
        let denom = 100_000u64 * [1, 10, 50, 100][self.rng.below(4) as usize];
        let want = self.rng.range(5, 15) as usize;
        let mut parts: Vec<(u32, Coin)> = Vec::with_capacity(want);
        for _ in 0..want * 4 {
            if parts.len() == want {
                break;
            }
            let Some(u) = self.random_funded_user() else { break };
            if parts.iter().any(|(p, _)| *p == u) {
                continue;
            }
            let w = self.w_user(u) as usize;
            let best = self.wallets[w]
                .iter()
                .enumerate()
                .filter(|(_, c)| c.value >= denom + 2_000)
                .max_by_key(|(_, c)| c.value)
                .map(|(i, _)| i);
            if let Some(i) = best {
                let coin = self.wallets[w].swap_remove(i);
                self.unfund_if_empty(w as u32);
                parts.push((u, coin));
            }
        }
        if parts.len() < 3 {
            for (u, c) in parts {
                let w = self.w_user(u);
                self.give(w, c);
            }
            return false;
        }
        for &(u, c) in &parts {
            self.ins.push(c);
            let w = self.w_user(u);
            let addr = self.fresh();
            self.outs.push(Out { addr, value: denom, wallet: w });
            let change = c.value - denom - 1_000;
            if change >= DUST {
                let addr = self.fresh();
                self.outs.push(Out { addr, value: change, wallet: w });
            }
        }
        // Shuffle the outputs (Fisher–Yates) so position does not link input to output.
        for i in (1..self.outs.len()).rev() {
            let j = self.rng.below(i as u64 + 1) as usize;
            self.outs.swap(i, j);
        }
        let n = parts.len() as u32;
        let txid = Self::txid_of(self.emit_btc(false));
        self.sink.coinjoin(&txid, n, denom);
        true
    }

    fn btc_victim(&mut self) -> bool {
        let Some(u) = self.random_funded_user() else { return false };
        let w = self.w_user(u);
        let Some(value) = self.fund_one(w, 2) else { return false };
        let s = self.rng.below(u64::from(self.lay.scams)) as u32;
        let addr = self.lay.btc_scam_collect
            + s * SCAM_BTC_COLLECT
            + self.rng.below(u64::from(SCAM_BTC_COLLECT)) as u32;
        self.outs.push(Out { addr, value, wallet: self.w_scam(s) });
        self.emit_btc(false);
        true
    }

    /// Starts Bitcoin laundering episodes and advances running ones by one transaction.
    fn btc_launder(&mut self) {
        let mut eps = std::mem::take(&mut self.btc_episodes);
        let mut i = 0;
        while i < eps.len() {
            if self.done() {
                break;
            }
            if self.btc_step(&mut eps[i]) {
                let ep = eps.swap_remove(i);
                self.sink.flow(&ep.flow);
            } else {
                i += 1;
            }
        }
        for s in 0..self.lay.scams {
            let w = self.w_scam(s);
            let busy = eps.iter().any(|e| e.flow.scam == s);
            if busy
                || !self.may_launder()
                || self.wallets[w as usize].len() < 2
                || !self.rng.percent(40)
            {
                continue;
            }
            // Step 0: consolidate the collection addresses' coins into a laundering address.
            let total = self.take(w, 40);
            let source = self.ins[0].addr;
            let fee = self.fee(self.ins.len(), 1);
            let l = self.launder_addr(s);
            let value = total.saturating_sub(fee);
            self.outs.push(Out { addr: l, value, wallet: NONE });
            let wire = self.emit_btc(false);
            let kind = if self.rng.percent(60) { FlowKind::PeelChain } else { FlowKind::Mixer };
            let j = self.rng.below(3) as u32;
            let customer = self.mule(s, j);
            let mut flow = Flow {
                id: self.flow_no,
                kind,
                chain: Chain::Bitcoin,
                asset: "BTC",
                scam: s,
                source,
                sink: self.lay.btc_deposit + customer,
                customer,
                exchange: customer % self.lay.exchanges,
                amount_in: total,
                amount_out: 0,
                hops: Vec::with_capacity(8),
            };
            self.flow_no += 1;
            flow.hops.push(Hop { txid: Self::txid_of(wire), from: source, to: l, amount: value });
            let steps = match kind {
                FlowKind::PeelChain => self.rng.range(3, 6) as u32,
                _ => 2,
            };
            let mixer = self.rng.below(u64::from(self.lay.mixers)) as u32;
            eps.push(Episode {
                flow,
                step: 0,
                steps,
                coin: Some(Coin { txid: wire, vout: 0, addr: l, value }),
                mules: Vec::new(),
                mixer,
            });
        }
        self.btc_episodes = eps;
    }

    /// One transaction of a Bitcoin episode; true when the flow is complete.
    fn btc_step(&mut self, ep: &mut Episode) -> bool {
        let Some(coin) = ep.coin.take() else { return true };
        ep.step += 1;
        let last = ep.step == ep.steps;
        let s = ep.flow.scam;
        self.ins.push(coin);
        let fee = self.fee(1, 2);
        let spend = coin.value.saturating_sub(fee);
        let e = ep.flow.exchange;
        let (to, wallet, value) = match ep.flow.kind {
            FlowKind::PeelChain => {
                // Peel off 3–10% to a user, pass the rest on.
                let peel = spend / 100 * self.rng.range(3, 10);
                if peel >= DUST {
                    let u = self.rng.below(u64::from(self.lay.users)) as u32;
                    let addr = self.fresh();
                    self.outs.push(Out { addr, value: peel, wallet: self.w_user(u) });
                }
                let rest = if peel >= DUST { spend - peel } else { spend };
                if last {
                    (ep.flow.sink, self.w_dep(e), rest)
                } else {
                    (self.launder_addr(s), NONE, rest)
                }
            }
            _ => {
                if last {
                    // The mixer keeps 3% (at least a dust-free output's worth, when there is
                    // that much).
                    let keep = (spend / 100 * 3).max(DUST).min(spend);
                    let back = self.mixer_addr(ep.mixer);
                    self.outs.push(Out { addr: back, value: keep, wallet: self.w_mix(ep.mixer) });
                    (ep.flow.sink, self.w_dep(e), spend - keep)
                } else {
                    (self.mixer_addr(ep.mixer), NONE, spend)
                }
            }
        };
        let vout = self.outs.len() as u32;
        self.outs.push(Out { addr: to, value, wallet });
        let wire = self.emit_btc(false);
        let txid = Self::txid_of(wire);
        ep.flow.hops.push(Hop { txid, from: coin.addr, to, amount: value });
        if last {
            ep.flow.amount_out = value;
            let c = ep.flow.customer;
            self.ledger(
                e,
                c,
                LedgerDirection::Deposit,
                Chain::Bitcoin,
                "BTC",
                value,
                coin.addr,
                txid,
            );
            true
        } else {
            ep.coin = Some(Coin { txid: wire, vout, addr: to, value });
            false
        }
    }

    // ---- account chains ----------------------------------------------------------------------

    fn account_txid(&self, chain: Chain) -> Hash32 {
        let mut st =
            self.seed ^ self.tx_no.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (chain as u64) << 61;
        let mut out = [0u8; 32];
        for k in 0..4 {
            out[k * 8..k * 8 + 8].copy_from_slice(&splitmix64(&mut st).to_le_bytes());
        }
        Hash32(out)
    }

    fn transfer(&mut self, a: usize, from: u32, to: u32, amount: u64) -> Hash32 {
        let chain = self.acc[a].r.chain;
        let txid = self.account_txid(chain);
        let leg = Leg {
            kind: LegKind::Transfer,
            chain,
            tx: self.tx_no,
            txid,
            from: Some(from),
            to: Some(to),
            amount,
            time: self.time,
            height: self.acc[a].height,
            asset: self.acc[a].asset,
        };
        self.sink.leg(&leg);
        self.legs += 1;
        self.tx_no += 1;
        txid
    }

    fn account_block(&mut self, a: usize) {
        let chain = self.acc[a].r.chain;
        self.sink.block_start(chain, self.acc[a].height, self.time);
        self.acc_launder(a);
        let start = self.legs;
        while self.legs - start < self.per_block[1 + a] && !self.done() {
            self.acc_slot(a);
        }
        self.sink.block_end(chain);
        self.acc[a].height += 1;
    }

    fn acc_withdrawal(&mut self, a: usize, c: u32) {
        let r = self.acc[a].r;
        let e = c % self.lay.exchanges;
        let amount = self.rng.heavy_amount(20 * USDT, 200_000 * USDT);
        let to = r.user + c;
        let txid = self.transfer(a, r.hot + e, to, amount);
        self.acc[a].balance[c as usize] += amount;
        if c < self.lay.customers {
            let asset = self.acc[a].asset;
            self.ledger(e, c, LedgerDirection::Withdrawal, r.chain, asset, amount, to, txid);
        }
    }

    fn acc_slot(&mut self, a: usize) {
        let r = self.acc[a].r;
        let users = u64::from(self.lay.users);
        let customers = u64::from(self.lay.customers);
        match self.rng.below(100) {
            0..=39 => {
                let u = self.rng.below(users) as u32;
                let bal = self.acc[a].balance[u as usize];
                if bal < USDT {
                    return self.acc_withdrawal(a, u);
                }
                let v = self.rng.zipf(users) as u32;
                if v == u {
                    return;
                }
                let amount = bal / 100 * self.rng.range(10, 100);
                self.acc[a].balance[u as usize] -= amount;
                self.acc[a].balance[v as usize] += amount;
                self.transfer(a, r.user + u, r.user + v, amount);
            }
            40..=59 => {
                let c = self.rng.below(customers) as u32;
                let bal = self.acc[a].balance[c as usize];
                if bal < USDT {
                    return self.acc_withdrawal(a, c);
                }
                let amount = if self.rng.percent(50) { bal } else { bal / 2 };
                self.acc[a].balance[c as usize] -= amount;
                let e = c % self.lay.exchanges;
                let from = r.user + c;
                let txid = self.transfer(a, from, r.deposit + c, amount);
                self.acc[a].pending[e as usize].push((c, amount));
                let asset = self.acc[a].asset;
                self.ledger(e, c, LedgerDirection::Deposit, r.chain, asset, amount, from, txid);
            }
            60..=71 => {
                let e = self.rng.below(u64::from(self.lay.exchanges)) as usize;
                for _ in 0..8 {
                    let Some((c, amount)) = self.acc[a].pending[e].pop() else { break };
                    self.transfer(a, r.deposit + c, r.hot + e as u32, amount);
                }
            }
            72..=85 => {
                let c = self.rng.below(customers) as u32;
                self.acc_withdrawal(a, c);
            }
            _ => {
                let u = self.rng.below(users) as u32;
                let bal = self.acc[a].balance[u as usize];
                if bal < USDT {
                    return self.acc_withdrawal(a, u);
                }
                let k = self.rng.below(u64::from(self.lay.scams * SCAM_ACC_COLLECT)) as u32;
                let amount = bal / 100 * self.rng.range(30, 100);
                self.acc[a].balance[u as usize] -= amount;
                self.acc[a].scam_balance[k as usize] += amount;
                self.transfer(a, r.user + u, r.scam_collect + k, amount);
            }
        }
    }

    /// USDT laundering: fan-out from a collection address to mule accounts (one block), then
    /// fan-in from every mule to one mule customer's exchange deposit address (the next).
    fn acc_launder(&mut self, a: usize) {
        let r = self.acc[a].r;
        let mut eps = std::mem::take(&mut self.acc[a].episodes);
        for mut ep in eps.drain(..) {
            if self.done() {
                break;
            }
            let mut total = 0;
            for &(m, amount) in &ep.mules {
                let txid = self.transfer(a, m, ep.flow.sink, amount);
                ep.flow.hops.push(Hop { txid, from: m, to: ep.flow.sink, amount });
                total += amount;
                let asset = self.acc[a].asset;
                let (e, c) = (ep.flow.exchange, ep.flow.customer);
                self.ledger(e, c, LedgerDirection::Deposit, r.chain, asset, amount, m, txid);
            }
            ep.flow.amount_out = total;
            self.sink.flow(&ep.flow);
        }
        for s in 0..self.lay.scams {
            if !self.may_launder() || !self.rng.percent(30) {
                continue;
            }
            let k0 = (s * SCAM_ACC_COLLECT) as usize;
            let k = (k0..k0 + SCAM_ACC_COLLECT as usize)
                .max_by_key(|&k| self.acc[a].scam_balance[k])
                .unwrap_or(k0);
            let bal = self.acc[a].scam_balance[k];
            if bal < 100 * USDT {
                continue;
            }
            self.acc[a].scam_balance[k] = 0;
            let source = r.scam_collect + k as u32;
            let j = self.rng.below(3) as u32;
            let customer = self.mule(s, j);
            let n = self.rng.range(3, 6);
            let each = bal / n;
            let mut flow = Flow {
                id: self.flow_no,
                kind: FlowKind::FanOutFanIn,
                chain: r.chain,
                asset: self.acc[a].asset,
                scam: s,
                source,
                sink: r.deposit + customer,
                customer,
                exchange: customer % self.lay.exchanges,
                amount_in: each * n,
                amount_out: 0,
                hops: Vec::with_capacity(2 * n as usize),
            };
            self.flow_no += 1;
            let mut mules = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let next = self.acc[a].mule_next[s as usize];
                self.acc[a].mule_next[s as usize] = (next + 1) % SCAM_ACC_LAUNDER;
                let m = r.scam_launder + s * SCAM_ACC_LAUNDER + next;
                let txid = self.transfer(a, source, m, each);
                flow.hops.push(Hop { txid, from: source, to: m, amount: each });
                mules.push((m, each));
            }
            eps.push(Episode { flow, step: 0, steps: 1, coin: None, mules, mixer: 0 });
        }
        self.acc[a].episodes = eps;
    }
}

/// The planted entities of a layout (see [`crate::World::for_each_entity`]).
pub(crate) fn entities(lay: &Layout, f: &mut impl FnMut(&Entity)) {
    let pa = |id, role, tagged| PlantedAddress { id, role, tagged };
    for e in 0..lay.exchanges {
        let mut addresses = Vec::new();
        for k in 0..HOT_BTC {
            addresses.push(pa(lay.btc_hot + e * HOT_BTC + k, Role::HotWallet, true));
        }
        for r in [&lay.eth, &lay.tron] {
            addresses.push(pa(r.hot + e, Role::HotWallet, true));
        }
        f(&Entity {
            id: format!("exchange-{e}"),
            category: "exchange",
            label: format!("Exchange {e}"),
            exchange: None,
            mule: false,
            addresses,
        });
    }
    for m in 0..lay.mixers {
        let addresses = (0..MIXER_ADDRS)
            .map(|k| pa(lay.mixer + m * MIXER_ADDRS + k, Role::Mixer, true))
            .collect();
        f(&Entity {
            id: format!("mixer-{m}"),
            category: "mixer",
            label: format!("Mixer {m}"),
            exchange: None,
            mule: false,
            addresses,
        });
    }
    for s in 0..lay.scams {
        // What is publicly known: every scam but the last has its collection addresses
        // reported; the last stays undiscovered (exposure cannot see it).
        let known = s + 1 < lay.scams || lay.scams == 1;
        let mut addresses = Vec::new();
        for k in 0..SCAM_BTC_COLLECT {
            addresses.push(pa(
                lay.btc_scam_collect + s * SCAM_BTC_COLLECT + k,
                Role::ScamCollection,
                known,
            ));
        }
        for k in 0..SCAM_BTC_LAUNDER {
            addresses.push(pa(
                lay.btc_scam_launder + s * SCAM_BTC_LAUNDER + k,
                Role::ScamLaundering,
                false,
            ));
        }
        for r in [&lay.eth, &lay.tron] {
            for k in 0..SCAM_ACC_COLLECT {
                addresses.push(pa(
                    r.scam_collect + s * SCAM_ACC_COLLECT + k,
                    Role::ScamCollection,
                    known,
                ));
            }
            for k in 0..SCAM_ACC_LAUNDER {
                addresses.push(pa(
                    r.scam_launder + s * SCAM_ACC_LAUNDER + k,
                    Role::ScamLaundering,
                    false,
                ));
            }
        }
        f(&Entity {
            id: format!("scam-{s}"),
            category: "scam",
            label: format!("Pig-butchering scam {s}"),
            exchange: None,
            mule: false,
            addresses,
        });
    }
    f(&Entity {
        id: "miner-0".into(),
        category: "miner",
        label: "Mining pool".into(),
        exchange: None,
        mule: false,
        addresses: vec![pa(lay.miner, Role::MiningPool, false)],
    });
    let c = lay.customers;
    let mules: Vec<u32> =
        (0..lay.scams).flat_map(|s| (0..3).map(move |j| c - 1 - (s * 3 + j) % c)).collect();
    for cu in 0..c {
        f(&Entity {
            id: format!("customer-{cu}"),
            category: "user",
            label: format!("Customer {cu} of exchange {}", cu % lay.exchanges),
            exchange: Some(format!("exchange-{}", cu % lay.exchanges)),
            mule: mules.contains(&cu),
            addresses: vec![
                pa(lay.btc_deposit + cu, Role::Deposit, false),
                pa(lay.eth.deposit + cu, Role::Deposit, false),
                pa(lay.tron.deposit + cu, Role::Deposit, false),
            ],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::bip34_push;

    #[test]
    fn bip34_heights_are_minimal_script_numbers() {
        let push = |h| {
            let mut v = Vec::new();
            bip34_push(h, &mut v);
            v
        };
        assert_eq!(push(0), [0x00]);
        assert_eq!(push(1), [0x51], "OP_1");
        assert_eq!(push(16), [0x60], "OP_16");
        assert_eq!(push(17), [0x01, 0x11]);
        assert_eq!(push(127), [0x01, 0x7f]);
        // 128 needs a sign byte: 0x80 alone would be negative zero.
        assert_eq!(push(128), [0x02, 0x80, 0x00]);
        // Block 227,836, the first with BIP34 enforced: 03 fc 79 03.
        assert_eq!(push(227_836), [0x03, 0xfc, 0x79, 0x03]);
    }
}
