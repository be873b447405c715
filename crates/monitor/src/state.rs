//! Per-account window state, and the cross-customer IP/device index.
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

use floodgate_types::Direction;
use rustc_hash::{FxHashMap, FxHasher};

use crate::fiat::FiatValue;
use crate::input::MonitorEvent;
use crate::pack::MAX_WINDOW_SECS;

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

/// Who used an IP address or device, and when last.
pub type Users = Vec<(Box<str>, i64)>;

/// All monitor state.
#[derive(Debug, Default, Clone)]
pub struct State {
    /// Accounts by customer id.
    pub accounts: FxHashMap<Box<str>, Account>,
    /// IP address key -> customers.
    pub ips: FxHashMap<u64, Users>,
    /// Device key -> customers.
    pub devices: FxHashMap<u64, Users>,
}

/// Stable 64-bit key of a value (FxHash is deterministic across runs).
pub fn key<T: Hash + ?Sized>(tag: u8, v: &T) -> u64 {
    let mut h = FxHasher::default();
    tag.hash(&mut h);
    v.hash(&mut h);
    h.finish().max(1)
}

/// The counterparty key of an event: its address, else the internal counterparty customer,
/// else the counterparty VASP; 0 when none is known.
pub fn counterparty_key(ev: &MonitorEvent) -> u64 {
    let e = &ev.entry;
    if let Some(a) = &e.counterparty_address {
        key(1, a)
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
}

fn touch(users: &mut Users, customer: &str, now: i64) {
    users.retain(|(_, t)| *t > now - MAX_WINDOW_SECS);
    match users.iter_mut().find(|(c, _)| &**c == customer) {
        Some(u) => u.1 = u.1.max(now),
        None => users.push((customer.into(), now)),
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
        let before = Before {
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
        });
        while acct.events.front().is_some_and(|x| x.time <= now - MAX_WINDOW_SECS) {
            acct.events.pop_front();
        }
        if let Some(ip) = &e.ip {
            touch(self.ips.entry(key(4, ip.as_str())).or_default(), &e.customer_id, now);
        }
        if let Some(d) = &e.device {
            touch(self.devices.entry(key(5, d.as_str())).or_default(), &e.customer_id, now);
        }
        (before, now)
    }
}
