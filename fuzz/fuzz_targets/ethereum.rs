//! Ethereum JSON-RPC blocks, receipts, logs, Parity and geth traces, ethereum-etl lines.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let assets = floodgate_types::AssetRegistry::builtin();
    floodgate_fuzz::with_file("eth.json", data, |p| {
        let _ = floodgate_ingest::ethereum::read_path(p, &assets, &mut floodgate_fuzz::sink());
    });
});
