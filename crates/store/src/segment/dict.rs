//! The distinct addresses of a segment being built, and each row's index among them.
//!
//! A group's rows name a few hundred thousand addresses, so a lookup per row misses the
//! cache twice in an ordinary hash map (the table, then the address to compare): the profile
//! of a bulk load put half the store thread there. This table is probed a batch of rows at a
//! time: the slots a batch needs are read first, all at once, so their cache misses overlap;
//! then each row is looked up, and the addresses its fingerprint matched are compared the same
//! way, read first for the whole batch. Slots hold a 64-bit fingerprint and the address's
//! index, probed linearly; a fingerprint match is confirmed against the address itself, so
//! two addresses are one entry exactly when they are equal.

use std::hint::black_box;

use floodgate_types::address::BtcPayload;
use floodgate_types::BtcAddress;

/// A slot no address holds.
const EMPTY: u32 = u32::MAX;
/// Rows looked up together.
pub(crate) const BATCH: usize = 16;

/// 8 bytes: half of a fingerprint (the other half picks the slot) and an index.
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    id: u32,
}

const FREE: Slot = Slot { tag: 0, id: EMPTY };

/// The half of a fingerprint a slot keeps.
fn tag(fp: u64) -> u32 {
    (fp >> 32) as u32
}

/// A cheap 64-bit fingerprint of an address: the first 8 bytes of its payload (a hash, so
/// already spread) mixed with its kind, network and length. Equal addresses have equal
/// fingerprints; unequal ones rarely do, and every match is checked.
pub(crate) fn fingerprint(a: &BtcAddress) -> u64 {
    let head = |b: &[u8]| {
        let mut w = [0u8; 8];
        let n = b.len().min(8);
        w[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(w)
    };
    let (kind, bytes): (u64, u64) = match a.payload() {
        BtcPayload::PubkeyHash(h) => (1, head(&h)),
        BtcPayload::ScriptHash(h) => (2, head(&h)),
        BtcPayload::Witness { version, len, program } => (
            3 | u64::from(version) << 8 | u64::from(len) << 16,
            head(&program[..usize::from(len).min(40)]),
        ),
        BtcPayload::NonStandard(h) => (4, head(&h)),
    };
    let net = a.network() as u64;
    bytes ^ (kind | net << 24).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A group's address dictionary (see the module docs). Kept between groups, so its table and
/// lists are reused rather than allocated again.
#[derive(Debug, Default)]
pub(crate) struct Dict {
    slots: Vec<Slot>,
    shift: u32,
    /// The distinct addresses, by index (order of first use).
    pub(crate) addrs: Vec<BtcAddress>,
}

impl Dict {
    /// Empties the dictionary, with room for `rows` addresses (it grows past them if need
    /// be; at most half full, so probes stay short).
    pub(crate) fn reset(&mut self, rows: usize) {
        let size = (2 * rows.max(BATCH)).next_power_of_two();
        self.slots.clear();
        self.slots.resize(size, FREE);
        self.shift = 64 - size.trailing_zeros();
        self.addrs.clear();
    }

    fn home(&self, fp: u64) -> usize {
        // The fingerprint's bits mixed into the table's index (Fibonacci hashing).
        (fp.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    /// Doubles the table until it is at most half full with `more` addresses added.
    fn make_room(&mut self, more: usize) {
        let need = 2 * (self.addrs.len() + more);
        if need <= self.slots.len() {
            return;
        }
        let size = need.next_power_of_two().max(2 * BATCH);
        self.slots.clear();
        self.slots.resize(size, FREE);
        self.shift = 64 - size.trailing_zeros();
        let mask = size - 1;
        for (id, a) in self.addrs.iter().enumerate() {
            let fp = fingerprint(a);
            let mut p = self.home(fp);
            while self.slots[p].id != EMPTY {
                p = (p + 1) & mask;
            }
            // Fits u32: see `insert`.
            self.slots[p] = Slot { tag: tag(fp), id: u32::try_from(id).unwrap_or(u32::MAX - 1) };
        }
    }

    /// Appends to `ids` the index of each of `rows` (a new one for an address not seen
    /// before).
    pub(crate) fn assign(&mut self, rows: &[BtcAddress], ids: &mut Vec<u32>) {
        let mut pending: Vec<(usize, usize)> = Vec::with_capacity(BATCH);
        for chunk in rows.chunks(BATCH) {
            self.make_room(chunk.len());
            let mask = self.slots.len() - 1;
            let mut fps = [0u64; BATCH];
            let mut touch = 0u64;
            for (i, a) in chunk.iter().enumerate() {
                fps[i] = fingerprint(a);
                // Independent loads: the CPU overlaps their misses.
                touch ^= u64::from(self.slots[self.home(fps[i])].tag);
            }
            black_box(touch);
            let base = ids.len();
            pending.clear();
            for (i, a) in chunk.iter().enumerate() {
                let mut p = self.home(fps[i]);
                loop {
                    let s = self.slots[p];
                    if s.id == EMPTY {
                        ids.push(self.insert(p, fps[i], a));
                        break;
                    }
                    if s.tag == tag(fps[i]) {
                        ids.push(s.id);
                        pending.push((i, p));
                        break;
                    }
                    p = (p + 1) & mask;
                }
            }
            // The addresses the fingerprints matched, read together, then compared.
            let mut touch = 0u64;
            for (i, _) in &pending {
                touch ^= fingerprint(&self.addrs[ids[base + i] as usize]);
            }
            black_box(touch);
            for &(i, p) in &pending {
                let a = &chunk[i];
                if self.addrs[ids[base + i] as usize] == *a {
                    continue;
                }
                // Another address with this fingerprint (by chance, or ground on purpose):
                // probe on, comparing addresses.
                let mut p = (p + 1) & mask;
                ids[base + i] = loop {
                    let s = self.slots[p];
                    if s.id == EMPTY {
                        break self.insert(p, fps[i], a);
                    }
                    if s.tag == tag(fps[i]) && self.addrs[s.id as usize] == *a {
                        break s.id;
                    }
                    p = (p + 1) & mask;
                };
            }
        }
    }

    fn insert(&mut self, p: usize, fp: u64, a: &BtcAddress) -> u32 {
        // A group's rows fit u32 (see `len_u32` in the segment writer).
        let id = u32::try_from(self.addrs.len()).unwrap_or(u32::MAX - 1);
        self.slots[p] = Slot { tag: tag(fp), id };
        self.addrs.push(*a);
        id
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use floodgate_types::BtcNetwork;

    use super::*;

    fn p2pkh(head: u64, tail: u8) -> BtcAddress {
        let mut h = [0u8; 20];
        h[..8].copy_from_slice(&head.to_le_bytes());
        h[19] = tail;
        let script = [&[0x76, 0xa9, 0x14][..], &h, &[0x88, 0xac]].concat();
        BtcAddress::from_script(&script, BtcNetwork::Mainnet).address
    }

    /// Equal addresses get one index and unequal ones different indexes, also when many share
    /// a fingerprint (same first 8 payload bytes) and sit in one batch, against a plain map.
    #[test]
    fn indexes_are_exact_under_shared_fingerprints() {
        let mut rows = Vec::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few heads and tails: many fingerprint clashes and many repeats.
            rows.push(p2pkh(x % 7, (x >> 20) as u8 % 5));
        }
        let mut d = Dict::default();
        d.reset(10); // grows
        let mut ids = Vec::new();
        d.assign(&rows[..1234], &mut ids);
        d.assign(&rows[1234..], &mut ids);
        let mut seen: HashMap<BtcAddress, u32> = HashMap::new();
        for (a, id) in rows.iter().zip(&ids) {
            assert_eq!(d.addrs[*id as usize], *a);
            assert_eq!(*seen.entry(*a).or_insert(*id), *id, "one index per address");
        }
        assert_eq!(d.addrs.len(), seen.len(), "one address per index");
        assert!(seen.len() == 35, "7 heads × 5 tails: {}", seen.len());
        assert_eq!(fingerprint(&p2pkh(3, 1)), fingerprint(&p2pkh(3, 4)));
    }
}
