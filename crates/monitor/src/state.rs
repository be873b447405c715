//! Per-account window state, and the cross-customer IP/device/withdrawal-address/bank-account
//! index.
//!
//! The state is a deterministic function of the accepted events in order: it does not depend
//! on the rules, so a rules reload never needs it rebuilt, and replaying the persisted events
//! rebuilds it exactly after a restart. Each account keeps its events of the last
//! [`MAX_WINDOW_SECS`](crate::pack::MAX_WINDOW_SECS) (windows are computed from them), its
//! first and last activity, its long idle gaps (dormancy) and when it first used each
//! withdrawal address.
//!
//! Time within an account never goes backwards: an event older than the account's latest is
//! counted at the account's latest time (documented in `docs/rules.md`), which keeps every
//! account's history sorted and batch and streaming runs identical.

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};

use floodgate_types::{Direction, Rail};
use rustc_hash::{FxHashMap, FxHasher};

use crate::fiat::FiatValue;
use crate::input::MonitorEvent;
use crate::pack::MAX_WINDOW_SECS;
use crate::snapshot::{DecodeError, Decoder, Encoder};

/// Gaps at least this long are remembered (dormancy thresholds must be at least this).
pub const MIN_RECORDED_GAP_SECS: i64 = 30 * 86_400;
const KEPT_GAPS: usize = 4;

/// One remembered transfer.
#[derive(Debug, Clone)]
pub struct Ev {
    /// Transfer id.
    pub id: Box<str>,
    /// Effective time (see the module note on order).
    pub time: i64,
    /// Direction.
    pub dir: Direction,
    /// Whole VND (0 when no rate).
    pub vnd: u128,
    /// US cents (0 when no rate).
    pub usd: u128,
    /// Counterparty key (0 when unknown).
    pub cp: u64,
    /// Fiat rail (bank, cash); `None` on chain and for internal transfers.
    pub rail: Option<Rail>,
}

/// One customer account's state.
#[derive(Debug, Default, Clone)]
pub struct Account {
    /// Events of the last 35 days, oldest first.
    pub events: VecDeque<Ev>,
    /// First activity seen.
    pub first_time: Option<i64>,
    /// Latest activity seen.
    pub last_time: Option<i64>,
    /// `(time of the event after the gap, gap length)` for the last few gaps ≥ 30 days.
    pub gaps: Vec<(i64, i64)>,
    /// When each withdrawal destination was first used.
    pub wd_addr_first: FxHashMap<u64, i64>,
}

/// Transfers remembered per group member (the latest ones), for the evidence of an alert.
pub const KEPT_MEMBER_TRANSFERS: usize = 5;

/// One customer in a group linked by a shared attribute (IP, device, withdrawal address).
#[derive(Debug, Clone)]
pub struct Member {
    /// Customer id.
    pub customer: Box<str>,
    /// Latest use of the attribute (effective time).
    pub last: i64,
    /// The latest transfers that used it, oldest first: `(id, time, US cents)`.
    pub transfers: Vec<(Box<str>, i64, u128)>,
}

/// Who used an IP address, device or withdrawal address, and with which transfers.
pub type Users = Vec<Member>;

/// The linking attributes of the group typologies, in [`Before::group_prev`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Customer IP address.
    Ip = 0,
    /// Customer device id.
    Device = 1,
    /// Withdrawal destination address.
    WithdrawalAddress = 2,
    /// Counterparty bank account of a fiat bank deposit or withdrawal.
    BankAccount = 3,
}

/// All monitor state.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Accounts by customer id.
    pub accounts: FxHashMap<Box<str>, Account>,
    /// IP address key -> customers.
    pub ips: FxHashMap<u64, Users>,
    /// Device key -> customers.
    pub devices: FxHashMap<u64, Users>,
    /// Withdrawal destination key -> customers who withdrew to it.
    pub wd_addrs: FxHashMap<u64, Users>,
    /// Counterparty bank account key -> customers whose bank transfers came from or went to it.
    pub bank_accounts: FxHashMap<u64, Users>,
}

impl State {
    /// The group of customers linked by `link` with value key `k`.
    pub fn group(&self, link: Link, k: u64) -> &[Member] {
        let map = match link {
            Link::Ip => &self.ips,
            Link::Device => &self.devices,
            Link::WithdrawalAddress => &self.wd_addrs,
            Link::BankAccount => &self.bank_accounts,
        };
        map.get(&k).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// Stable 64-bit key of a value (FxHash is deterministic across runs).
pub fn key<T: Hash + ?Sized>(tag: u8, v: &T) -> u64 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    v.hash(&mut h);
    h.finish().max(1)
}

/// The counterparty key of an event: its address, else its bank account (bank transfers),
/// else the internal counterparty customer, else the counterparty VASP; 0 when none is known.
pub fn counterparty_key(ev: &MonitorEvent) -> u64 {
    let e = &ev.entry;
    if let Some(a) = &e.counterparty_address {
        key(1, a)
    } else if let Some(b) = e.bank_account() {
        key(6, b.as_str())
    } else if let Some(c) = &e.counterparty_customer {
        key(2, c.as_str())
    } else if let Some(v) = &e.counterparty_vasp {
        key(3, v.as_str())
    } else {
        0
    }
}

/// What the account looked like just before an event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Before {
    /// Previous latest activity.
    pub last_time: Option<i64>,
    /// When the counterparty address was first used for a withdrawal, if before.
    pub addr_first: Option<i64>,
    /// Per [`Link`]: this customer's previous use of the event's value (None: first use in
    /// the last 35 days, or the event has no such value).
    pub group_prev: [Option<i64>; 4],
}

/// Records `customer`'s use; returns its previous use.
fn touch(users: &mut Users, customer: &str, now: i64, tx: (&str, u128)) -> Option<i64> {
    users.retain(|m| m.last > now - MAX_WINDOW_SECS);
    let t = (tx.0.into(), now, tx.1);
    match users.iter_mut().find(|m| &*m.customer == customer) {
        Some(m) => {
            let prev = m.last;
            m.last = m.last.max(now);
            m.transfers.push(t);
            if m.transfers.len() > KEPT_MEMBER_TRANSFERS {
                m.transfers.remove(0);
            }
            Some(prev)
        }
        None => {
            users.push(Member { customer: customer.into(), last: now, transfers: vec![t] });
            None
        }
    }
}

impl State {
    /// Adds an accepted event; returns the account's state just before it and the
    /// effective time.
    pub fn apply(&mut self, ev: &MonitorEvent, fiat: Option<FiatValue>) -> (Before, i64) {
        let e = &ev.entry;
        let acct = self.accounts.entry(e.customer_id.as_str().into()).or_default();
        let now = acct.last_time.map_or(e.time.0, |l| l.max(e.time.0));
        let cp = counterparty_key(ev);
        let mut before = Before {
            group_prev: [None; 4],
            last_time: acct.last_time,
            addr_first: if e.direction == Direction::Withdrawal && cp != 0 {
                acct.wd_addr_first.get(&cp).copied()
            } else {
                None
            },
        };
        if let Some(last) = acct.last_time {
            let gap = now - last;
            if gap >= MIN_RECORDED_GAP_SECS {
                acct.gaps.push((now, gap));
                if acct.gaps.len() > KEPT_GAPS {
                    acct.gaps.remove(0);
                }
            }
        }
        acct.first_time.get_or_insert(now);
        acct.last_time = Some(now);
        if e.direction == Direction::Withdrawal && cp != 0 {
            acct.wd_addr_first.entry(cp).or_insert(now);
        }
        let f = fiat.unwrap_or_default();
        acct.events.push_back(Ev {
            id: e.id.as_str().into(),
            time: now,
            dir: e.direction,
            vnd: f.vnd,
            usd: f.usd_cents,
            cp,
            rail: e.rail,
        });
        while acct.events.front().is_some_and(|x| x.time <= now - MAX_WINDOW_SECS) {
            acct.events.pop_front();
        }
        let tx = (e.id.as_str(), f.usd_cents);
        if let Some(ip) = &e.ip {
            before.group_prev[Link::Ip as usize] =
                touch(self.ips.entry(key(4, ip.as_str())).or_default(), &e.customer_id, now, tx);
        }
        if let Some(d) = &e.device {
            before.group_prev[Link::Device as usize] =
                touch(self.devices.entry(key(5, d.as_str())).or_default(), &e.customer_id, now, tx);
        }
        if e.direction == Direction::Withdrawal {
            if let Some(a) = &e.counterparty_address {
                before.group_prev[Link::WithdrawalAddress as usize] =
                    touch(self.wd_addrs.entry(key(1, a)).or_default(), &e.customer_id, now, tx);
            }
        }
        if let Some(b) = e.bank_account() {
            before.group_prev[Link::BankAccount as usize] = touch(
                self.bank_accounts.entry(key(6, b.as_str())).or_default(),
                &e.customer_id,
                now,
                tx,
            );
        }
        (before, now)
    }
}

// Snapshot encoding (`crate::snapshot`; byte layout in docs/formats/monitor.md). Every struct
// is destructured exhaustively, so a field added to the state without being added here does
// not compile, rather than being silently left out of snapshots.

fn dir_code(d: Direction) -> u8 {
    match d {
        Direction::Deposit => 0,
        Direction::Withdrawal => 1,
        Direction::Internal => 2,
    }
}

fn rail_code(r: Option<Rail>) -> u8 {
    match r {
        None => 0,
        Some(Rail::Bank) => 1,
        Some(Rail::Cash) => 2,
    }
}

fn rail_of(d: &mut Decoder<'_>) -> Result<Option<Rail>, DecodeError> {
    match d.byte()? {
        0 => Ok(None),
        1 => Ok(Some(Rail::Bank)),
        2 => Ok(Some(Rail::Cash)),
        b => Err(d.error(format!("rail code {b}"))),
    }
}

fn dir_of(d: &mut Decoder<'_>) -> Result<Direction, DecodeError> {
    match d.byte()? {
        0 => Ok(Direction::Deposit),
        1 => Ok(Direction::Withdrawal),
        2 => Ok(Direction::Internal),
        b => Err(d.error(format!("direction code {b}"))),
    }
}

fn encode_users(e: &mut Encoder, users: &Users) {
    e.count(users.len());
    for Member { customer, last, transfers } in users {
        e.str(customer);
        e.int(*last);
        e.count(transfers.len());
        for (id, time, usd) in transfers {
            e.str(id);
            e.int(*time);
            e.uint(*usd);
        }
    }
}

fn decode_users(d: &mut Decoder<'_>) -> Result<Users, DecodeError> {
    let n = d.count()?;
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        let customer = d.str()?.into();
        let last = d.int()?;
        let k = d.count()?;
        let mut transfers = Vec::with_capacity(k);
        for _ in 0..k {
            transfers.push((d.str()?.into(), d.int()?, d.uint()?));
        }
        users.push(Member { customer, last, transfers });
    }
    Ok(users)
}

fn encode_groups(e: &mut Encoder, groups: &FxHashMap<u64, Users>) {
    e.count(groups.len());
    for (k, users) in groups {
        e.uint(u128::from(*k));
        encode_users(e, users);
    }
}

fn decode_groups(d: &mut Decoder<'_>) -> Result<FxHashMap<u64, Users>, DecodeError> {
    let n = d.count()?;
    let mut groups = FxHashMap::with_capacity_and_hasher(n, Default::default());
    for _ in 0..n {
        let k = d.u64()?;
        groups.insert(k, decode_users(d)?);
    }
    Ok(groups)
}

impl State {
    /// Appends the state to a snapshot (layout version 2).
    pub fn encode(&self, e: &mut Encoder) {
        let State { accounts, ips, devices, wd_addrs, bank_accounts } = self;
        e.count(accounts.len());
        for (id, a) in accounts {
            let Account { events, first_time, last_time, gaps, wd_addr_first } = a;
            e.str(id);
            e.count(events.len());
            for Ev { id, time, dir, vnd, usd, cp, rail } in events {
                e.str(id);
                e.int(*time);
                e.byte(dir_code(*dir));
                e.uint(*vnd);
                e.uint(*usd);
                e.uint(u128::from(*cp));
                e.byte(rail_code(*rail));
            }
            e.opt_int(*first_time);
            e.opt_int(*last_time);
            e.count(gaps.len());
            for (t, g) in gaps {
                e.int(*t);
                e.int(*g);
            }
            e.count(wd_addr_first.len());
            for (k, t) in wd_addr_first {
                e.uint(u128::from(*k));
                e.int(*t);
            }
        }
        // The group maps, in `Link` order.
        for groups in [ips, devices, wd_addrs, bank_accounts] {
            encode_groups(e, groups);
        }
    }

    /// Reads what [`State::encode`] wrote, in layout `version`: version 1 (before fiat rails)
    /// has no rail per event and no bank-account groups.
    ///
    /// # Errors
    /// [`DecodeError`] naming the byte offset.
    pub fn decode(d: &mut Decoder<'_>, version: u32) -> Result<State, DecodeError> {
        let n = d.count()?;
        let mut accounts = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let id: Box<str> = d.str()?.into();
            let k = d.count()?;
            let mut events = VecDeque::with_capacity(k);
            for _ in 0..k {
                events.push_back(Ev {
                    id: d.str()?.into(),
                    time: d.int()?,
                    dir: dir_of(d)?,
                    vnd: d.uint()?,
                    usd: d.uint()?,
                    cp: d.u64()?,
                    rail: if version >= 2 { rail_of(d)? } else { None },
                });
            }
            let first_time = d.opt_int()?;
            let last_time = d.opt_int()?;
            let g = d.count()?;
            let mut gaps = Vec::with_capacity(g);
            for _ in 0..g {
                gaps.push((d.int()?, d.int()?));
            }
            let w = d.count()?;
            let mut wd_addr_first = FxHashMap::with_capacity_and_hasher(w, Default::default());
            for _ in 0..w {
                let k = d.u64()?;
                wd_addr_first.insert(k, d.int()?);
            }
            accounts.insert(id, Account { events, first_time, last_time, gaps, wd_addr_first });
        }
        let ips = decode_groups(d)?;
        let devices = decode_groups(d)?;
        let wd_addrs = decode_groups(d)?;
        let bank_accounts = if version >= 2 { decode_groups(d)? } else { FxHashMap::default() };
        Ok(State { accounts, ips, devices, wd_addrs, bank_accounts })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Layout version 2 keeps each event's fiat rail and the bank-account groups (version 1
    /// is read by the frozen-fixture test in `tests/`).
    #[test]
    fn snapshot_encoding_keeps_rails_and_bank_account_groups() {
        let ev = |id: &str, rail| Ev {
            id: id.into(),
            time: 1_700_000_000,
            dir: Direction::Deposit,
            vnd: 250_000_000,
            usd: 1_000_000,
            cp: 42,
            rail,
        };
        let mut state = State::default();
        let mut account = Account::default();
        account.events.push_back(ev("k-1", Some(Rail::Cash)));
        account.events.push_back(ev("k-2", Some(Rail::Bank)));
        account.events.push_back(ev("k-3", None));
        state.accounts.insert("c1".into(), account);
        let member = |c: &str| Member {
            customer: c.into(),
            last: 1_700_000_000,
            transfers: vec![("k-2".into(), 1_700_000_000, 1_000_000)],
        };
        state.bank_accounts.insert(7, vec![member("c1"), member("c2")]);
        state.devices.insert(9, vec![member("c3")]);

        let mut e = Encoder::default();
        state.encode(&mut e);
        let bytes = e.into_bytes();
        let mut d = Decoder::new(&bytes);
        let back = State::decode(&mut d, 2).unwrap();
        assert!(d.is_at_end());
        let rails: Vec<_> = back.accounts["c1"].events.iter().map(|e| e.rail).collect();
        assert_eq!(rails, [Some(Rail::Cash), Some(Rail::Bank), None]);
        let group: Vec<&str> =
            back.group(Link::BankAccount, 7).iter().map(|m| &*m.customer).collect();
        assert_eq!(group, ["c1", "c2"]);
        assert_eq!(back.group(Link::Device, 9).len(), 1);
    }
}
