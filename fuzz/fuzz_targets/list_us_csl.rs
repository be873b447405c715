//! Screening list loader `us_csl`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("consolidated.csv", data, |p| {
        let _ = floodgate_screen::loaders::us_csl::load(p);
    });
});
