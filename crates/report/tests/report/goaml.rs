//! goAML STR rendering, validated against the UNODC goAML 5.0.1 XSD with xmllint.

use chrono::NaiveDate;
use floodgate_report::goaml::render;
use floodgate_report::{
    ClientAccount, ClientPerson, ExternalAccount, GoamlAddress, GoamlParty, GoamlPhone,
    GoamlReport, GoamlReportCode, GoamlSide, GoamlTransaction, ReportError, VirtualAssetTransfer,
};
use floodgate_types::{Amount, Timestamp};

use crate::xmllint;

fn customer() -> ClientAccount {
    ClientAccount {
        institution_name: "Sàn Giao Dịch Thử Nghiệm <Demo> & Co.".into(),
        institution_code: "VASP-0042".into(),
        branch: "Hà Nội".into(),
        account: "C-1001".into(),
        currency_code: "VND".into(),
        account_name: "Nguyễn Văn An".into(),
        client_number: "C-1001".into(),
        account_type: "A".into(),
        opened: Timestamp::parse("2025-11-20T09:00:00+07:00").unwrap(),
        status_code: "A".into(),
        holder: ClientPerson {
            gender: Some("M".into()),
            first_name: "Văn An".into(),
            last_name: "Nguyễn".into(),
            birthdate: NaiveDate::from_ymd_opt(1968, 4, 2).unwrap(),
            national_id: "001068012345".into(),
            nationality: "VN".into(),
            residence: "VN".into(),
            phones: vec![GoamlPhone {
                contact_type: "1".into(),
                communication_type: "M".into(),
                country_prefix: "84".into(),
                number: "912345678".into(),
            }],
            addresses: vec![GoamlAddress {
                address_type: "1".into(),
                address: "12 Phố Huế, Hai Bà Trưng".into(),
                city: "Hà Nội".into(),
                country_code: "VN".into(),
            }],
            email: Some("an.nguyen@example.vn".into()),
            occupation: "Retired teacher".into(),
        },
        holder_role: "A".into(),
    }
}

fn wallet(address: &str, comments: &str) -> ExternalAccount {
    ExternalAccount {
        institution_name: "Unhosted wallet".into(),
        institution_code: "TRON".into(),
        account: address.into(),
        account_name: None,
        comments: Some(comments.into()),
    }
}

/// A pig-butchering STR: an older customer deposits, then withdraws USDT to a new address.
pub(crate) fn sample() -> GoamlReport {
    let withdrawal = GoamlTransaction {
        number: "T-77".into(),
        location: "online (Tron)".into(),
        description: "Withdrawal to an address first seen 3 days earlier".into(),
        time: Timestamp::parse("2026-02-11T10:00:00+07:00").unwrap(),
        transmode_code: "-".into(),
        amount_local: Amount::from(412_500_000u64),
        virtual_asset: Some(VirtualAssetTransfer {
            asset: "USDT-TRC20".into(),
            chain: "tron".into(),
            amount: Amount::from(15_650_000_000u64),
            decimals: 6,
            tx_hash: Some("9c2d8c1b3a6f4e0d7b5a2c1e8f9d0a3b4c5d6e7f8091a2b3c4d5e6f708192a3b".into()),
            block_number: Some(79_123_456),
        }),
        from: GoamlSide {
            funds_code: "-".into(),
            funds_comment: Some("USDT on Tron from the customer's balance".into()),
            country: "VN".into(),
            party: GoamlParty::Client(Box::new(customer())),
            ip_address: Some("113.161.10.20".parse().unwrap()),
        },
        to: GoamlSide {
            funds_code: "-".into(),
            funds_comment: None,
            country: "KH".into(),
            party: GoamlParty::External(wallet(
                "TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub",
                "first seen 2026-02-08; 2 withdrawals from this customer; exposure: 64% scam (2 hops)",
            )),
            ip_address: None,
        },
        comments: Some("typology pig_butchering; rule report.large_value".into()),
    };
    let deposit = GoamlTransaction {
        number: "T-75".into(),
        location: "online (Tron)".into(),
        description: "Deposit from an address of a scam cluster's payer".into(),
        time: Timestamp::parse("2026-02-09T21:15:00+07:00").unwrap(),
        transmode_code: "-".into(),
        amount_local: Amount::from(26_350_000u64),
        virtual_asset: Some(VirtualAssetTransfer {
            asset: "USDT-TRC20".into(),
            chain: "tron".into(),
            amount: Amount::from(1_000_000_000u64),
            decimals: 6,
            tx_hash: None,
            block_number: None,
        }),
        from: GoamlSide {
            funds_code: "-".into(),
            funds_comment: None,
            country: "SG".into(),
            party: GoamlParty::External(wallet("TKgD8Qnx9Zw3DNvG6o83PkufnMbtEXis4T", "no tags")),
            ip_address: None,
        },
        to: GoamlSide {
            funds_code: "-".into(),
            funds_comment: None,
            country: "VN".into(),
            party: GoamlParty::Client(Box::new(customer())),
            ip_address: Some("2402:800:6344:1234::20".parse().unwrap()),
        },
        comments: None,
    };
    GoamlReport {
        rentity_id: 42,
        rentity_branch: "Head office".into(),
        report_code: GoamlReportCode::Str,
        entity_reference: Some("R-2026-000017".into()),
        report_date: Timestamp::parse("2026-02-12T15:00:00+07:00").unwrap(),
        currency_code_local: "VND".into(),
        currency_decimals: 0,
        reporting_user_code: "AMLO01".into(),
        location: GoamlAddress {
            address_type: "2".into(),
            address: "1 Tràng Tiền".into(),
            city: "Hà Nội".into(),
            country_code: "VN".into(),
        },
        reason: "Escalating deposits by a 57-year-old customer followed by withdrawals to one new \
                 address; FinCEN FIN-2023-Alert005 pig-butchering indicators. Text with <tags> & \"quotes\"."
            .into(),
        action: "Withdrawals held; customer called on 2026-02-11".into(),
        transactions: vec![withdrawal, deposit],
        indicators: vec!["-".into()],
    }
}

#[test]
fn a_suspicious_transaction_report_validates_against_the_goaml_xsd() {
    let xml = render(&sample()).unwrap();
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("<report_code>STR</report_code>"));
    assert!(xml.contains("<t_from_my_client>"));
    assert!(xml.contains("<t_to>"));
    assert!(xml.contains("<account>TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub</account>"));
    assert!(xml.contains("<amount_local>412500000</amount_local>"));
    assert!(xml.contains("<date_transaction>2026-02-11T10:00:00</date_transaction>"));
    assert!(xml.contains("[virtual asset: 15650 USDT-TRC20 on tron, tx 9c2d8c1b"), "{xml}");
    assert!(xml.contains("<ipv6>2402:800:6344:1234:0:0:0:20</ipv6>"), "{xml}");
    assert!(xml.contains("<block_number>79123456</block_number>"));
    // Hostile text is escaped, not interpreted.
    assert!(
        xml.contains("&lt;tags&gt; &amp; &quot;quotes&quot;")
            || xml.contains("&lt;tags&gt; &amp; \"quotes\""),
        "{xml}"
    );
    assert!(xml.contains("Sàn Giao Dịch Thử Nghiệm &lt;Demo&gt; &amp; Co."));

    let Some(schema) = xmllint::goaml_schema() else { return };
    if !xmllint::available() {
        return;
    }
    xmllint::validate(&schema, &xml)
        .unwrap_or_else(|e| panic!("xmllint rejects the report:\n{e}\n{xml}"));
}

/// Each case breaks one rule in the report and, the same way, in the valid XML text; the
/// renderer must refuse naming the field, and xmllint must reject the edited XML too — so
/// the Rust checks say what the schema says.
#[test]
fn a_report_that_would_not_validate_is_refused_naming_the_field() {
    let valid = render(&sample()).unwrap();
    let long = "x".repeat(256);
    type Edit = Box<dyn Fn(&mut GoamlReport)>;
    let cases: Vec<(Edit, &str, (&str, String))> = vec![
        (
            Box::new(|r| r.reporting_user_code = "AML".into()),
            "report/reporting_user_code",
            ("<reporting_user_code>AMLO01<", "<reporting_user_code>AML<".into()),
        ),
        (
            Box::new({
                let long = long.clone();
                move |r| {
                    if let GoamlParty::External(w) = &mut r.transactions[0].to.party {
                        w.account = long.clone();
                    }
                }
            }),
            "report/transaction[1]/t_to/to_account/account",
            ("<account>TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub<", format!("<account>{long}<")),
        ),
        (
            Box::new(|r| r.transactions[1].from.country = "XX".into()),
            "report/transaction[2]/t_from/from_country",
            ("<from_country>SG</from_country>", "<from_country>XX</from_country>".into()),
        ),
        (
            Box::new(|r| {
                if let GoamlParty::Client(c) = &mut r.transactions[0].from.party {
                    c.holder.national_id = String::new();
                }
            }),
            "report/transaction[1]/t_from_my_client/from_account/signatory/t_person/ssn",
            ("<ssn>001068012345</ssn>", "<ssn></ssn>".into()),
        ),
        (
            Box::new(|r| {
                if let GoamlParty::Client(c) = &mut r.transactions[0].from.party {
                    c.holder.birthdate = NaiveDate::from_ymd_opt(1700, 1, 1).unwrap();
                }
            }),
            "report/transaction[1]/t_from_my_client/from_account/signatory/t_person/birthdate",
            (
                "<birthdate>1968-04-02T00:00:00</birthdate>",
                "<birthdate>1700-01-01T00:00:00</birthdate>".into(),
            ),
        ),
        (
            Box::new(|r| r.currency_code_local = "USDT".into()),
            "report/currency_code_local",
            ("<currency_code_local>VND<", "<currency_code_local>USDT<".into()),
        ),
        (
            Box::new(|r| r.transactions[0].amount_local = Amount::from(7_900_000_000_000_001u64)),
            "report/transaction[1]/amount_local",
            ("<amount_local>412500000<", "<amount_local>7900000000000001<".into()),
        ),
        (
            Box::new(|r| r.transactions[0].number = String::new()),
            "report/transaction[1]/transactionnumber",
            ("<transactionnumber>T-77<", "<transactionnumber><".into()),
        ),
    ];
    let schema = xmllint::goaml_schema().filter(|_| xmllint::available());
    for (edit, field, (from, to)) in cases {
        let mut r = sample();
        edit(&mut r);
        match render(&r) {
            Err(ReportError::InvalidField { format: "goAML", field: f, message }) => {
                assert_eq!(f, field, "{message}");
            }
            other => panic!("{field}: expected a refusal, got {other:?}"),
        }
        if let Some(schema) = &schema {
            assert!(valid.contains(from), "{from} not in the valid XML");
            let broken = valid.replacen(from, &to, 1);
            let leaf = field.rsplit('/').next().unwrap();
            let err = xmllint::validate(schema, &broken).expect_err(field);
            assert!(err.contains(leaf), "xmllint names another element for {field}:\n{err}");
        }
    }
    // Transactions are required.
    let mut r = sample();
    r.transactions.clear();
    let e = render(&r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "goAML report: field 'report/transaction': a suspicious-transaction report needs at least one transaction"
    );
}
