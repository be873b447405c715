//! Screening list loader `ftm`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("entities.ftm.json", data, |p| {
        let _ = floodgate_screen::loaders::ftm::load(p);
    });
});
