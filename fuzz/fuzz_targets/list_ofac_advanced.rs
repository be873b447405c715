//! Screening list loader `ofac_advanced`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("sdn_advanced.xml", data, |p| {
        let _ = floodgate_screen::loaders::ofac_advanced::load(p);
    });
});
