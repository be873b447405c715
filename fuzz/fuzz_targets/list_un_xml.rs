//! Screening list loader `un_xml`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("consolidated.xml", data, |p| {
        let _ = floodgate_screen::loaders::un_xml::load(p);
    });
});
