//! floodgate's one risk taxonomy: the categories that attribution, exposure, screening and
//! monitoring speak. Definitions and the mapping from each source's labels are in
//! `docs/taxonomy.md`.
//!
//! Each category has an explicit, pinned one-byte code for files and databases
//! ([`RiskCategory::code`]); the position of a variant in the enum means nothing on disk.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an address, entity or counterparty matters to a compliance officer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCategory {
    /// On a government sanctions list (OFAC SDN, UN, EU …).
    Sanctioned,
    /// Named under a special measure that is not a sanction, such as a US Treasury section 311
    /// finding of primary money-laundering concern (e.g. Huione Group, 2025).
    SpecialMeasure,
    /// Terrorist or violent-extremist financing.
    TerroristFinancing,
    /// Ransomware operators and their payment addresses.
    Ransomware,
    /// Darknet markets.
    DarknetMarket,
    /// Custodial mixers and tumblers (Tornado Cash, Sinbad …).
    Mixer,
    /// Scams: investment fraud, Ponzi and pyramid schemes, sextortion, pig butchering.
    Scam,
    /// Phishing and address-poisoning drainers.
    Phishing,
    /// Proceeds of hacks and thefts.
    Theft,
    /// Blocked by a token issuer (e.g. the USDT blacklist).
    Blocklisted,
    /// On a regulator's investor-alert list.
    InvestorAlert,
    /// A virtual-asset service provider not licensed in the customer's jurisdiction.
    UnlicensedVasp,
    /// Collaborative CoinJoin transactions (Wasabi, Whirlpool, JoinMarket).
    Coinjoin,
    /// Gambling services.
    Gambling,
    /// Exchanges (licensed or not; the licence is a property of the entity, not the tag).
    Exchange,
    /// Hosted wallets and payment services.
    WalletService,
    /// Decentralised-finance protocols (DEXes, lending, bridges).
    Defi,
    /// Miners and mining pools.
    Miner,
    /// Other known services.
    Service,
    /// Organisations (charities, companies, funds) that are not financial services.
    Organization,
    /// Individual users.
    User,
}

impl RiskCategory {
    /// All categories, in the order reports list them.
    pub const ALL: [RiskCategory; 21] = [
        RiskCategory::Sanctioned,
        RiskCategory::SpecialMeasure,
        RiskCategory::TerroristFinancing,
        RiskCategory::Ransomware,
        RiskCategory::DarknetMarket,
        RiskCategory::Mixer,
        RiskCategory::Scam,
        RiskCategory::Phishing,
        RiskCategory::Theft,
        RiskCategory::Blocklisted,
        RiskCategory::InvestorAlert,
        RiskCategory::UnlicensedVasp,
        RiskCategory::Coinjoin,
        RiskCategory::Gambling,
        RiskCategory::Exchange,
        RiskCategory::WalletService,
        RiskCategory::Defi,
        RiskCategory::Miner,
        RiskCategory::Service,
        RiskCategory::Organization,
        RiskCategory::User,
    ];

    /// The snake-case name used in output, list files and `docs/taxonomy.md`.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskCategory::Sanctioned => "sanctioned",
            RiskCategory::SpecialMeasure => "special_measure",
            RiskCategory::TerroristFinancing => "terrorist_financing",
            RiskCategory::Ransomware => "ransomware",
            RiskCategory::DarknetMarket => "darknet_market",
            RiskCategory::Mixer => "mixer",
            RiskCategory::Scam => "scam",
            RiskCategory::Phishing => "phishing",
            RiskCategory::Theft => "theft",
            RiskCategory::Blocklisted => "blocklisted",
            RiskCategory::InvestorAlert => "investor_alert",
            RiskCategory::UnlicensedVasp => "unlicensed_vasp",
            RiskCategory::Coinjoin => "coinjoin",
            RiskCategory::Gambling => "gambling",
            RiskCategory::Exchange => "exchange",
            RiskCategory::WalletService => "wallet_service",
            RiskCategory::Defi => "defi",
            RiskCategory::Miner => "miner",
            RiskCategory::Service => "service",
            RiskCategory::Organization => "organization",
            RiskCategory::User => "user",
        }
    }

    /// The category's on-disk code. Pinned forever: a new category takes a new code, and a
    /// code is never reused (`tests` pin every value).
    pub fn code(self) -> u8 {
        match self {
            RiskCategory::Sanctioned => 1,
            RiskCategory::TerroristFinancing => 2,
            RiskCategory::Ransomware => 3,
            RiskCategory::DarknetMarket => 4,
            RiskCategory::Mixer => 5,
            RiskCategory::Scam => 6,
            RiskCategory::Phishing => 7,
            RiskCategory::Theft => 8,
            RiskCategory::Blocklisted => 9,
            RiskCategory::Coinjoin => 10,
            RiskCategory::Gambling => 11,
            RiskCategory::Exchange => 12,
            RiskCategory::WalletService => 13,
            RiskCategory::Defi => 14,
            RiskCategory::Miner => 15,
            RiskCategory::Service => 16,
            RiskCategory::Organization => 17,
            RiskCategory::User => 18,
            RiskCategory::SpecialMeasure => 19,
            RiskCategory::InvestorAlert => 20,
            RiskCategory::UnlicensedVasp => 21,
        }
    }

    /// The category an on-disk code names, or `None` for a code this build does not know.
    pub fn from_code(code: u8) -> Option<RiskCategory> {
        RiskCategory::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Parses [`RiskCategory::as_str`] exactly.
    pub fn parse(s: &str) -> Option<RiskCategory> {
        RiskCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Parses the spelling a person writes in a list file: case, `-` for `_`, surrounding
    /// blanks and the short forms `sanctions`, `alert`, `unlicensed` and `311` are accepted.
    pub fn parse_lenient(s: &str) -> Option<RiskCategory> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        Some(match s.as_str() {
            "sanctions" | "sanction" => RiskCategory::Sanctioned,
            "alert" => RiskCategory::InvestorAlert,
            "unlicensed" => RiskCategory::UnlicensedVasp,
            "311" | "section_311" => RiskCategory::SpecialMeasure,
            other => return RiskCategory::parse(other),
        })
    }

    /// Whether value from this category is a risk to report (as opposed to a service or party).
    pub fn is_risk(self) -> bool {
        matches!(
            self,
            RiskCategory::Sanctioned
                | RiskCategory::SpecialMeasure
                | RiskCategory::TerroristFinancing
                | RiskCategory::Ransomware
                | RiskCategory::DarknetMarket
                | RiskCategory::Mixer
                | RiskCategory::Scam
                | RiskCategory::Phishing
                | RiskCategory::Theft
                | RiskCategory::Blocklisted
                | RiskCategory::InvestorAlert
                | RiskCategory::UnlicensedVasp
        )
    }
}

impl fmt::Display for RiskCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The on-disk codes are a file format: this table may only grow.
    #[test]
    fn codes_are_pinned() {
        let pinned = [
            ("sanctioned", 1),
            ("terrorist_financing", 2),
            ("ransomware", 3),
            ("darknet_market", 4),
            ("mixer", 5),
            ("scam", 6),
            ("phishing", 7),
            ("theft", 8),
            ("blocklisted", 9),
            ("coinjoin", 10),
            ("gambling", 11),
            ("exchange", 12),
            ("wallet_service", 13),
            ("defi", 14),
            ("miner", 15),
            ("service", 16),
            ("organization", 17),
            ("user", 18),
            ("special_measure", 19),
            ("investor_alert", 20),
            ("unlicensed_vasp", 21),
        ];
        assert_eq!(pinned.len(), RiskCategory::ALL.len());
        for (name, code) in pinned {
            let c = RiskCategory::parse(name).unwrap();
            assert_eq!(c.code(), code, "{name}");
            assert_eq!(RiskCategory::from_code(code), Some(c));
        }
        assert_eq!(RiskCategory::from_code(0), None);
        assert_eq!(RiskCategory::from_code(22), None);
    }

    #[test]
    fn names_round_trip_and_serde_agrees() {
        for c in RiskCategory::ALL {
            assert_eq!(RiskCategory::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{}\"", c.as_str()));
        }
        assert_eq!(RiskCategory::parse_lenient(" Sanctions "), Some(RiskCategory::Sanctioned));
        assert_eq!(
            RiskCategory::parse_lenient("investor-alert"),
            Some(RiskCategory::InvestorAlert)
        );
        assert_eq!(RiskCategory::parse_lenient("311"), Some(RiskCategory::SpecialMeasure));
        assert_eq!(RiskCategory::parse_lenient("nonsense"), None);
    }
}
