//! Tron GraphSense JSON Lines and JSON-RPC documents.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let assets = floodgate_types::AssetRegistry::builtin();
    floodgate_fuzz::with_file("tron.jsonl", data, |p| {
        let _ = floodgate_ingest::tron::read_path(p, &assets, &mut floodgate_fuzz::sink());
    });
});
