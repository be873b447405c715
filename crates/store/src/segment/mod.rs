//! Chain segments: a commit group's Bitcoin outputs and inputs in one immutable, checksummed
//! byte string (ADR 0004), with the group's address dictionary and per-address row lists
//! built by the writer from what it holds in memory (sort-then-append). Byte layout:
//! `docs/formats/chain-segment.md`.
//!
//! - [`SegmentBuilder`] takes blocks in height order and transactions in block order, and
//!   [`SegmentBuilder::finish`] writes the segment and its two sorted runs (transaction ids,
//!   and the outpoints of inputs stored unresolved).
//! - [`SegmentView`] checks a stored segment (magic, version, section sizes, checksum, every
//!   row's references) and reads it without copying.

pub(crate) mod addr;
mod dict;
pub(crate) mod merge;
mod sort;

use floodgate_types::BtcAddress;

use self::addr::AddrKey;

/// The segment magic, `FGCHSEG` and a zero byte.
pub(crate) const MAGIC: [u8; 8] = *b"FGCHSEG\0";
/// The layout version this build writes: 2 keeps the sorted runs in the file, after the
/// dictionary; 1 (still read) kept them in the manifest only.
pub(crate) const VERSION: u32 = 2;
/// An input's address id when its funding output was not known when it was stored.
pub(crate) const NO_ADDR: u32 = u32::MAX;
/// A block's time when the source did not give one.
const NO_TIME: i64 = i64::MIN;

const HEADER: usize = 48;
const BLOCK: usize = 24;
const TX: usize = 48;
const OUT: usize = 16;
const IN: usize = 56;
/// A run entry: an 8-byte prefix and two `u32`s.
pub(crate) const RUN: usize = 16;

/// Why a stored segment cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corrupt(pub(crate) String);

fn corrupt(what: impl Into<String>) -> Corrupt {
    Corrupt(what.into())
}

/// The first 8 bytes of a transaction id as a number: the key of the sorted runs.
pub(crate) fn prefix(txid: &[u8; 32]) -> u64 {
    let mut p = [0u8; 8];
    p.copy_from_slice(&txid[..8]);
    u64::from_be_bytes(p)
}

/// What a finished segment holds, for the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SegmentCounts {
    pub(crate) blocks: u32,
    pub(crate) txs: u32,
    pub(crate) outputs: u32,
    pub(crate) inputs: u32,
    /// Inputs with a funding outpoint and no address.
    pub(crate) unresolved: u32,
    pub(crate) min_height: u64,
    pub(crate) max_height: u64,
}

/// A finished segment and its runs.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The segment's bytes in parts (header, row sections, dictionary, runs and checksum),
    /// written one after the other: the row sections are not copied into one buffer first.
    parts: Vec<Vec<u8>>,
    /// `(txid prefix, transaction, first output)`, sorted.
    pub(crate) txid_entries: Vec<(u64, u32, u32)>,
    /// `(funding txid prefix, input row, funding vout)` of unresolved inputs, sorted.
    pub(crate) unresolved_entries: Vec<(u64, u32, u32)>,
    pub(crate) counts: SegmentCounts,
}

/// A segment ready to be written: what its manifest row records, and its bytes.
pub(crate) trait Segment {
    /// Its counts and height range.
    fn counts(&self) -> &SegmentCounts;
    /// Writes the segment's bytes.
    fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()>;

    /// The segment's bytes in one buffer.
    #[cfg(test)]
    fn data(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.write_to(&mut v).unwrap_or_default();
        v
    }
}

impl Segment for Finished {
    fn counts(&self) -> &SegmentCounts {
        &self.counts
    }
    fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.parts.iter().try_for_each(|p| w.write_all(p))
    }
}

/// The header of a segment with these counts (`counts.unresolved` entries in its
/// unresolved run).
fn header(counts: &SegmentCounts, n_addr: usize, key_bytes: usize, n_post: usize) -> Vec<u8> {
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(&MAGIC);
    put_u32(&mut head, VERSION);
    put_u32(&mut head, 0); // chain 0 = bitcoin, reserved bytes
    for n in [
        counts.blocks,
        counts.txs,
        counts.outputs,
        counts.inputs,
        len_u32(n_addr),
        len_u32(key_bytes),
        len_u32(n_post),
        counts.unresolved,
    ] {
        put_u32(&mut head, n);
    }
    head
}

/// Buffers kept from one segment to the next (the store keeps one): a bulk load builds tens
/// of MB of sections, dictionary and lists per group, and fresh buffers fault every page in
/// again (a page fault costs microseconds on a virtual machine).
#[derive(Debug, Default)]
pub(crate) struct Pool {
    bytes: Vec<Vec<u8>>,
    words: Vec<Vec<u32>>,
    keys: Vec<Vec<AddrKey>>,
    order: Vec<(u64, u32)>,
    order_scratch: Vec<(u64, u32)>,
    runs: Vec<(u64, u32, u32)>,
    dict: dict::Dict,
}

/// The pooled buffer that best fits `cap` items (the smallest that holds them, else the
/// largest), empty; a new one when the pool has none.
fn take<T>(pool: &mut Vec<Vec<T>>, cap: usize) -> Vec<T> {
    let fits = |v: &Vec<T>| v.capacity() >= cap;
    let best = (0..pool.len())
        .filter(|i| fits(&pool[*i]))
        .min_by_key(|i| pool[*i].capacity())
        .or_else(|| (0..pool.len()).max_by_key(|i| pool[*i].capacity()));
    let mut v = best.map(|i| pool.swap_remove(i)).unwrap_or_default();
    v.clear();
    v.reserve(cap);
    v
}

/// Returns a buffer to the pool (which keeps a few of each kind).
fn give<T>(pool: &mut Vec<Vec<T>>, v: Vec<T>) {
    if v.capacity() > 0 && pool.len() < 8 {
        pool.push(v);
    }
}

impl Pool {
    /// Takes back the buffers of a segment once written.
    pub(crate) fn recycle(&mut self, f: &mut Finished) {
        for p in std::mem::take(&mut f.parts) {
            give(&mut self.bytes, p);
        }
    }
}

/// Builds one segment in memory.
#[derive(Default)]
pub(crate) struct SegmentBuilder {
    blocks: Vec<u8>,
    txs: Vec<u8>,
    outs: Vec<u8>,
    ins: Vec<u8>,
    /// The group's distinct addresses.
    dict: dict::Dict,
    /// Rows' addresses not yet looked up in `dict` (a batch at a time), where each one's
    /// index goes (an output row's, or a resolved input's), and the indexes found.
    batch: Vec<BtcAddress>,
    batch_to: Vec<Slot>,
    batch_ids: Vec<u32>,
    /// The address index of each output row, and of each resolved input with its input row.
    out_ids: Vec<u32>,
    in_ids: Vec<u32>,
    in_rows: Vec<u32>,
    counts: SegmentCounts,
    txid_run: Vec<(u64, u32, u32)>,
    unresolved_run: Vec<(u64, u32, u32)>,
    last_height: Option<u64>,
}

/// Where a looked-up address index goes.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Output(usize),
    Input(usize),
}

fn put_u32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put_u64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn len_u32(n: usize) -> u32 {
    // Counts of one group's rows: a group of 2^32 rows would need hundreds of GB of blocks
    // in memory first; saturating keeps a bad count from wrapping silently.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl SegmentBuilder {
    /// A builder with room for this many blocks, transactions, outputs and inputs (a group
    /// knows them before it starts: no section grows by copying), its buffers from `pool`.
    pub(crate) fn with_capacity(
        pool: &mut Pool,
        blocks: usize,
        txs: usize,
        outs: usize,
        ins: usize,
    ) -> Self {
        let mut dict = std::mem::take(&mut pool.dict);
        // Rows repeat addresses (a group of the 2M world: 140,000 for 233,000 rows); the
        // table grows if they do not.
        dict.reset((outs + ins) * 3 / 4);
        SegmentBuilder {
            blocks: take(&mut pool.bytes, blocks * BLOCK),
            txs: take(&mut pool.bytes, txs * TX),
            outs: take(&mut pool.bytes, outs * OUT),
            ins: take(&mut pool.bytes, ins * IN),
            dict,
            out_ids: take(&mut pool.words, outs),
            in_ids: take(&mut pool.words, ins),
            in_rows: take(&mut pool.words, ins),
            txid_run: Vec::with_capacity(txs),
            ..SegmentBuilder::default()
        }
    }

    /// Queues a row's address for the dictionary, looking a batch up when full.
    fn name(&mut self, address: &BtcAddress, slot: Slot) {
        self.batch.push(*address);
        self.batch_to.push(slot);
        if self.batch.len() == dict::BATCH {
            self.look_up();
        }
    }

    /// Looks the queued addresses up in the dictionary.
    fn look_up(&mut self) {
        self.batch_ids.clear();
        self.dict.assign(&self.batch, &mut self.batch_ids);
        for (slot, id) in self.batch_to.drain(..).zip(&self.batch_ids) {
            match slot {
                Slot::Output(i) => self.out_ids[i] = *id,
                Slot::Input(i) => self.in_ids[i] = *id,
            }
        }
        self.batch.clear();
    }

    /// Whether nothing was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.blocks == 0
    }

    /// Starts a block; heights must not decrease.
    pub(crate) fn block(&mut self, height: u64, time: Option<i64>) {
        if self.counts.blocks == 0 {
            self.counts.min_height = height;
        }
        debug_assert!(self.last_height.is_none_or(|h| h <= height), "blocks in height order");
        self.last_height = Some(height);
        self.counts.max_height = self.counts.max_height.max(height);
        self.counts.blocks += 1;
        put_u64(&mut self.blocks, height);
        put_u64(&mut self.blocks, time.unwrap_or(NO_TIME) as u64);
        put_u32(&mut self.blocks, self.counts.txs);
        put_u32(&mut self.blocks, 0);
    }

    /// Starts a transaction of the current block.
    pub(crate) fn tx(&mut self, txid: &[u8; 32], position: u32) {
        let tx = self.counts.txs;
        self.txs.extend_from_slice(txid);
        put_u32(&mut self.txs, self.counts.blocks.saturating_sub(1));
        put_u32(&mut self.txs, position);
        put_u32(&mut self.txs, self.counts.outputs);
        put_u32(&mut self.txs, self.counts.inputs);
        self.txid_run.push((prefix(txid), tx, self.counts.outputs));
        self.counts.txs += 1;
    }

    /// An output of the current transaction.
    pub(crate) fn output(&mut self, vout: u32, address: &BtcAddress, value: u64) {
        put_u32(&mut self.outs, vout);
        put_u32(&mut self.outs, 0); // its address id, once the dictionary is sorted
        put_u64(&mut self.outs, value);
        self.out_ids.push(0);
        self.name(address, Slot::Output(self.out_ids.len() - 1));
        self.counts.outputs += 1;
    }

    /// An input of the current transaction: what it spends (`None` for a coinbase) and,
    /// when known, the spent output's address and value.
    pub(crate) fn input(
        &mut self,
        vin: u32,
        prevout: Option<(&[u8; 32], u32)>,
        resolved: Option<(&BtcAddress, u64)>,
    ) {
        let row = self.counts.inputs;
        let (id, value) = match resolved {
            Some((k, v)) => {
                self.in_rows.push(row);
                self.in_ids.push(0);
                self.name(k, Slot::Input(self.in_ids.len() - 1));
                (0, v) // its address id, once the dictionary is sorted
            }
            None => (NO_ADDR, 0),
        };
        match prevout {
            Some((txid, vout)) => {
                self.ins.extend_from_slice(txid);
                put_u32(&mut self.ins, vout);
                if id == NO_ADDR {
                    self.unresolved_run.push((prefix(txid), row, vout));
                    self.counts.unresolved += 1;
                }
            }
            None => {
                self.ins.extend_from_slice(&[0; 32]);
                put_u32(&mut self.ins, 0);
            }
        }
        put_u32(&mut self.ins, vin);
        put_u32(&mut self.ins, id);
        put_u32(&mut self.ins, u32::from(prevout.is_some()));
        put_u64(&mut self.ins, value);
        self.counts.inputs += 1;
    }

    /// Writes the segment: the dictionary sorted (an address's id is its rank), rows
    /// numbered by it, each address's rows listed (outputs, then inputs, each in row order),
    /// the checksum last. Temporary buffers come from, and go back to, `pool`.
    pub(crate) fn finish(mut self, pool: &mut Pool) -> Finished {
        // Each row's index among the distinct addresses (order of first use).
        self.look_up();
        let (out_ids, in_ids) = (self.out_ids, self.in_ids);
        // Keys of the distinct addresses, sorted; two addresses with one canonical text (a
        // regtest and a testnet base58 address) share one key and one rank.
        let mut all = take(&mut pool.keys, self.dict.addrs.len());
        all.extend(self.dict.addrs.iter().map(AddrKey::of_btc));
        // Sorted by the keys' first 8 bytes, then (rarely needed) the whole key: the sort
        // compares numbers in one array instead of chasing every key.
        let mut order = std::mem::take(&mut pool.order);
        order.clear();
        order.extend(all.iter().enumerate().map(|(i, k)| {
            let mut w = [0u8; 8];
            let b = k.as_bytes();
            let n = b.len().min(8);
            w[..n].copy_from_slice(&b[..n]);
            (u64::from_be_bytes(w), len_u32(i))
        }));
        sort::by_key(&mut order, &mut pool.order_scratch, |e| e.0);
        // Keys sharing their first 8 bytes (rare) are ordered by the whole key.
        let mut from = 0;
        while from < order.len() {
            let to = from + order[from..].iter().take_while(|e| e.0 == order[from].0).count();
            if to - from > 1 {
                order[from..to].sort_unstable_by(|a, b| all[a.1 as usize].cmp(&all[b.1 as usize]));
            }
            from = to;
        }
        let mut rank = take(&mut pool.words, all.len());
        rank.resize(all.len(), 0);
        let mut keys: Vec<&AddrKey> = Vec::with_capacity(all.len());
        for (_, id) in &order {
            let k = &all[*id as usize];
            if keys.last() != Some(&k) {
                keys.push(k);
            }
            rank[*id as usize] = len_u32(keys.len() - 1);
        }
        let n_addr = keys.len();
        // Rows numbered (the address id sits at byte 4 of an output row and byte 40 of an
        // input row), and counted per address.
        let mut per = take(&mut pool.words, n_addr + 1);
        per.resize(n_addr + 1, 0);
        for (row, id) in out_ids.iter().enumerate() {
            let r = rank[*id as usize];
            self.outs[row * OUT + 4..row * OUT + 8].copy_from_slice(&r.to_le_bytes());
            per[r as usize + 1] += 1;
        }
        for (row, id) in self.in_rows.iter().zip(&in_ids) {
            let (row, r) = (*row as usize, rank[*id as usize]);
            self.ins[row * IN + 40..row * IN + 44].copy_from_slice(&r.to_le_bytes());
            per[r as usize + 1] += 1;
        }
        for i in 1..per.len() {
            per[i] += per[i - 1];
        }
        let n_post = per[n_addr] as usize;
        let mut postings = take(&mut pool.words, n_post);
        postings.resize(n_post, 0);
        let mut fill = take(&mut pool.words, per.len());
        fill.extend_from_slice(&per);
        let n_out = self.counts.outputs;
        let rows = out_ids
            .iter()
            .enumerate()
            .map(|(row, id)| (len_u32(row), *id))
            .chain(self.in_rows.iter().zip(&in_ids).map(|(row, id)| (n_out + *row, *id)));
        for (r, id) in rows {
            let a = rank[id as usize] as usize;
            postings[fill[a] as usize] = r;
            fill[a] += 1;
        }
        // Pushed in row order, so a stable sort by prefix is the order of whole entries.
        sort::by_key(&mut self.txid_run, &mut pool.runs, |e| e.0);
        sort::by_key(&mut self.unresolved_run, &mut pool.runs, |e| e.0);
        let tail = take(&mut pool.bytes, 8 * (n_addr + 1) + 44 * n_addr + 4 * n_post + 4);
        let finished = assemble(
            self.counts,
            [self.blocks, self.txs, self.outs, self.ins],
            &keys,
            &per,
            &postings,
            tail,
            self.txid_run,
            self.unresolved_run,
        );
        for v in [out_ids, in_ids, rank, per, postings, fill, self.in_rows] {
            give(&mut pool.words, v);
        }
        drop(keys);
        give(&mut pool.keys, all);
        pool.dict = self.dict;
        pool.order = order;
        finished
    }
}

/// A finished segment from its row sections (blocks, transactions, outputs, inputs, in that
/// order), its sorted address keys, the per-address offsets into `postings` (`keys.len() + 1`
/// of them) and its two runs, sorted: the header, the dictionary and the checksum (written
/// into `tail`, an empty buffer).
#[allow(clippy::too_many_arguments)] // the sections of one layout, each named
fn assemble<K: AsRef<[u8]>>(
    counts: SegmentCounts,
    rows: [Vec<u8>; 4],
    keys: &[K],
    per: &[u32],
    postings: &[u32],
    mut tail: Vec<u8>,
    txid_run: Vec<(u64, u32, u32)>,
    unresolved_run: Vec<(u64, u32, u32)>,
) -> Finished {
    let n_addr = keys.len();
    let key_bytes: usize = keys.iter().map(|k| k.as_ref().len()).sum();
    let head = header(&counts, n_addr, key_bytes, postings.len());
    tail.reserve(8 * (n_addr + 1) + key_bytes + 4 * postings.len() + 4);
    let mut at = 0u32;
    put_u32(&mut tail, 0);
    for k in keys {
        at += k.as_ref().len() as u32;
        put_u32(&mut tail, at);
    }
    for k in keys {
        tail.extend_from_slice(k.as_ref());
    }
    for p in per {
        put_u32(&mut tail, *p);
    }
    for p in postings {
        put_u32(&mut tail, *p);
    }
    write_run(&mut tail, &txid_run);
    write_run(&mut tail, &unresolved_run);
    let [blocks, txs, outs, ins] = rows;
    let mut crc = crc32fast::Hasher::new();
    for part in [&head, &blocks, &txs, &outs, &ins, &tail] {
        crc.update(part);
    }
    put_u32(&mut tail, crc.finalize());
    Finished {
        txid_entries: txid_run,
        unresolved_entries: unresolved_run,
        parts: vec![head, blocks, txs, outs, ins, tail],
        counts,
    }
}

/// Appends a run's entries and their CRC-32 to `v`.
fn write_run(v: &mut Vec<u8>, run: &[(u64, u32, u32)]) {
    let from = v.len();
    v.reserve(run.len() * RUN + 4);
    for (p, a, b) in run {
        put_u64(v, *p);
        put_u32(v, *a);
        put_u32(v, *b);
    }
    let crc = crc32fast::hash(&v[from..]);
    put_u32(v, crc);
}

/// A run's bytes as stored (its entries, then their CRC-32).
fn run_bytes(run: &[(u64, u32, u32)]) -> Vec<u8> {
    let mut v = Vec::new();
    write_run(&mut v, run);
    v
}

/// Where a segment file of layout 2 keeps its two runs, from its header: the offset of the
/// transaction-id run and the lengths of both (each with its CRC-32); the unresolved run
/// follows. `None` for a layout-1 header (its runs are in the manifest).
pub(crate) fn runs_span(head: &[u8]) -> Result<Option<(u64, u64, u64)>, Corrupt> {
    if head.len() < HEADER || head[..8] != MAGIC {
        return Err(corrupt("not a floodgate chain segment (bad magic)"));
    }
    match u32_at(head, 8) {
        1 => return Ok(None),
        VERSION => {}
        v => {
            return Err(corrupt(format!(
                "segment layout version {v}, this build reads 1 and {VERSION}"
            )))
        }
    }
    let n = |i: usize| u64::from(u32_at(head, 16 + 4 * i));
    let (n_blocks, n_tx, n_out, n_in, n_addr, key_bytes, n_post, n_unres) =
        (n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7));
    let at = HEADER as u64
        + n_blocks * BLOCK as u64
        + n_tx * TX as u64
        + n_out * OUT as u64
        + n_in * IN as u64
        + (n_addr + 1) * 4
        + key_bytes
        + (n_addr + 1) * 4
        + n_post * 4;
    Ok(Some((at, n_tx * RUN as u64 + 4, n_unres * RUN as u64 + 4)))
}

/// A sorted run read back: `(prefix, a, b)` entries.
pub(crate) fn read_run(bytes: &[u8]) -> Result<Vec<(u64, u32, u32)>, Corrupt> {
    let (body, crc) = split_crc(bytes)?;
    if body.len() % RUN != 0 {
        return Err(corrupt(format!("run of {} bytes is not whole entries", body.len())));
    }
    if crc32fast::hash(body) != crc {
        return Err(corrupt("run checksum mismatch"));
    }
    let run: Vec<(u64, u32, u32)> =
        body.chunks_exact(RUN).map(|c| (u64_at(c, 0), u32_at(c, 8), u32_at(c, 12))).collect();
    if run.windows(2).any(|w| w[0] > w[1]) {
        return Err(corrupt("run is not sorted"));
    }
    Ok(run)
}

fn split_crc(bytes: &[u8]) -> Result<(&[u8], u32), Corrupt> {
    if bytes.len() < 4 {
        return Err(corrupt("shorter than its checksum"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    Ok((body, u32_at(crc, 0)))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// A block of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegBlock {
    pub(crate) height: u64,
    pub(crate) time: Option<i64>,
    pub(crate) first_tx: u32,
}

/// A transaction of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegTx<'a> {
    pub(crate) txid: &'a [u8; 32],
    pub(crate) block: u32,
    pub(crate) position: u32,
    pub(crate) first_out: u32,
    pub(crate) first_in: u32,
}

/// An output row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegOut {
    pub(crate) vout: u32,
    pub(crate) addr: u32,
    pub(crate) value: u64,
}

/// An input row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SegIn<'a> {
    /// The spent outpoint; `None` for a coinbase input.
    pub(crate) prevout: Option<(&'a [u8; 32], u32)>,
    pub(crate) vin: u32,
    /// `NO_ADDR` while unresolved in the segment.
    pub(crate) addr: u32,
    pub(crate) value: u64,
}

/// A checked segment, read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentView<'a> {
    blocks: &'a [u8],
    txs: &'a [u8],
    outs: &'a [u8],
    ins: &'a [u8],
    addr_off: &'a [u8],
    keys: &'a [u8],
    post_off: &'a [u8],
    postings: &'a [u8],
    /// The runs as stored (layout 2; empty in layout 1, whose runs are in the manifest).
    txid_run: &'a [u8],
    unresolved_run: &'a [u8],
    n_blocks: u32,
    n_tx: u32,
    n_out: u32,
    n_in: u32,
    n_addr: u32,
}

impl<'a> SegmentView<'a> {
    /// Checks `bytes` (checksum, then every reference inside) and reads its layout.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Self, Corrupt> {
        let (body, crc) = split_crc(bytes)?;
        if body.len() < HEADER || body[..8] != MAGIC {
            return Err(corrupt("not a floodgate chain segment (bad magic)"));
        }
        runs_span(body)?;
        if crc32fast::hash(body) != crc {
            return Err(corrupt("segment checksum mismatch"));
        }
        let v = Self::layout(bytes)?;
        v.check(u32_at(body, 36), u32_at(body, 40))?;
        Ok(v)
    }

    /// Reads the layout of a segment [`SegmentView::parse`] accepted before (cheap: no
    /// checksum, no row checks; sections are still bounds-checked, so other bytes give an
    /// error, never a panic here).
    pub(crate) fn layout(bytes: &'a [u8]) -> Result<Self, Corrupt> {
        let (body, _) = split_crc(bytes)?;
        if body.len() < HEADER || body[..8] != MAGIC {
            return Err(corrupt("not a floodgate chain segment (bad magic)"));
        }
        let layout_2 = runs_span(body)?.is_some();
        let n = |i: usize| u32_at(body, 16 + 4 * i);
        let (n_blocks, n_tx, n_out, n_in, n_addr, key_bytes, n_post, n_unres) =
            (n(0), n(1), n(2), n(3), n(4), n(5), n(6), n(7));
        let mut at = HEADER;
        let mut take = |len: u64| -> Result<&'a [u8], Corrupt> {
            let end = (at as u64).checked_add(len).filter(|e| *e <= body.len() as u64);
            let end = end.ok_or_else(|| corrupt("a section runs past the end"))? as usize;
            let s = &body[at..end];
            at = end;
            Ok(s)
        };
        let blocks = take(u64::from(n_blocks) * BLOCK as u64)?;
        let txs = take(u64::from(n_tx) * TX as u64)?;
        let outs = take(u64::from(n_out) * OUT as u64)?;
        let ins = take(u64::from(n_in) * IN as u64)?;
        let addr_off = take((u64::from(n_addr) + 1) * 4)?;
        let keys = take(u64::from(key_bytes))?;
        let post_off = take((u64::from(n_addr) + 1) * 4)?;
        let postings = take(u64::from(n_post) * 4)?;
        let (txid_run, unresolved_run) = if layout_2 {
            (take(u64::from(n_tx) * RUN as u64 + 4)?, take(u64::from(n_unres) * RUN as u64 + 4)?)
        } else {
            (&[][..], &[][..])
        };
        if at != body.len() {
            return Err(corrupt("bytes after the last section"));
        }
        Ok(SegmentView {
            blocks,
            txs,
            outs,
            ins,
            addr_off,
            keys,
            post_off,
            postings,
            txid_run,
            unresolved_run,
            n_blocks,
            n_tx,
            n_out,
            n_in,
            n_addr,
        })
    }

    /// The runs the segment holds (layout 2), as stored; `None` in layout 1.
    pub(crate) fn runs(&self) -> Option<(&'a [u8], &'a [u8])> {
        (!self.txid_run.is_empty()).then_some((self.txid_run, self.unresolved_run))
    }

    /// Every reference inside the segment points inside it, in order.
    fn check(&self, key_bytes: u32, n_post: u32) -> Result<(), Corrupt> {
        let mut prev_height = 0;
        let mut prev_tx = 0;
        for i in 0..self.n_blocks {
            let b = self.block(i);
            if b.height < prev_height || b.first_tx < prev_tx || b.first_tx > self.n_tx {
                return Err(corrupt(format!("block {i} out of order")));
            }
            (prev_height, prev_tx) = (b.height, b.first_tx);
        }
        let (mut po, mut pi) = (0, 0);
        for i in 0..self.n_tx {
            let t = self.tx(i);
            if t.block >= self.n_blocks
                || t.first_out < po
                || t.first_in < pi
                || t.first_out > self.n_out
                || t.first_in > self.n_in
            {
                return Err(corrupt(format!("transaction {i} out of order")));
            }
            (po, pi) = (t.first_out, t.first_in);
        }
        for i in 0..self.n_out {
            if self.output(i).addr >= self.n_addr {
                return Err(corrupt(format!("output {i} names no address")));
            }
        }
        for i in 0..self.n_in {
            let a = self.input(i).addr;
            if a != NO_ADDR && a >= self.n_addr {
                return Err(corrupt(format!("input {i} names no address")));
            }
        }
        let mut prev = 0;
        for i in 0..=self.n_addr as usize {
            let (k, p) = (u32_at(self.addr_off, 4 * i), u32_at(self.post_off, 4 * i));
            if k < prev || k > key_bytes || p > n_post {
                return Err(corrupt("address dictionary out of order"));
            }
            prev = k;
        }
        if self.postings.chunks_exact(4).any(|c| u32_at(c, 0) >= self.n_out + self.n_in) {
            return Err(corrupt("an address lists a row that does not exist"));
        }
        if let Some((txids, unresolved)) = self.runs() {
            let bad = |what: &str| corrupt(format!("its {what} run does not match its rows"));
            for (p, t, first_out) in read_run(txids)? {
                let ok = t < self.n_tx && {
                    let tx = self.tx(t);
                    prefix(tx.txid) == p && tx.first_out == first_out
                };
                if !ok {
                    return Err(bad("transaction"));
                }
            }
            for (p, row, vout) in read_run(unresolved)? {
                let ok = row < self.n_in && {
                    let i = self.input(row);
                    i.addr == NO_ADDR && i.prevout.is_some_and(|(t, v)| prefix(t) == p && v == vout)
                };
                if !ok {
                    return Err(bad("unresolved-input"));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn n_blocks(&self) -> u32 {
        self.n_blocks
    }
    pub(crate) fn n_tx(&self) -> u32 {
        self.n_tx
    }
    pub(crate) fn n_out(&self) -> u32 {
        self.n_out
    }
    pub(crate) fn n_in(&self) -> u32 {
        self.n_in
    }
    pub(crate) fn n_addr(&self) -> u32 {
        self.n_addr
    }

    pub(crate) fn block(&self, i: u32) -> SegBlock {
        let at = i as usize * BLOCK;
        let time = u64_at(self.blocks, at + 8) as i64;
        SegBlock {
            height: u64_at(self.blocks, at),
            time: (time != NO_TIME).then_some(time),
            first_tx: u32_at(self.blocks, at + 16),
        }
    }

    pub(crate) fn tx(&self, i: u32) -> SegTx<'a> {
        let at = i as usize * TX;
        let txid: &'a [u8; 32] = self.txs[at..at + 32].try_into().unwrap_or(&[0; 32]);
        SegTx {
            txid,
            block: u32_at(self.txs, at + 32),
            position: u32_at(self.txs, at + 36),
            first_out: u32_at(self.txs, at + 40),
            first_in: u32_at(self.txs, at + 44),
        }
    }

    /// The output rows of transaction `i`.
    pub(crate) fn tx_outputs(&self, i: u32) -> std::ops::Range<u32> {
        let end = if i + 1 < self.n_tx { self.tx(i + 1).first_out } else { self.n_out };
        self.tx(i).first_out..end
    }

    /// The input rows of transaction `i`.
    pub(crate) fn tx_inputs(&self, i: u32) -> std::ops::Range<u32> {
        let end = if i + 1 < self.n_tx { self.tx(i + 1).first_in } else { self.n_in };
        self.tx(i).first_in..end
    }

    /// The transaction holding output row `row`.
    pub(crate) fn tx_of_output(&self, row: u32) -> u32 {
        self.partition(|t| t.first_out <= row)
    }

    /// The transaction holding input row `row`.
    pub(crate) fn tx_of_input(&self, row: u32) -> u32 {
        self.partition(|t| t.first_in <= row)
    }

    /// The last transaction for which `pred` holds (it holds for a prefix).
    fn partition(&self, pred: impl Fn(&SegTx<'a>) -> bool) -> u32 {
        let (mut lo, mut hi) = (0u32, self.n_tx);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if pred(&self.tx(mid)) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.saturating_sub(1)
    }

    pub(crate) fn output(&self, i: u32) -> SegOut {
        let at = i as usize * OUT;
        SegOut {
            vout: u32_at(self.outs, at),
            addr: u32_at(self.outs, at + 4),
            value: u64_at(self.outs, at + 8),
        }
    }

    pub(crate) fn input(&self, i: u32) -> SegIn<'a> {
        let at = i as usize * IN;
        let has_prev = u32_at(self.ins, at + 44) & 1 == 1;
        let txid: &'a [u8; 32] = self.ins[at..at + 32].try_into().unwrap_or(&[0; 32]);
        SegIn {
            prevout: has_prev.then(|| (txid, u32_at(self.ins, at + 32))),
            vin: u32_at(self.ins, at + 36),
            addr: u32_at(self.ins, at + 40),
            value: u64_at(self.ins, at + 48),
        }
    }

    /// The key bytes of address `id`.
    pub(crate) fn key(&self, id: u32) -> &'a [u8] {
        let i = id as usize;
        let (a, b) = (u32_at(self.addr_off, 4 * i) as usize, u32_at(self.addr_off, 4 * i + 4));
        &self.keys[a..(b as usize).max(a)]
    }

    /// The id of the address with key `key`, if the segment has it.
    pub(crate) fn find(&self, key: &[u8]) -> Option<u32> {
        let (mut lo, mut hi) = (0u32, self.n_addr);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.key(mid).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The rows of address `id`: output rows `r < n_out`, input rows `n_out + r`, ascending.
    pub(crate) fn rows_of(&self, id: u32) -> impl Iterator<Item = u32> + 'a {
        let i = id as usize;
        let (a, b) = (u32_at(self.post_off, 4 * i) as usize, u32_at(self.post_off, 4 * i + 4));
        let postings = self.postings;
        (a..(b as usize).max(a)).map(move |p| u32_at(postings, 4 * p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use floodgate_types::{Address, Chain};

    use super::dict::fingerprint;
    use super::*;

    fn key(s: &str) -> AddrKey {
        AddrKey::of(&Address::parse(Chain::Bitcoin, s).unwrap()).unwrap()
    }

    fn btc(s: &str) -> BtcAddress {
        BtcAddress::parse(s).unwrap()
    }

    fn sample() -> Finished {
        let (a, b) = (
            btc("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"),
            btc("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        );
        let mut s = SegmentBuilder::default();
        s.block(7, Some(1_000));
        s.tx(&[9; 32], 0);
        s.input(0, None, None);
        s.output(0, &b, 50);
        s.output(1, &a, 7);
        s.block(8, None);
        s.tx(&[3; 32], 0);
        s.input(0, Some((&[9; 32], 0)), Some((&b, 50)));
        s.input(1, Some((&[1; 32], 4)), None);
        s.output(0, &a, 40);
        s.finish(&mut Pool::default())
    }

    #[test]
    fn a_segment_reads_back_what_was_written() {
        let f = sample();
        assert_eq!(
            f.counts,
            SegmentCounts {
                blocks: 2,
                txs: 2,
                outputs: 3,
                inputs: 3,
                unresolved: 1,
                min_height: 7,
                max_height: 8
            }
        );
        let data = f.data();
        let v = SegmentView::parse(&data).unwrap();
        assert_eq!(v.block(1), SegBlock { height: 8, time: None, first_tx: 1 });
        assert_eq!(v.block(0).time, Some(1_000));
        assert_eq!(v.tx_outputs(1), 2..3);
        assert_eq!(v.tx_inputs(1), 1..3);
        assert_eq!(v.tx_of_input(2), 1);
        assert_eq!(v.tx_of_output(1), 0);
        let a = v.find(key("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa").as_bytes()).unwrap();
        assert_eq!(v.rows_of(a).collect::<Vec<_>>(), vec![1, 2]);
        let b = v.find(key("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4").as_bytes()).unwrap();
        assert_eq!(v.rows_of(b).collect::<Vec<_>>(), vec![0, 3 + 1]);
        assert_eq!(v.input(2).addr, NO_ADDR);
        assert_eq!(v.input(2).prevout, Some((&[1; 32], 4)));
        assert_eq!(v.input(1).value, 50);
        assert_eq!(f.unresolved_entries, vec![(prefix(&[1; 32]), 2, 4)]);
        let (txids, unresolved) = v.runs().unwrap();
        assert_eq!(read_run(unresolved).unwrap(), f.unresolved_entries);
        assert_eq!(read_run(txids).unwrap(), f.txid_entries);
        assert_eq!(f.txid_entries, vec![(prefix(&[3; 32]), 1, 2), (prefix(&[9; 32]), 0, 0)]);
    }

    /// Addresses ground to share a fingerprint (same first 8 payload bytes) stay apart.
    #[test]
    fn addresses_with_one_fingerprint_keep_their_own_rows() {
        use floodgate_types::BtcNetwork;
        let p2pkh = |tail: u8| {
            let mut h = [7u8; 20];
            h[19] = tail;
            let script = [&[0x76, 0xa9, 0x14][..], &h, &[0x88, 0xac]].concat();
            BtcAddress::from_script(&script, BtcNetwork::Mainnet).address
        };
        let (a, b, c) = (p2pkh(1), p2pkh(2), p2pkh(3));
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let mut s = SegmentBuilder::default();
        s.block(1, None);
        s.tx(&[1; 32], 0);
        for (vout, x) in [a, b, c, b, a].iter().enumerate() {
            s.output(vout as u32, x, 1);
        }
        let f = s.finish(&mut Pool::default());
        let data = f.data();
        let v = SegmentView::parse(&data).unwrap();
        let rows = |x: &BtcAddress| {
            let id = v.find(AddrKey::of_btc(x).as_bytes()).unwrap();
            v.rows_of(id).collect::<Vec<_>>()
        };
        assert_eq!((rows(&a), rows(&b), rows(&c)), (vec![0, 4], vec![1, 3], vec![2]));
    }

    #[test]
    fn any_flipped_bit_is_refused() {
        let f = sample();
        let data = f.data();
        for i in 0..data.len() {
            for bit in 0..8 {
                let mut d = data.clone();
                d[i] ^= 1 << bit;
                assert!(SegmentView::parse(&d).is_err(), "byte {i} bit {bit}");
            }
        }
        assert!(SegmentView::parse(&data[..data.len() - 1]).is_err());
    }
}
