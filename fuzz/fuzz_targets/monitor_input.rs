//! Monitor input: bounded line reading, then each line parsed as an event.
#![no_main]
use floodgate_monitor::input::{parse_event, InputLimits, InputLine, LineReader};
use std::path::Path;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let assets = floodgate_types::AssetRegistry::builtin();
    let limits = InputLimits { max_line_bytes: 4096, max_field_bytes: 512 };
    let mut r = LineReader::new(data, Path::new("in.jsonl"), limits);
    while let Ok(Some(line)) = r.next_line() {
        if let InputLine::Text(n, text) = line {
            let _ = parse_event(Path::new("in.jsonl"), n, &text, &assets, None);
        }
    }
});
