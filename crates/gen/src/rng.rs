//! A small deterministic PRNG: xoshiro256** seeded through SplitMix64 (Blackman and Vigna,
//! <https://prng.di.unimi.it/>). Written here rather than taken from `rand`, whose streams may
//! change between versions: the generator's output must stay byte-identical for a given
//! floodgate version and seed.

/// One SplitMix64 step: advances `state` and returns a well-mixed 64-bit value. Public so that
/// benchmarks and tests elsewhere draw from the same small seeded generator.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256**.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// Seeds the four state words from SplitMix64, as the authors recommend.
    pub(crate) fn new(seed: u64) -> Rng {
        let mut sm = seed;
        Rng {
            s: [splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm), splitmix64(&mut sm)],
        }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for the `n` used
    /// here and, being deterministic, harmless). `n` = 0 gives 0.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct`/100.
    pub(crate) fn percent(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    /// A heavy-tailed (log-uniform, density ∝ 1/x, i.e. Zipf with exponent 1) value in `0..n`:
    /// small values are far more likely than large ones. Integer-only.
    pub(crate) fn zipf(&mut self, n: u64) -> u64 {
        if n <= 1 {
            return 0;
        }
        let bits = u64::from(64 - (n - 1).leading_zeros());
        for _ in 0..8 {
            let e = self.below(bits);
            let v = (1u64 << e) - 1 + self.below(1u64 << e);
            if v < n {
                return v;
            }
        }
        self.below(n)
    }

    /// A heavy-tailed amount in `min..max` (log-uniform: each doubling equally likely).
    pub(crate) fn heavy_amount(&mut self, min: u64, max: u64) -> u64 {
        let min = min.max(1);
        let octaves = u64::from(64 - (max / min).max(1).leading_zeros());
        let e = self.below(octaves);
        let base = min << e;
        (base + self.below(base)).min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_pinned() {
        // SplitMix64's published first output for state 0, and xoshiro256** seeded from it,
        // checked against an independent implementation. The generator's files depend on
        // these streams never changing.
        let mut st = 0;
        assert_eq!(splitmix64(&mut st), 0xe220_a839_7b1d_cdaf);
        let mut r = Rng::new(0);
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            got,
            [11_091_344_671_253_066_420, 13_793_997_310_169_335_082, 1_900_383_378_846_508_768]
        );
    }

    #[test]
    fn zipf_prefers_small_values() {
        let mut r = Rng::new(7);
        let n = 1000;
        let small = (0..10_000).filter(|_| r.zipf(n) < 10).count();
        // Log-uniform: about a third of the mass is below 10 of 1000.
        assert!(small > 2_000, "{small}");
        assert!((0..10_000).all(|_| r.zipf(n) < n));
    }
}
