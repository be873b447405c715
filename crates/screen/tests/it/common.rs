//! Shared helpers: the big SDN file is parsed once per test binary.

use std::sync::OnceLock;

use floodgate_screen::ListSnapshot;

/// The OFAC SDN advanced XML, parsed once; `None` when the test data is absent.
pub(crate) fn sdn() -> Option<&'static ListSnapshot> {
    static SDN: OnceLock<Option<ListSnapshot>> = OnceLock::new();
    SDN.get_or_init(|| {
        let dir = floodgate_testdata::dir("sanctions/ofac-sdn")?;
        Some(
            floodgate_screen::loaders::ofac_advanced::load(&dir.join("sdn_advanced.xml.bz2"))
                .unwrap(),
        )
    })
    .as_ref()
}
