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
//!
//! Transfer ids are not allocated one by one: they live in one arena ([`Ids`], a `String`)
//! and the window events and group members hold an [`IdRef`] (offset and length, 8 bytes).
//! Ids of transfers that left every window stay in the arena until it has doubled since the
//! last compaction; then the live ones are copied into a fresh arena (amortized constant time
//! per transfer). A snapshot stores the arena's live ids as one block, so loading one makes
//! one allocation for every id instead of one each.

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

/// Bits of an [`IdRef`] that hold the length.
const LEN_BITS: u32 = 24;
/// The longest id an [`IdRef`] can hold, in bytes (input lines cap ids far below this: 64 KiB
/// per field by default); a longer one is cut at a character boundary.
pub const MAX_ID_BYTES: usize = (1 << LEN_BITS) - 1;
/// The arena is never compacted below this size.
const MIN_COMPACTION_BYTES: usize = 1 << 20;

/// A transfer id in the state's [`Ids`] arena: byte offset (40 bits) and length (24 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdRef(u64);

impl IdRef {
    fn new(at: usize, len: usize) -> IdRef {
        IdRef(((at as u64) << LEN_BITS) | (len.min(MAX_ID_BYTES) as u64))
    }

    fn range(self) -> std::ops::Range<usize> {
        let at = (self.0 >> LEN_BITS) as usize;
        at..at + (self.0 & MAX_ID_BYTES as u64) as usize
    }

    /// The id's length in bytes.
    pub fn len(self) -> usize {
        self.range().len()
    }

    /// Whether the id is empty.
    pub fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// The transfer ids the state holds, in one buffer (see the module note).
#[derive(Debug, Clone)]
pub struct Ids {
    buf: String,
    /// The buffer's length at which it is compacted next.
    compact_at: usize,
}

impl Default for Ids {
    fn default() -> Self {
        Ids { buf: String::new(), compact_at: MIN_COMPACTION_BYTES }
    }
}

impl Ids {
    /// Arena over `buf`, the ids of a snapshot (compacted once it has doubled).
    fn from_buf(buf: String) -> Ids {
        let compact_at = buf.len().saturating_mul(2).max(MIN_COMPACTION_BYTES);
        Ids { buf, compact_at }
    }

    /// The id `r` names (empty for a reference this arena did not hand out).
    pub fn get(&self, r: IdRef) -> &str {
        self.buf.get(r.range()).unwrap_or_default()
    }

    /// Adds `id`, returns its reference.
    pub fn push(&mut self, id: &str) -> IdRef {
        let mut len = id.len().min(MAX_ID_BYTES);
        while !id.is_char_boundary(len) {
            len -= 1;
        }
        let at = self.buf.len();
        self.buf.push_str(&id[..len]);
        IdRef::new(at, len)
    }

    /// Bytes in the arena, live or not.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }
}

/// One remembered transfer.
#[derive(Debug, Clone)]
pub struct Ev {
    /// Transfer id (in [`State::ids`]).
    pub id: IdRef,
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
    /// The latest transfers that used it, oldest first: `(id in [`State::ids`], time, US
    /// cents)`.
    pub transfers: Vec<(IdRef, i64, u128)>,
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
    /// The transfer ids the events and members above refer to.
    pub ids: Ids,
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

    /// The transfer id `r` names.
    pub fn id(&self, r: IdRef) -> &str {
        self.ids.get(r)
    }

    /// Copies the ids still referred to into a fresh arena and points the references at it
    /// (the ids of transfers that left the windows are dropped).
    pub fn compact_ids(&mut self) {
        let State { accounts, ips, devices, wd_addrs, bank_accounts, ids } = self;
        let mut fresh = String::with_capacity(ids.buf.len() / 2);
        // A member's transfer shares its event's id: it gets the event's new reference.
        let mut moved: FxHashMap<u64, IdRef> =
            FxHashMap::with_capacity_and_hasher(accounts.len() * 4, Default::default());
        let mut keep = |r: &mut IdRef, moved: &mut FxHashMap<u64, IdRef>| {
            if let Some(n) = moved.get(&r.0) {
                *r = *n;
                return;
            }
            let at = fresh.len();
            let s = ids.get(*r);
            fresh.push_str(s);
            let n = IdRef::new(at, s.len());
            moved.insert(r.0, n);
            *r = n;
        };
        for a in accounts.values_mut() {
            for ev in &mut a.events {
                keep(&mut ev.id, &mut moved);
            }
        }
        for groups in [ips, devices, wd_addrs, bank_accounts] {
            for m in groups.values_mut().flatten() {
                for t in &mut m.transfers {
                    keep(&mut t.0, &mut moved);
                }
            }
        }
        *ids = Ids::from_buf(fresh);
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
fn touch(users: &mut Users, customer: &str, now: i64, tx: (IdRef, u128)) -> Option<i64> {
    users.retain(|m| m.last > now - MAX_WINDOW_SECS);
    let t = (tx.0, now, tx.1);
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
        // Look the account up by `&str` first: `entry` needs an owned key, a `Box<str>`
        // allocated (and freed again) on every event of an account that already exists.
        if !self.accounts.contains_key(e.customer_id.as_str()) {
            self.accounts.insert(e.customer_id.as_str().into(), Account::default());
        }
        let acct = self
            .accounts
            .get_mut(e.customer_id.as_str())
            .expect("the account exists: inserted just above if it was new");
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
        let id = self.ids.push(e.id.as_str());
        acct.events.push_back(Ev {
            id,
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
        let tx = (id, f.usd_cents);
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
        if self.ids.buf.len() >= self.ids.compact_at {
            self.compact_ids();
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

/// Bytes of one window event in layout version 3: id length (u32), time (i64), VND (u128), US
/// cents (u128), counterparty key (u64), all little-endian, then direction and rail codes.
const EV_BYTES: usize = 4 + 8 + 16 + 16 + 8 + 1 + 1;

/// `N` bytes of `c` from `at` (a fixed-width field of a record).
fn le<const N: usize>(c: &[u8], at: usize) -> [u8; N] {
    let mut w = [0u8; N];
    w.copy_from_slice(&c[at..at + N]);
    w
}

/// Writes a version-3 state: ids are appended to `blob` in the order they are met, each
/// record holding only its length.
struct V3Writer<'a> {
    ids: &'a Ids,
    blob: String,
    body: Encoder,
}

impl V3Writer<'_> {
    fn id(&mut self, r: IdRef) -> usize {
        let s = self.ids.get(r);
        self.blob.push_str(s);
        s.len()
    }

    fn users(&mut self, users: &Users) {
        self.body.count(users.len());
        for Member { customer, last, transfers } in users {
            self.body.str(customer);
            self.body.int(*last);
            self.body.count(transfers.len());
            for (id, time, usd) in transfers {
                let len = self.id(*id);
                self.body.count(len);
                self.body.int(*time);
                self.body.uint(*usd);
            }
        }
    }
}

/// Reads a version-3 state's ids: each record's length takes the next bytes of the block.
struct V3Ids {
    buf: String,
    at: usize,
}

impl V3Ids {
    fn next(&mut self, d: &Decoder<'_>, len: usize) -> Result<IdRef, DecodeError> {
        let end = self.at.saturating_add(len);
        if len > MAX_ID_BYTES || end > self.buf.len() || !self.buf.is_char_boundary(end) {
            return Err(d.error(format!(
                "an id of {len} bytes at {} of an id block of {} bytes",
                self.at,
                self.buf.len()
            )));
        }
        let r = IdRef::new(self.at, len);
        self.at = end;
        Ok(r)
    }
}

fn decode_users(
    d: &mut Decoder<'_>,
    mut id: impl FnMut(&mut Decoder<'_>) -> Result<IdRef, DecodeError>,
) -> Result<Users, DecodeError> {
    let n = d.count()?;
    let mut users = Vec::with_capacity(n);
    for _ in 0..n {
        let customer = d.str()?.into();
        let last = d.int()?;
        let k = d.count()?;
        let mut transfers = Vec::with_capacity(k);
        for _ in 0..k {
            transfers.push((id(d)?, d.int()?, d.uint()?));
        }
        users.push(Member { customer, last, transfers });
    }
    Ok(users)
}

fn decode_groups(
    d: &mut Decoder<'_>,
    mut id: impl FnMut(&mut Decoder<'_>) -> Result<IdRef, DecodeError>,
) -> Result<FxHashMap<u64, Users>, DecodeError> {
    let n = d.count()?;
    let mut groups = FxHashMap::with_capacity_and_hasher(n, Default::default());
    for _ in 0..n {
        let k = d.u64()?;
        groups.insert(k, decode_users(d, &mut id)?);
    }
    Ok(groups)
}

/// The parts of an account after its events, as every version writes them.
fn decode_account_tail(d: &mut Decoder<'_>, events: VecDeque<Ev>) -> Result<Account, DecodeError> {
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
    Ok(Account { events, first_time, last_time, gaps, wd_addr_first })
}

impl State {
    /// Appends the state to a snapshot (layout version 3: the ids as one block first, window
    /// events as fixed-width records; docs/formats/monitor.md).
    pub fn encode(&self, e: &mut Encoder) {
        let State { accounts, ips, devices, wd_addrs, bank_accounts, ids } = self;
        let mut w = V3Writer { ids, blob: String::new(), body: Encoder::default() };
        w.body.count(accounts.len());
        for (customer, a) in accounts {
            let Account { events, first_time, last_time, gaps, wd_addr_first } = a;
            w.body.str(customer);
            w.body.count(events.len());
            for Ev { id, time, dir, vnd, usd, cp, rail } in events {
                let len = w.id(*id) as u32;
                let b = &mut w.body;
                b.bytes(&len.to_le_bytes());
                b.bytes(&time.to_le_bytes());
                b.bytes(&vnd.to_le_bytes());
                b.bytes(&usd.to_le_bytes());
                b.bytes(&cp.to_le_bytes());
                b.byte(dir_code(*dir));
                b.byte(rail_code(*rail));
            }
            let b = &mut w.body;
            b.opt_int(*first_time);
            b.opt_int(*last_time);
            b.count(gaps.len());
            for (t, g) in gaps {
                b.int(*t);
                b.int(*g);
            }
            b.count(wd_addr_first.len());
            for (k, t) in wd_addr_first {
                b.uint(u128::from(*k));
                b.int(*t);
            }
        }
        // The group maps, in `Link` order.
        for groups in [ips, devices, wd_addrs, bank_accounts] {
            w.body.count(groups.len());
            for (k, users) in groups {
                w.body.uint(u128::from(*k));
                w.users(users);
            }
        }
        e.str(&w.blob);
        e.bytes(&w.body.into_bytes());
    }

    /// Reads what [`State::encode`] wrote, in layout `version`: 3 is this build's; 1 and 2
    /// (varints throughout, each id a string of its own) are still read, version 1 (before
    /// fiat rails) with no rail per event and no bank-account groups.
    ///
    /// # Errors
    /// [`DecodeError`] naming the byte offset.
    pub fn decode(d: &mut Decoder<'_>, version: u32) -> Result<State, DecodeError> {
        if version < 3 {
            return State::decode_v1_v2(d, version);
        }
        let blob = d.str()?;
        let mut ids = V3Ids { buf: blob.to_owned(), at: 0 };
        let n = d.count()?;
        let mut accounts = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let customer: Box<str> = d.str()?.into();
            let k = d.count()?;
            let raw = d.take(k.saturating_mul(EV_BYTES))?;
            let mut events = VecDeque::with_capacity(k);
            for c in raw.chunks_exact(EV_BYTES) {
                let len = u32::from_le_bytes(le(c, 0)) as usize;
                let dir = match c[52] {
                    0 => Direction::Deposit,
                    1 => Direction::Withdrawal,
                    2 => Direction::Internal,
                    b => return Err(d.error(format!("direction code {b}"))),
                };
                let rail = match c[53] {
                    0 => None,
                    1 => Some(Rail::Bank),
                    2 => Some(Rail::Cash),
                    b => return Err(d.error(format!("rail code {b}"))),
                };
                events.push_back(Ev {
                    id: ids.next(d, len)?,
                    time: i64::from_le_bytes(le(c, 4)),
                    vnd: u128::from_le_bytes(le(c, 12)),
                    usd: u128::from_le_bytes(le(c, 28)),
                    cp: u64::from_le_bytes(le(c, 44)),
                    dir,
                    rail,
                });
            }
            accounts.insert(customer, decode_account_tail(d, events)?);
        }
        let mut id = |d: &mut Decoder<'_>| {
            // A length in the id block, not in the bytes after it: checked by `next`.
            let len = usize::try_from(d.u64()?).unwrap_or(usize::MAX);
            ids.next(d, len)
        };
        let ips = decode_groups(d, &mut id)?;
        let devices = decode_groups(d, &mut id)?;
        let wd_addrs = decode_groups(d, &mut id)?;
        let bank_accounts = decode_groups(d, &mut id)?;
        if ids.at != ids.buf.len() {
            return Err(d.error(format!(
                "the ids take {} of the id block's {} bytes",
                ids.at,
                ids.buf.len()
            )));
        }
        let ids = Ids::from_buf(ids.buf);
        Ok(State { accounts, ips, devices, wd_addrs, bank_accounts, ids })
    }

    /// Layout versions 1 and 2.
    fn decode_v1_v2(d: &mut Decoder<'_>, version: u32) -> Result<State, DecodeError> {
        let mut ids = Ids::default();
        let n = d.count()?;
        let mut accounts = FxHashMap::with_capacity_and_hasher(n, Default::default());
        for _ in 0..n {
            let customer: Box<str> = d.str()?.into();
            let k = d.count()?;
            let mut events = VecDeque::with_capacity(k);
            for _ in 0..k {
                events.push_back(Ev {
                    id: ids.push(d.str()?),
                    time: d.int()?,
                    dir: dir_of(d)?,
                    vnd: d.uint()?,
                    usd: d.uint()?,
                    cp: d.u64()?,
                    rail: if version >= 2 { rail_of(d)? } else { None },
                });
            }
            accounts.insert(customer, decode_account_tail(d, events)?);
        }
        let mut id = |d: &mut Decoder<'_>| d.str().map(|s| ids.push(s));
        let ips = decode_groups(d, &mut id)?;
        let devices = decode_groups(d, &mut id)?;
        let wd_addrs = decode_groups(d, &mut id)?;
        let bank_accounts =
            if version >= 2 { decode_groups(d, &mut id)? } else { FxHashMap::default() };
        let ids = Ids::from_buf(ids.buf);
        Ok(State { accounts, ips, devices, wd_addrs, bank_accounts, ids })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn encoded(state: &State) -> Vec<u8> {
        let mut e = Encoder::default();
        state.encode(&mut e);
        e.into_bytes()
    }

    /// Every account's window (ids and all fields) and every group's members, ids resolved:
    /// what two states must agree on, whatever their arenas look like.
    fn view(s: &State) -> Vec<String> {
        let mut v: Vec<String> = s
            .accounts
            .iter()
            .map(|(c, a)| {
                let evs: Vec<_> = a
                    .events
                    .iter()
                    .map(|e| (s.id(e.id), e.time, e.dir, e.vnd, e.usd, e.cp, e.rail))
                    .collect();
                format!("{c} {evs:?} {:?} {:?} {:?}", a.first_time, a.last_time, a.gaps)
            })
            .collect();
        for (i, groups) in [&s.ips, &s.devices, &s.wd_addrs, &s.bank_accounts].iter().enumerate() {
            for (k, users) in groups.iter() {
                let ms: Vec<_> = users
                    .iter()
                    .map(|m| {
                        let ts: Vec<_> =
                            m.transfers.iter().map(|t| (s.id(t.0), t.1, t.2)).collect();
                        (&m.customer, m.last, ts)
                    })
                    .collect();
                v.push(format!("{i} {k} {ms:?}"));
            }
        }
        v.sort();
        v
    }

    /// The state after a synthetic exchange's events.
    fn synthetic_state() -> State {
        let w = crate::synth::generate(crate::synth::SynthConfig {
            seed: 5,
            background_customers: 40,
            per_typology: 2,
            days: 50,
        });
        let mut s = State::default();
        for ev in &w.events {
            s.apply(ev, Some(FiatValue { vnd: 1_000, usd_cents: 7 }));
        }
        s
    }

    /// Layout version 3 keeps each event's fiat rail and the bank-account groups, with the
    /// ids read back from the one block (versions 1 and 2 are read by the frozen-fixture
    /// tests in `tests/`).
    #[test]
    fn snapshot_encoding_keeps_rails_and_bank_account_groups() {
        let mut state = State::default();
        let mut ev = |id: &str, rail| Ev {
            id: state.ids.push(id),
            time: 1_700_000_000,
            dir: Direction::Deposit,
            vnd: 250_000_000,
            usd: 1_000_000,
            cp: 42,
            rail,
        };
        let mut account = Account::default();
        account.events.push_back(ev("k-1", Some(Rail::Cash)));
        account.events.push_back(ev("k-2", Some(Rail::Bank)));
        account.events.push_back(ev("k-3é", None));
        let k2 = account.events[1].id;
        state.accounts.insert("c1".into(), account);
        let member = |c: &str| Member {
            customer: c.into(),
            last: 1_700_000_000,
            transfers: vec![(k2, 1_700_000_000, 1_000_000)],
        };
        state.bank_accounts.insert(7, vec![member("c1"), member("c2")]);
        state.devices.insert(9, vec![member("c3")]);

        let bytes = encoded(&state);
        let mut d = Decoder::new(&bytes);
        let back = State::decode(&mut d, 3).unwrap();
        assert!(d.is_at_end());
        let evs: Vec<_> =
            back.accounts["c1"].events.iter().map(|e| (back.id(e.id), e.rail)).collect();
        assert_eq!(evs, [("k-1", Some(Rail::Cash)), ("k-2", Some(Rail::Bank)), ("k-3é", None)]);
        let group: Vec<(&str, &str)> = back
            .group(Link::BankAccount, 7)
            .iter()
            .map(|m| (&*m.customer, back.id(m.transfers[0].0)))
            .collect();
        assert_eq!(group, [("c1", "k-2"), ("c2", "k-2")]);
        assert_eq!(back.group(Link::Device, 9).len(), 1);
        assert_eq!(view(&back), view(&state));
    }

    /// A synthetic exchange's 50 days: the state read back from its snapshot encoding is the
    /// state written, and the encoding holds only the ids a window or group still names.
    #[test]
    fn a_synthetic_state_round_trips_through_layout_version_3() {
        let s = synthetic_state();
        let bytes = encoded(&s);
        let mut d = Decoder::new(&bytes);
        let back = State::decode(&mut d, 3).unwrap();
        assert!(d.is_at_end());
        assert_eq!(view(&back), view(&s));
        // The block holds exactly the ids named (a member's transfer id once more), none of
        // the transfers that left the windows.
        let events: usize = s.accounts.values().flat_map(|a| &a.events).map(|e| e.id.len()).sum();
        let members: usize = [&s.ips, &s.devices, &s.wd_addrs, &s.bank_accounts]
            .iter()
            .flat_map(|g| g.values().flatten())
            .flat_map(|m| &m.transfers)
            .map(|t| t.0.len())
            .sum();
        assert_eq!(back.ids.bytes(), events + members);
        assert!(events < s.ids.bytes(), "50 days hold transfers that left the 35-day windows");
    }

    /// Compaction drops the ids of transfers that left every window and keeps every id an
    /// event or a group member still names.
    #[test]
    fn compacting_the_ids_keeps_every_held_id_and_drops_the_rest() {
        let mut s = synthetic_state();
        let before = view(&s);
        let bytes = s.ids.bytes();
        s.compact_ids();
        assert_eq!(view(&s), before);
        assert!(s.ids.bytes() < bytes, "50 days hold transfers that left the 35-day windows");
    }

    /// A version-3 id length that runs past the id block (or into a character) is refused
    /// with the offset, never read out of bounds.
    #[test]
    fn an_id_length_past_the_id_block_is_a_decode_error() {
        let mut state = State::default();
        let id = state.ids.push("tx-1é");
        let mut a = Account::default();
        a.events.push_back(Ev {
            id,
            time: 1,
            dir: Direction::Deposit,
            vnd: 0,
            usd: 0,
            cp: 0,
            rail: None,
        });
        state.accounts.insert("c".into(), a);
        let good = encoded(&state);
        // block length, block, account count, customer length, "c", event count: then the
        // event's id length.
        let at = 1 + "tx-1é".len() + 1 + 1 + 1 + 1;
        assert_eq!(good[at..at + 4], 6u32.to_le_bytes());
        for bad_len in [7u32, 5, u32::MAX] {
            let mut bytes = good.clone();
            bytes[at..at + 4].copy_from_slice(&bad_len.to_le_bytes());
            let err = State::decode(&mut Decoder::new(&bytes), 3).unwrap_err();
            assert!(err.message.contains("id block"), "{bad_len}: {err:?}");
        }
    }
}
