//! Exchange ledger CSV and JSON Lines.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let assets = floodgate_types::AssetRegistry::builtin();
    floodgate_fuzz::with_file("ledger.csv", data, |p| {
        let _ = floodgate_ingest::ledger::read_ledger_path(p, &assets);
    });
});
