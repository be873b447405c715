//! A minimal seeded generator of exchange ledgers with planted typologies, and the
//! detection-quality measurement over it (recall and precision per typology).
//!
//! The world: a few hundred ordinary customers with long-standing accounts, a handful of
//! their own wallets, amounts mostly below the travel-rule threshold and travel-rule data on
//! the larger ones; plus, for each typology, customers who act it out. A planted customer
//! counts as detected when any decision on their transfers carries the typology's rule id;
//! precision is over all customers the typology flagged. Everything derives from the seed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use floodgate_types::{Address, Amount, AssetId, Chain, Direction, LedgerEntry, Rail, Timestamp};
use serde::Serialize;

use crate::customer::{Customer, CustomerBook};
use crate::engine::Engine;
use crate::facts::{AddressLists, AddressRisk, RiskCategory};
use crate::input::{Exposure, Extras, MonitorEvent, TravelRule};
use crate::monitor::{Monitor, Processed};

/// Typologies the generator plants (rule ids of the built-in typologies).
pub const PLANTED: [&str; 18] = [
    "structuring",
    "pass_through",
    "new_account_large",
    "dormant_reactivation",
    "fan_in",
    "fan_out",
    "sanctioned_counterparty",
    "mixer_exposure",
    "indirect_exposure",
    "peel_chain",
    "shared_device",
    "shared_withdrawal_address",
    "shared_bank_account",
    "shared_ip",
    "pig_butchering",
    "listed_counterparty",
    "high_risk_geography",
    "travel_rule_missing",
];

/// SplitMix64: small, fast, seeded, good enough for test worlds.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi` (`hi > lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo).max(1)
    }
    /// True with probability `p` percent.
    pub fn pct(&mut self, p: u64) -> bool {
        self.range(0, 100) < p
    }
}

/// Generator settings.
#[derive(Debug, Clone, Copy)]
pub struct SynthConfig {
    /// Seed.
    pub seed: u64,
    /// Ordinary customers.
    pub background_customers: usize,
    /// Planted customers (or groups) per typology.
    pub per_typology: usize,
    /// Days simulated.
    pub days: i64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig { seed: 42, background_customers: 400, per_typology: 20, days: 20 }
    }
}

/// A generated world.
#[derive(Debug, Clone)]
pub struct SynthWorld {
    /// Transfers in time order.
    pub events: Vec<MonitorEvent>,
    /// Customer file.
    pub customers: CustomerBook,
    /// Screening lists (sanctioned, mixer, alert-list addresses; unlicensed VASPs).
    pub lists: AddressLists,
    /// Planted customers per typology.
    pub planted: BTreeMap<String, BTreeSet<String>>,
    /// Hard negatives per typology: clean customers whose activity resembles the typology but
    /// misses its defining signature (window, count, amount or counterparty). The thresholds
    /// were not tuned on them.
    pub hard_negatives: BTreeMap<String, BTreeSet<String>>,
}

/// Recall and precision of one typology.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TypologyScore {
    /// Rule id.
    pub typology: String,
    /// Whether the rules switch it on (one that is off is reported, not judged).
    pub enabled: bool,
    /// Planted customers.
    pub planted: usize,
    /// Customers it flagged.
    pub flagged: usize,
    /// Planted and flagged.
    pub true_positives: usize,
    /// `true_positives / planted`.
    pub recall: f64,
    /// `true_positives / flagged` (1 when nothing was flagged).
    pub precision: f64,
    /// Hard negatives of this typology (look-alikes that miss its signature).
    pub hard_negatives: usize,
    /// Hard negatives it flagged.
    pub false_alarms: usize,
    /// `false_alarms / hard_negatives` (0 when there are none).
    pub false_alarm_rate: f64,
}

impl TypologyScore {
    /// Recall at least 95 % and precision at least 90 %, on a typology that was planted
    /// (nothing planted is a failure, not a recall of 1).
    pub fn meets_target(&self) -> bool {
        self.planted > 0 && self.recall >= 0.95 && self.precision >= 0.90
    }

    /// What the score says against the target: `met`, `MISSED`, `NOT PLANTED` (switched on,
    /// but the generator planted none of it: no evidence either way), or `off`.
    pub fn verdict(&self) -> &'static str {
        if !self.enabled {
            "off"
        } else if self.planted == 0 {
            "NOT PLANTED"
        } else if self.meets_target() {
            "met"
        } else {
            "MISSED"
        }
    }
}

const T0: i64 = 1_756_684_800; // 2025-09-01T00:00:00Z
/// SWIFT BICs of Vietnamese banks (Vietcombank, VietinBank, BIDV, Techcombank, MB).
const BANKS: [&str; 5] = ["BFTVVNVX", "ICBVVNVX", "BIDVVNVX", "VTCBVNVX", "MSCBVNVX"];
const H: i64 = 3600;
const D: i64 = 86_400;

struct Gen {
    rng: Rng,
    events: Vec<MonitorEvent>,
    customers: CustomerBook,
    lists: AddressLists,
    planted: BTreeMap<String, BTreeSet<String>>,
    hard: BTreeMap<String, BTreeSet<String>>,
    n: u64,
}

impl Gen {
    fn addr(&mut self) -> Address {
        let hex: String = (0..5).map(|_| format!("{:08x}", self.rng.next_u64() as u32)).collect();
        Address::parse(Chain::Ethereum, &format!("0x{hex}"))
            .expect("40 hex digits form an Ethereum address")
    }
    fn customer(&mut self, id: &str, onboarded_days_before: i64, age: i64) {
        self.customers.insert(Customer {
            customer_id: id.to_owned(),
            onboarded: Some(Timestamp(T0 - onboarded_days_before * D)),
            birth_date: Some(Timestamp(T0 - age * 365 * D - 100 * D)),
            country: Some("VN".into()),
            expected_monthly_vnd: Some(2_000_000_000),
            risk_class: Some("low".into()),
            last_activity: None,
        });
    }
    #[allow(clippy::too_many_arguments)]
    fn ev(
        &mut self,
        cust: &str,
        t: i64,
        dir: Direction,
        usd_cents: u64,
        cp: Option<Address>,
        tr: bool,
        ip: &str,
    ) -> &mut MonitorEvent {
        self.n += 1;
        let tr = tr.then(|| TravelRule {
            originator_name: Some("Originator".into()),
            beneficiary_name: Some("Beneficiary".into()),
            ..TravelRule::default()
        });
        self.events.push(MonitorEvent {
            entry: LedgerEntry {
                id: format!("tx-{:07}", self.n),
                time: Timestamp(t),
                customer_id: cust.to_owned(),
                direction: dir,
                asset: AssetId("USDT-ERC20".into()),
                amount: Amount::from_base_units(u128::from(usd_cents) * 10_000),
                counterparty_address: cp,
                counterparty_customer: None,
                counterparty_vasp: None,
                txid: None,
                ip: Some(ip_of(ip)),
                device: Some(format!("dev-{ip}")),
                counterparty_country: None,
                travel_rule: None,
                rail: None,
                counterparty_bank: None,
                counterparty_account: None,
            },
            extras: Extras { travel_rule: tr, ..Extras::default() },
        });
        self.events.last_mut().expect("just pushed")
    }
    /// A VND bank transfer from (deposit) or to (withdrawal) the bank account `acct` at `bank`.
    #[allow(clippy::too_many_arguments)]
    fn bank_ev(
        &mut self,
        cust: &str,
        t: i64,
        dir: Direction,
        vnd: u64,
        bank: &str,
        acct: &str,
        ip: &str,
    ) -> &mut MonitorEvent {
        // Vietnamese banks send the originator's and beneficiary's names with a transfer.
        let e = self.ev(cust, t, dir, 0, None, true, ip);
        e.entry.asset = AssetId("VND".into());
        e.entry.amount = Amount::from_base_units(u128::from(vnd));
        e.entry.rail = Some(Rail::Bank);
        e.entry.counterparty_bank = Some(bank.to_owned());
        e.entry.counterparty_account = Some(acct.to_owned());
        e.entry.counterparty_country = Some("VN".into());
        e
    }
    /// A bank account number (13 digits, as Vietnamese banks print them).
    fn account_no(&mut self) -> String {
        format!("{:013}", self.rng.range(1_000_000_000_000, 9_999_999_999_999))
    }
    fn plant(&mut self, typ: &str, cust: &str) {
        self.planted.entry(typ.to_owned()).or_default().insert(cust.to_owned());
    }
    fn hard_negative(&mut self, typ: &str, cust: &str) {
        self.hard.entry(typ.to_owned()).or_default().insert(cust.to_owned());
    }
    fn list(&mut self, cat: RiskCategory) -> Address {
        let a = self.addr();
        self.lists.add_address(
            a.clone(),
            AddressRisk { category: cat, source: "synthetic list".into(), label: None },
        );
        a
    }
}

/// A valid IPv4 address derived from a seed text (the same text, the same address).
fn ip_of(seed: &str) -> String {
    if seed.parse::<std::net::IpAddr>().is_ok() {
        return seed.to_owned();
    }
    let k = crate::state::key(9, seed);
    format!("100.{}.{}.{}", 64 + (k >> 8) % 64, (k >> 16) % 256, (k >> 24) % 254 + 1)
}

/// Generates a world.
pub fn generate(cfg: SynthConfig) -> SynthWorld {
    let mut g = Gen {
        rng: Rng::new(cfg.seed),
        events: Vec::new(),
        customers: CustomerBook::default(),
        lists: AddressLists::default(),
        planted: BTreeMap::new(),
        hard: BTreeMap::new(),
        n: 0,
    };
    let span = cfg.days * D;
    // Ordinary customers.
    for i in 0..cfg.background_customers {
        let id = format!("bg-{i:05}");
        let (ob, age) = (g.rng.range(90, 1500) as i64, g.rng.range(20, 70) as i64);
        g.customer(&id, ob, age);
        let wallets: Vec<Address> = (0..g.rng.range(1, 4)).map(|_| g.addr()).collect();
        let ip = format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256);
        let n = g.rng.range(5, 3 * cfg.days as u64);
        for _ in 0..n {
            let t = T0 + g.rng.range(0, span as u64) as i64;
            let dir = if g.rng.pct(55) { Direction::Deposit } else { Direction::Withdrawal };
            let big = g.rng.pct(8);
            let cents =
                if big { g.rng.range(100_000, 500_000) } else { g.rng.range(1_000, 85_000) };
            let w = wallets[g.rng.range(0, wallets.len() as u64) as usize].clone();
            g.ev(&id, t, dir, cents, Some(w), big, &ip);
        }
        // A third fund their account from their own bank account and cash out to it.
        if g.rng.pct(33) {
            let (bank, acct) = (BANKS[g.rng.range(0, BANKS.len() as u64) as usize], g.account_no());
            for _ in 0..g.rng.range(1, 4) {
                let t = T0 + g.rng.range(0, span as u64) as i64;
                let dir = if g.rng.pct(60) { Direction::Deposit } else { Direction::Withdrawal };
                let vnd = g.rng.range(2_000_000, 20_000_000);
                g.bank_ev(&id, t, dir, vnd, bank, &acct, &ip);
            }
        }
    }
    let k = cfg.per_typology;
    let start = |g: &mut Gen| T0 + g.rng.range(D as u64, (span - 4 * D) as u64) as i64;
    for i in 0..k {
        // Structuring: 4 deposits just under USD 1,000 within 20 h.
        let c = format!("st-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("structuring", &c);
        let t = start(&mut g);
        for j in 0..4 {
            let (a, cents) = (g.addr(), g.rng.range(90_500, 99_900));
            g.ev(&c, t + j * 5 * H, Direction::Deposit, cents, Some(a), false, &c);
        }
        // Pass-through: a large deposit, withdrawn within hours.
        let c = format!("pt-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("pass_through", &c);
        let t = start(&mut g);
        let dep = g.rng.range(1_500_000, 4_000_000);
        let a = g.addr();
        g.ev(&c, t, Direction::Deposit, dep, Some(a), true, &c);
        let (b1, b2) = (g.addr(), g.addr());
        g.ev(&c, t + 3 * H, Direction::Withdrawal, dep / 2, Some(b1), true, &c);
        g.ev(&c, t + 6 * H, Direction::Withdrawal, dep / 2 - dep / 50, Some(b2), true, &c);
        // New account, large deposit.
        let c = format!("na-{i:03}");
        let t = start(&mut g);
        g.customer(&c, 0, 35);
        if let Some(mut cu) = g.customers.get(&c).cloned() {
            cu.onboarded = Some(Timestamp(t - 5 * D));
            g.customers.insert(cu);
        }
        g.plant("new_account_large", &c);
        let a = g.addr();
        let cents = g.rng.range(1_200_000, 5_000_000);
        g.ev(&c, t, Direction::Deposit, cents, Some(a), true, &c);
        // Dormant reactivation.
        let c = format!("dr-{i:03}");
        g.customer(&c, 900, 50);
        if let Some(mut cu) = g.customers.get(&c).cloned() {
            cu.last_activity = Some(Timestamp(T0 - g.rng.range(200, 400) as i64 * D));
            g.customers.insert(cu);
        }
        g.plant("dormant_reactivation", &c);
        let t = start(&mut g);
        let a = g.addr();
        for j in 0..3 {
            let cents = g.rng.range(600_000, 800_000);
            g.ev(&c, t + j * 4 * H, Direction::Deposit, cents, Some(a.clone()), true, &c);
        }
        // Fan-in and fan-out: 12 distinct counterparties in a day.
        for (typ, dir) in [("fan_in", Direction::Deposit), ("fan_out", Direction::Withdrawal)] {
            let c = format!("{}-{i:03}", if dir == Direction::Deposit { "fi" } else { "fo" });
            g.customer(&c, 400, 30);
            g.plant(typ, &c);
            let t = start(&mut g);
            for j in 0..12 {
                let (a, cents) = (g.addr(), g.rng.range(20_000, 26_000));
                g.ev(&c, t + j * H, dir, cents, Some(a), false, &c);
            }
        }
        // Direct list exposure.
        for (typ, cat) in [
            ("sanctioned_counterparty", RiskCategory::Sanctioned),
            ("mixer_exposure", RiskCategory::Mixer),
            ("listed_counterparty", RiskCategory::InvestorAlert),
        ] {
            let c = format!("{}-{i:03}", &typ[..3]);
            g.customer(&c, 400, 40);
            g.plant(typ, &c);
            let t = start(&mut g);
            let a = g.list(cat);
            let cents = g.rng.range(5_000, 80_000);
            let dir = if g.rng.pct(50) { Direction::Deposit } else { Direction::Withdrawal };
            g.ev(&c, t, dir, cents, Some(a), false, &c);
        }
        // Unlicensed VASP by name (listed_counterparty too).
        // Indirect exposure from the trace engine.
        let c = format!("ix-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("indirect_exposure", &c);
        let t = start(&mut g);
        let a = g.addr();
        let e = g.ev(&c, t, Direction::Deposit, 50_000, Some(a), false, &c);
        e.extras.exposure = Some(Exposure { scam: 0.35, ..Exposure::default() });
        // Peel chain: a deposit, then decreasing withdrawals to new addresses.
        let c = format!("pc-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("peel_chain", &c);
        let t = start(&mut g);
        let a = g.addr();
        g.ev(&c, t - 2 * D, Direction::Deposit, 3_000_000, Some(a), true, &c);
        let mut amt = g.rng.range(500_000, 800_000);
        for j in 0..5 {
            let a = g.addr();
            g.ev(&c, t + j * 8 * H, Direction::Withdrawal, amt, Some(a), true, &c);
            amt = amt * g.rng.range(60, 85) / 100;
        }
        // Shared device: three customers on one device, each transacting once, so the first
        // two never transact after the group is complete (only a group alert finds them).
        let t = start(&mut g);
        let dev = format!("shared-{i:03}");
        let group: Vec<String> = (0..3).map(|j| format!("sd-{i:03}-{j}")).collect();
        for (j, c) in group.iter().enumerate() {
            g.customer(c, 400, 30);
            g.plant("shared_device", c);
            let a = g.addr();
            g.ev(c, t + j as i64 * 5 * H, Direction::Deposit, 30_000, Some(a), false, &dev);
        }
        // Shared withdrawal address: three customers (own devices) each withdraw once to it.
        let t = start(&mut g);
        let drop = g.addr();
        for j in 0..3 {
            let c = format!("sw-{i:03}-{j}");
            g.customer(&c, 400, 30);
            g.plant("shared_withdrawal_address", &c);
            let a = g.addr();
            g.ev(&c, t - D, Direction::Deposit, 40_000, Some(a), false, &c);
            g.ev(&c, t + j * 6 * H, Direction::Withdrawal, 35_000, Some(drop.clone()), false, &c);
        }
        // Shared bank account: three customers (own devices) each funded once by a VND bank
        // transfer from one account (a mule paying in for several customers).
        let t = start(&mut g);
        let (bank, mule) = (BANKS[i % BANKS.len()], g.account_no());
        for j in 0..3 {
            let c = format!("sb-{i:03}-{j}");
            g.customer(&c, 400, 30);
            g.plant("shared_bank_account", &c);
            let vnd = g.rng.range(5_000_000, 50_000_000);
            g.bank_ev(&c, t + j * 4 * H, Direction::Deposit, vnd, bank, &mule, &c);
        }
        // Shared IP: one group in four of the typologies, 60 customers on their own devices
        // behind one IP address within two days (the `vn` pack's switched-off rule asks 50 in 7
        // days: many more than carrier-grade NAT puts behind one address of this exchange).
        if i % 4 == 0 {
            let t = start(&mut g);
            let ip = ip_of(&format!("farm-{i}"));
            for j in 0..60 {
                let c = format!("si-{i:03}-{j:02}");
                g.customer(&c, 400, 30);
                g.plant("shared_ip", &c);
                let a = g.addr();
                let e = g.ev(&c, t + j * 40 * 60, Direction::Deposit, 20_000, Some(a), false, &c);
                e.entry.ip = Some(ip.clone());
            }
        }
        // Pig-butchering victim: new, older, escalating deposits, withdrawals to one new address.
        let c = format!("pb-{i:03}");
        let t = start(&mut g);
        let age = g.rng.range(55, 75) as i64;
        g.customer(&c, 0, age);
        if let Some(mut cu) = g.customers.get(&c).cloned() {
            cu.onboarded = Some(Timestamp(t - 20 * D));
            g.customers.insert(cu);
        }
        g.plant("pig_butchering", &c);
        // Half of the victims pay in from their bank account in VND (the pattern as Vietnamese
        // victims meet it), the others in USDT.
        let own = g.addr();
        let acct = g.account_no();
        for (j, cents) in [50_000u64, 150_000, 400_000].into_iter().enumerate() {
            let tj = t - (3 - j as i64) * 2 * D;
            if i % 2 == 0 {
                // USD cents -> VND at about 26,150 VND per USD (the 2025-07 rate).
                g.bank_ev(&c, tj, Direction::Deposit, cents * 262, "BFTVVNVX", &acct, &c);
            } else {
                g.ev(&c, tj, Direction::Deposit, cents, Some(own.clone()), true, &c);
            }
        }
        let scam = g.addr();
        g.ev(&c, t, Direction::Withdrawal, 250_000, Some(scam.clone()), true, &c);
        g.ev(&c, t + D, Direction::Withdrawal, 300_000, Some(scam), true, &c);
        // High-risk geography.
        let c = format!("hg-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("high_risk_geography", &c);
        let t = start(&mut g);
        let a = g.addr();
        let e = g.ev(&c, t, Direction::Deposit, 200_000, Some(a), true, &c);
        e.extras.counterparty_country = Some(if i % 2 == 0 { "KP".into() } else { "IR".into() });
        // Travel-rule data missing.
        let c = format!("tr-{i:03}");
        g.customer(&c, 400, 40);
        g.plant("travel_rule_missing", &c);
        let t = start(&mut g);
        let a = g.addr();
        let cents = g.rng.range(150_000, 500_000);
        g.ev(&c, t, Direction::Withdrawal, cents, Some(a), false, &c);
    }
    for i in 0..k {
        hard_negatives(&mut g, i, &start);
    }
    g.events.sort_by(|a, b| (a.entry.time, &a.entry.id).cmp(&(b.entry.time, &b.entry.id)));
    SynthWorld {
        events: g.events,
        customers: g.customers,
        lists: g.lists,
        planted: g.planted,
        hard_negatives: g.hard,
    }
}

/// Clean look-alikes of each typology, each missing one defining signature.
fn hard_negatives(g: &mut Gen, i: usize, start: &dyn Fn(&mut Gen) -> i64) {
    // Structuring, window missed: 3 deposits just under USD 1,000, 13 h apart (26 h in all).
    let c = format!("hn-st-{i:03}");
    g.customer(&c, 400, 40);
    g.hard_negative("structuring", &c);
    let t = start(g);
    for j in 0..3 {
        let (a, cents) = (g.addr(), g.rng.range(90_500, 99_900));
        g.ev(&c, t + j * 13 * H, Direction::Deposit, cents, Some(a), false, &c);
    }
    // Pass-through, ratio missed: 80 % of a large deposit withdrawn within hours.
    let c = format!("hn-pt-{i:03}");
    g.customer(&c, 400, 40);
    g.hard_negative("pass_through", &c);
    let t = start(g);
    let dep = g.rng.range(1_500_000, 4_000_000);
    let (a, b) = (g.addr(), g.addr());
    g.ev(&c, t, Direction::Deposit, dep, Some(a), true, &c);
    g.ev(&c, t + 4 * H, Direction::Withdrawal, dep * 8 / 10, Some(b), true, &c);
    // New account large, age missed: onboarded 45 days before a large deposit.
    let c = format!("hn-na-{i:03}");
    let t = start(g);
    g.customer(&c, 0, 35);
    if let Some(mut cu) = g.customers.get(&c).cloned() {
        cu.onboarded = Some(Timestamp(t - 45 * D));
        g.customers.insert(cu);
    }
    g.hard_negative("new_account_large", &c);
    let (a, cents) = (g.addr(), g.rng.range(1_200_000, 5_000_000));
    g.ev(&c, t, Direction::Deposit, cents, Some(a), true, &c);
    // Dormant reactivation, idle time missed: last active 100 days before a burst.
    let c = format!("hn-dr-{i:03}");
    g.customer(&c, 900, 50);
    if let Some(mut cu) = g.customers.get(&c).cloned() {
        cu.last_activity = Some(Timestamp(T0 - 100 * D));
        g.customers.insert(cu);
    }
    g.hard_negative("dormant_reactivation", &c);
    let t = start(g);
    let a = g.addr();
    for j in 0..3 {
        let cents = g.rng.range(600_000, 800_000);
        g.ev(&c, t + j * 4 * H, Direction::Deposit, cents, Some(a.clone()), true, &c);
    }
    // Fan-in / fan-out, count missed: 9 distinct counterparties in a day.
    for (typ, dir, p) in
        [("fan_in", Direction::Deposit, "fi"), ("fan_out", Direction::Withdrawal, "fo")]
    {
        let c = format!("hn-{p}-{i:03}");
        g.customer(&c, 400, 30);
        g.hard_negative(typ, &c);
        let t = start(g);
        for j in 0..9 {
            let (a, cents) = (g.addr(), g.rng.range(20_000, 26_000));
            g.ev(&c, t + j * H, dir, cents, Some(a), false, &c);
        }
    }
    // Peel chain, count missed: 3 decreasing withdrawals to new addresses.
    let c = format!("hn-pc-{i:03}");
    g.customer(&c, 400, 40);
    g.hard_negative("peel_chain", &c);
    let t = start(g);
    let a = g.addr();
    g.ev(&c, t - 2 * D, Direction::Deposit, 3_000_000, Some(a), true, &c);
    let mut amt = g.rng.range(500_000, 800_000);
    for j in 0..3 {
        let a = g.addr();
        g.ev(&c, t + j * 8 * H, Direction::Withdrawal, amt, Some(a), true, &c);
        amt = amt * g.rng.range(60, 85) / 100;
    }
    // Shared device, count missed: two customers on one device.
    let t = start(g);
    let dev = format!("hn-shared-{i:03}");
    for j in 0..2 {
        let c = format!("hn-sd-{i:03}-{j}");
        g.customer(&c, 400, 30);
        g.hard_negative("shared_device", &c);
        let a = g.addr();
        g.ev(&c, t + j * 5 * H, Direction::Deposit, 30_000, Some(a), false, &dev);
    }
    // Shared device, attribute missed, and shared IP, count missed: ten customers behind one
    // carrier-grade-NAT IP address, each on their own device.
    let t = start(g);
    let cgnat = ip_of(&format!("cgnat-{i}"));
    for j in 0..10 {
        let c = format!("hn-ip-{i:03}-{j}");
        g.customer(&c, 400, 30);
        g.hard_negative("shared_device", &c);
        g.hard_negative("shared_ip", &c);
        let a = g.addr();
        let e = g.ev(&c, t + j * H, Direction::Deposit, 30_000, Some(a), false, &c);
        e.entry.ip = Some(cgnat.clone());
    }
    // Shared withdrawal address, count missed: two customers withdraw to one address.
    let t = start(g);
    let drop = g.addr();
    for j in 0..2 {
        let c = format!("hn-sw-{i:03}-{j}");
        g.customer(&c, 400, 30);
        g.hard_negative("shared_withdrawal_address", &c);
        let a = g.addr();
        g.ev(&c, t - D, Direction::Deposit, 40_000, Some(a), false, &c);
        g.ev(&c, t + j * 6 * H, Direction::Withdrawal, 35_000, Some(drop.clone()), false, &c);
    }
    // Shared bank account, count missed: two customers funded from one bank account.
    let t = start(g);
    let (bank, acct) = (BANKS[i % BANKS.len()], g.account_no());
    for j in 0..2 {
        let c = format!("hn-sb-{i:03}-{j}");
        g.customer(&c, 400, 30);
        g.hard_negative("shared_bank_account", &c);
        let vnd = g.rng.range(5_000_000, 50_000_000);
        g.bank_ev(&c, t + j * 4 * H, Direction::Deposit, vnd, bank, &acct, &c);
    }
    // Shared bank account, attribute missed: three customers with the same account number at
    // three different banks (account numbers are only unique within a bank).
    let t = start(g);
    let acct = g.account_no();
    for (j, bank) in BANKS.iter().take(3).enumerate() {
        let c = format!("hn-sn-{i:03}-{j}");
        g.customer(&c, 400, 30);
        g.hard_negative("shared_bank_account", &c);
        let vnd = g.rng.range(5_000_000, 50_000_000);
        g.bank_ev(&c, t + j as i64 * 4 * H, Direction::Deposit, vnd, bank, &acct, &c);
    }
    // Pig-butchering, count missed: the same escalation, one withdrawal to the new address.
    let c = format!("hn-pb-{i:03}");
    let t = start(g);
    g.customer(&c, 0, 65);
    if let Some(mut cu) = g.customers.get(&c).cloned() {
        cu.onboarded = Some(Timestamp(t - 20 * D));
        g.customers.insert(cu);
    }
    g.hard_negative("pig_butchering", &c);
    let own = g.addr();
    for (j, cents) in [50_000u64, 150_000, 400_000].into_iter().enumerate() {
        g.ev(
            &c,
            t - (3 - j as i64) * 2 * D,
            Direction::Deposit,
            cents,
            Some(own.clone()),
            true,
            &c,
        );
    }
    let scam = g.addr();
    g.ev(&c, t, Direction::Withdrawal, 250_000, Some(scam), true, &c);
    // Exposure, amount missed: indirect shares under the thresholds.
    for (typ, x) in [
        ("indirect_exposure", Exposure { scam: 0.05, ..Exposure::default() }),
        ("mixer_exposure", Exposure { mixer: 0.10, ..Exposure::default() }),
    ] {
        let c = format!("hn-{}-{i:03}", &typ[..3]);
        g.customer(&c, 400, 40);
        g.hard_negative(typ, &c);
        let t = start(g);
        let a = g.addr();
        let e = g.ev(&c, t, Direction::Deposit, 50_000, Some(a), false, &c);
        e.extras.exposure = Some(x);
    }
    // High-risk geography, counterparty missed: a neighbouring, not listed, country.
    let c = format!("hn-hg-{i:03}");
    g.customer(&c, 400, 40);
    g.hard_negative("high_risk_geography", &c);
    let t = start(g);
    let a = g.addr();
    let e = g.ev(&c, t, Direction::Deposit, 200_000, Some(a), true, &c);
    e.extras.counterparty_country = Some(if i % 2 == 0 { "KR".into() } else { "IQ".into() });
    // Travel rule, data present: a large withdrawal with originator and beneficiary names.
    let c = format!("hn-tr-{i:03}");
    g.customer(&c, 400, 40);
    g.hard_negative("travel_rule_missing", &c);
    let t = start(g);
    let (a, cents) = (g.addr(), g.rng.range(150_000, 500_000));
    g.ev(&c, t, Direction::Withdrawal, cents, Some(a), true, &c);
    // Direct list hits, counterparty missed: the same activity with unlisted counterparties.
    for typ in ["sanctioned_counterparty", "listed_counterparty"] {
        let c = format!("hn-{}-{i:03}", &typ[..3]);
        g.customer(&c, 400, 40);
        g.hard_negative(typ, &c);
        let t = start(g);
        let (a, cents) = (g.addr(), g.rng.range(5_000, 80_000));
        g.ev(&c, t, Direction::Deposit, cents, Some(a), false, &c);
    }
}

impl SynthWorld {
    /// The lists as a shared [`crate::facts::RiskFacts`].
    pub fn facts(&self) -> Arc<AddressLists> {
        Arc::new(self.lists.clone())
    }
}

/// One input line (`docs/formats/monitor.md`) for an event.
pub fn to_input_line(ev: &MonitorEvent) -> String {
    let e = &ev.entry;
    let mut m = serde_json::Map::new();
    let mut put = |k: &str, v: serde_json::Value| {
        m.insert(k.to_owned(), v);
    };
    put("id", e.id.clone().into());
    put("time", e.time.to_rfc3339().into());
    put("customer_id", e.customer_id.clone().into());
    put("direction", e.direction.as_str().into());
    put("asset", e.asset.0.clone().into());
    put("amount_base_units", e.amount.to_string().into());
    let opt = |v: &Option<String>| v.clone().map_or(serde_json::Value::Null, Into::into);
    if let Some(a) = &e.counterparty_address {
        put("counterparty_address", a.to_string().into());
    }
    let rail = e.rail.map(|r| r.as_str().to_owned());
    for (k, v) in [
        ("counterparty_customer", &e.counterparty_customer),
        ("counterparty_vasp", &e.counterparty_vasp),
        ("txid", &e.txid),
        ("ip", &e.ip),
        ("device", &e.device),
        ("counterparty_country", &e.counterparty_country),
        ("rail", &rail),
        ("counterparty_bank", &e.counterparty_bank),
        ("counterparty_account", &e.counterparty_account),
    ] {
        if v.is_some() {
            put(k, opt(v));
        }
    }
    if let Ok(serde_json::Value::Object(x)) = serde_json::to_value(&ev.extras) {
        m.extend(x);
    }
    serde_json::Value::Object(m).to_string()
}

/// Runs the world through a fresh in-memory monitor and scores every typology the rules
/// switch on (those not planted score recall 0: `NOT PLANTED`) and every planted one (those
/// the rules switch off are reported as `off`), in the registry's order. A customer counts as
/// flagged by a hit on their own transfer or by a group alert naming them.
pub fn evaluate(world: &SynthWorld, engine: Engine) -> Vec<TypologyScore> {
    let scored: Vec<(&'static str, bool)> = engine
        .pack()
        .typologies
        .switched_on()
        .into_iter()
        .filter(|(t, on)| *on || PLANTED.contains(t))
        .collect();
    let mut m = Monitor::in_memory(engine);
    let mut flagged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for ev in &world.events {
        if let Ok(Processed::Decided(d)) = m.process(ev) {
            for h in &d.hits {
                flagged.entry(h.rule_id.clone()).or_default().insert(d.customer_id.clone());
            }
            for a in &d.group_alerts {
                flagged.entry(a.rule_id.clone()).or_default().insert(a.customer_id.clone());
            }
        }
    }
    scored
        .into_iter()
        .map(|(t, enabled)| {
            let empty = BTreeSet::new();
            let p = world.planted.get(t).unwrap_or(&empty);
            let f = flagged.get(t).unwrap_or(&empty);
            let tp = p.intersection(f).count();
            let hn = world.hard_negatives.get(t).unwrap_or(&empty);
            let fa = hn.intersection(f).count();
            TypologyScore {
                typology: t.to_owned(),
                enabled,
                planted: p.len(),
                flagged: f.len(),
                true_positives: tp,
                // Nothing planted is no evidence: recall 0, and `meets_target` fails.
                recall: if p.is_empty() { 0.0 } else { tp as f64 / p.len() as f64 },
                precision: if f.is_empty() { 1.0 } else { tp as f64 / f.len() as f64 },
                hard_negatives: hn.len(),
                false_alarms: fa,
                false_alarm_rate: if hn.is_empty() { 0.0 } else { fa as f64 / hn.len() as f64 },
            }
        })
        .collect()
}
