//! Monitoring rules files (TOML with CEL predicates).
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = floodgate_monitor::pack::Pack::parse(std::path::Path::new("rules.toml"), text);
    }
});
