//! Bitcoin raw blocks, blk*.dat framing and getblock JSON (told apart by content).
#![no_main]
use std::path::Path;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let opts = floodgate_ingest::bitcoin::BitcoinOptions::default();
    let _ = floodgate_ingest::bitcoin::read_slice(
        Path::new("fuzz"),
        data,
        &opts,
        &mut floodgate_fuzz::sink(),
    );
});
