//! Screening list loader `ofac_csv` (a directory holding sdn.csv).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_dir_file("ofac-csv", "sdn.csv", data, |d| {
        let _ = floodgate_screen::loaders::ofac_csv::load(d);
    });
});
