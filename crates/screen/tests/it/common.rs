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

/// The Unihan reading table, loaded once; `None` when the test data is absent.
pub(crate) fn unihan() -> Option<&'static floodgate_screen::unihan::Unihan> {
    static U: OnceLock<Option<floodgate_screen::unihan::Unihan>> = OnceLock::new();
    U.get_or_init(|| {
        let dir = floodgate_testdata::dir("unicode")?;
        Some(floodgate_screen::unihan::Unihan::load(&dir.join("Unihan_Readings.txt.bz2")).unwrap())
    })
    .as_ref()
}
