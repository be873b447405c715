//! Screening list loader `ofac_addresses`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("sanctioned_addresses_XBT.txt", data, |p| {
        let _ = floodgate_screen::loaders::ofac_addresses::load(p);
    });
});
