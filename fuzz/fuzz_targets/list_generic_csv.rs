//! Screening list loader `generic_csv`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("list.csv", data, |p| {
        let _ = floodgate_screen::loaders::generic_csv::load(p);
    });
});
