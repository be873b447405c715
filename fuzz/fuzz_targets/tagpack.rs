//! GraphSense TagPacks (YAML).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    floodgate_fuzz::with_file("pack.yaml", data, |p| {
        let _ = floodgate_attribution::TagSet::new().load_tagpack(p);
    });
});
