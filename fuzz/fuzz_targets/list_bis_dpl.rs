//! Screening list loader `bis_dpl`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("dpl.txt", data, |p| {
        let _ = floodgate_screen::loaders::bis_dpl::load(p);
    });
});
