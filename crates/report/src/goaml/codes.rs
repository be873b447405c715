//! Code lists (enumerations) of the UNODC goAML 5.0.1 report schema (`goAMLSchema.xsd`,
//! `thecury/goAML` at d7af8f0959c7fef65db96ac952d431ece10a124b; see the test data's SOURCES.md).
//! Generated from the schema's `xs:simpleType` enumerations; each FIU configures its own
//! lookups, so another FIU's schema may list other codes. Most are ISO codes (4217, 3166-1).

/// `currency_type`: 262 codes.
pub(crate) const CURRENCY_TYPE: &[&str] = &[
    "-", "ADF", "ADP", "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "AOK", "AON", "ARA", "ARS", "ATS",
    "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BEC", "BEF", "BEL", "BGL", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BUK", "BWP", "BYR", "BZD", "CAD", "CDF", "CDZ",
    "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CSK", "CUP", "CVE", "CYP",
    "CZK", "DDM", "DEM", "DJF", "DKK", "DOP", "DZD", "ECS", "ECV", "EEK", "EGP", "ERN", "ESA",
    "ESB", "ESP", "ETB", "EUR", "FIM", "FJD", "FKP", "FRF", "GBP", "GEL", "GHC", "GHS", "GIP",
    "GMD", "GNF", "GNS", "GQE", "GRD", "GTQ", "GWP", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
    "IDR", "IEP", "ILP", "ILR", "ILS", "INR", "IQD", "IRR", "ISJ", "ISK", "ITL", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAJ", "LAK", "LBP",
    "LKR", "LRD", "LSL", "LSM", "LTL", "LUF", "LVL", "LYD", "MAD", "MAF", "MCF", "MDL", "MGA",
    "MKD", "MKN", "MLF", "MMK", "MNT", "MOP", "MRO", "MTL", "MTP", "MUR", "MVQ", "MVR", "MWK",
    "MXN", "MYR", "MZM", "MZN", "NAD", "NFD", "NGN", "NIO", "NLG", "NOK", "NPR", "NZD", "OMR",
    "PAB", "PEH", "PEI", "PEN", "PES", "PGK", "PHP", "PKR", "PLN", "PLZ", "PTE", "PYG", "QAR",
    "ROL", "RON", "RSD", "RUB", "RUR", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP",
    "SIT", "SKK", "SLL", "SML", "SOS", "SRD", "SSP", "STD", "STN", "SUR", "SVC", "SYP", "SZL",
    "THB", "TJR", "TJS", "TMM", "TMT", "TND", "TOP", "TPE", "TRL", "TRY", "TTD", "TWD", "TZS",
    "UAH", "UAK", "UGS", "UGX", "UKP", "USD", "USN", "USS", "UYN", "UYP", "UYU", "UZS", "VAL",
    "VEB", "VEF", "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD",
    "XDR", "XEU", "XFO", "XFU", "XOF", "XPD", "XPF", "XPT", "XTS", "XXX", "YDD", "YER", "YUD",
    "YUG", "YUM", "YUN", "YUO", "YUR", "ZAL", "ZAR", "ZMK", "ZMW", "ZRN", "ZRZ", "ZWC", "ZWD",
    "ZWN",
];

/// `country_type`: 282 codes.
pub(crate) const COUNTRY_TYPE: &[&str] = &[
    "-", "AC", "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AN", "AO", "AP", "AQ", "AR", "AS", "AT",
    "AU", "AW", "AX", "AZ", "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN",
    "BO", "BQ", "BR", "BS", "BT", "BU", "BV", "BW", "BX", "BY", "BZ", "CA", "CC", "CD", "CF", "CG",
    "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CP", "CR", "CS", "CU", "CV", "CW", "CX", "CY", "CZ",
    "DE", "DG", "DJ", "DK", "DM", "DO", "DZ", "EA", "EC", "EE", "EF", "EG", "EH", "EM", "EP", "ER",
    "ES", "ET", "EU", "EV", "FI", "FJ", "FK", "FM", "FO", "FR", "FX", "GA", "GB", "GC", "GD", "GE",
    "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "IB", "IC", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS",
    "IT", "JE", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KS", "KW", "KY",
    "KZ", "LA", "LB", "LC", "LF", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD",
    "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV",
    "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NT", "NU",
    "NZ", "OA", "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW",
    "PY", "QA", "RB", "RE", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI",
    "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST", "SU", "SV", "SX", "SY", "SZ", "TA", "TC",
    "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TP", "TR", "TT", "TV", "TW", "TZ",
    "UA", "UG", "UM", "UN", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WO",
    "WS", "WV", "XK", "YE", "YT", "YU", "ZA", "ZM", "ZR", "ZW",
];

/// `funds_type`: 28 codes.
pub(crate) const FUNDS_TYPE: &[&str] = &[
    "-", "A", "B", "BB", "C", "CC", "D", "E", "EE", "F", "FF", "G", "H", "HH", "I", "J", "JJ", "K",
    "KK", "L", "LL", "M", "N", "NN", "O", "P", "QQ", "RR",
];

/// `conduction_type`: 27 codes.
pub(crate) const CONDUCTION_TYPE: &[&str] = &[
    "-", "A", "AA", "AB", "AC", "AD", "AE", "AF", "AG", "AH", "AJ", "AK", "AL", "AM", "AN", "AO",
    "AP", "AQ", "AR", "AS", "AT", "AU", "B", "C", "D", "E", "F",
];

/// `account_type`: 15 codes.
pub(crate) const ACCOUNT_TYPE: &[&str] =
    &["-", "A", "AA", "AC", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "U"];

/// `account_status_type`: 10 codes.
pub(crate) const ACCOUNT_STATUS_TYPE: &[&str] = &["-", "A", "B", "C", "D", "E", "F", "G", "H", "I"];

/// `contact_type`: 5 codes.
pub(crate) const CONTACT_TYPE: &[&str] = &["-", "1", "2", "3", "4"];

/// `communication_type`: 6 codes.
pub(crate) const COMMUNICATION_TYPE: &[&str] = &["-", "F", "L", "M", "P", "S"];

/// `gender_type`: 3 codes.
pub(crate) const GENDER_TYPE: &[&str] = &["-", "F", "M"];

/// `account_person_role_type`: 8 codes.
pub(crate) const ACCOUNT_PERSON_ROLE_TYPE: &[&str] = &["-", "A", "CL", "J", "LG", "M", "OM", "P"];

/// `report_indicator_type`: 1 codes.
pub(crate) const REPORT_INDICATOR_TYPE: &[&str] = &["-"];
