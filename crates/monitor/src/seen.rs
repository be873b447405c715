//! Which transfer ids a persisted monitor has decided, in about 1.5 bytes per id.
//!
//! Keeping every decided id in memory cost ~60 bytes per decision for ever, and each doubling
//! of that set stalled the monitor (the HTTP load test saw RSS grow by 25 MB every 30 s and a
//! 1.16 s pause). The store already knows every decided id exactly (`UNIQUE (tenant,
//! transfer_id)` in `monitor.db`); what memory needs is a fast "certainly not decided" for the
//! common case. [`SeenIds`] is a scalable Bloom filter (Almeida et al., 2007): a chain of
//! filters, each twice the size of the one before, every one at a 0.5 % false-positive rate.
//! A miss is certain; a hit is confirmed against the store, so a false positive costs one
//! point lookup and never drops a transfer.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use crate::snapshot::{DecodeError, Decoder, Encoder};

/// Ids the first filter holds before the next, twice as large, is started.
const FIRST_CAPACITY: usize = 1 << 16;
/// Bits per id: 11.5 bits and 8 probes give about 0.5 % false positives per filter.
const BITS_PER_ID: usize = 12;
/// Probes per id.
const PROBES: u32 = 8;

/// One Bloom filter of a fixed capacity.
#[derive(Debug, Clone)]
struct Filter {
    bits: Vec<u64>,
    len: usize,
    capacity: usize,
}

impl Filter {
    fn new(capacity: usize) -> Filter {
        Filter { bits: vec![0; Filter::words(capacity)], len: 0, capacity }
    }

    /// 64-bit words of a filter for `capacity` ids.
    fn words(capacity: usize) -> usize {
        capacity.saturating_mul(BITS_PER_ID).div_ceil(64).max(1)
    }

    fn contains(&self, h: (u64, u64)) -> bool {
        probes(self.bits.len(), h).all(|b| self.bits[b / 64] & (1 << (b % 64)) != 0)
    }

    fn insert(&mut self, h: (u64, u64)) {
        for b in probes(self.bits.len(), h) {
            self.bits[b / 64] |= 1 << (b % 64);
        }
        self.len += 1;
    }
}

/// The SplitMix64 finalizer (Steele, Lea and Flood, 2014).
fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The bit positions of an id in a filter of `words` 64-bit words: double hashing,
/// `h1 + i·h2` (Kirsch and Mitzenmacher, 2006).
fn probes(words: usize, (h1, h2): (u64, u64)) -> impl Iterator<Item = usize> {
    let m = (words * 64) as u64;
    (0..PROBES).map(move |i| (h1.wrapping_add(u64::from(i).wrapping_mul(h2)) % m) as usize)
}

/// Decided transfer ids, approximately: no false negatives, rare false positives.
#[derive(Debug, Clone)]
pub struct SeenIds {
    filters: Vec<Filter>,
}

impl Default for SeenIds {
    fn default() -> Self {
        SeenIds { filters: vec![Filter::new(FIRST_CAPACITY)] }
    }
}

impl SeenIds {
    /// Two well-mixed 64-bit hashes of an id (the second odd, so probes cover the filter):
    /// FxHash alone is fast but its bits are too regular for a Bloom filter, so each is passed
    /// through the SplitMix64 finalizer.
    fn hashes(id: &str) -> (u64, u64) {
        let mut h = FxHasher::default();
        id.hash(&mut h);
        let h = h.finish();
        (splitmix(h), splitmix(h ^ 0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// `false` when `id` was certainly never inserted; `true` when it may have been.
    pub fn may_contain(&self, id: &str) -> bool {
        let h = Self::hashes(id);
        self.filters.iter().any(|f| f.contains(h))
    }

    /// Records `id`.
    pub fn insert(&mut self, id: &str) {
        let h = Self::hashes(id);
        let full = self.filters.last().is_none_or(|f| f.len >= f.capacity);
        if full {
            let next = self.filters.last().map_or(FIRST_CAPACITY, |f| f.capacity * 2);
            self.filters.push(Filter::new(next));
        }
        if let Some(f) = self.filters.last_mut() {
            f.insert(h);
        }
    }

    /// Bytes held by the filters.
    pub fn heap_bytes(&self) -> usize {
        self.filters.iter().map(|f| f.bits.len() * 8).sum()
    }

    /// Appends the filters to a snapshot (`crate::snapshot`).
    pub fn encode(&self, e: &mut Encoder) {
        e.count(self.filters.len());
        for Filter { bits, len, capacity } in &self.filters {
            e.count(*capacity);
            e.count(*len);
            e.count(bits.len());
            for w in bits {
                e.word(*w);
            }
        }
    }

    /// Reads what [`SeenIds::encode`] wrote.
    ///
    /// # Errors
    /// [`DecodeError`] naming the byte offset, also for a filter whose size does not match its
    /// capacity (a filter of another layout would miss ids).
    pub fn decode(d: &mut Decoder<'_>) -> Result<SeenIds, DecodeError> {
        let n = d.count()?;
        let mut filters = Vec::with_capacity(n);
        for _ in 0..n {
            let capacity = d.count()?;
            let len = d.count()?;
            let words = d.count()?;
            if words != Filter::words(capacity) {
                return Err(d.error(format!(
                    "a filter of {words} words for {capacity} ids (this build uses {BITS_PER_ID} bits per id)"
                )));
            }
            let bits = d.words(words)?;
            filters.push(Filter { bits, len, capacity });
        }
        if filters.is_empty() {
            return Err(d.error("no filter"));
        }
        Ok(SeenIds { filters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_inserted_id_is_ever_missed_and_false_positives_stay_rare() {
        let mut s = SeenIds::default();
        let n = 300_000;
        for i in 0..n {
            s.insert(&format!("tx-{i}"));
        }
        assert!((0..n).all(|i| s.may_contain(&format!("tx-{i}"))), "a false negative");
        let fp = (0..100_000).filter(|i| s.may_contain(&format!("other-{i}"))).count();
        // Each filter is at ~0.5 %; a chain of four stays under 2 %.
        assert!(fp < 2_000, "{fp} false positives in 100,000");
        // About 1.5 bytes per id, against ~60 for a set of the ids themselves.
        assert!(s.heap_bytes() < n * 3, "{} bytes for {n} ids", s.heap_bytes());
    }
}
