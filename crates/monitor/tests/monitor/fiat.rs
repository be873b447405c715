//! Fiat rails (issue 14 item 1): VND and USD bank and cash entries are decided like any
//! transfer, Viet Nam's large-cash and domestic/international-transfer triggers fire on the
//! right rails, and the shared-bank-account group alerts every member (item 2).

use std::path::Path;

use floodgate_monitor::decision::{Decision, Hit};
use floodgate_monitor::pack::Pack;
use floodgate_types::Rail;

use super::groups::run;

/// A fiat ledger line; `bank` is `(bank, account)` on the bank rail.
fn fiat(
    id: &str,
    time: &str,
    cust: &str,
    dir: &str,
    amount: &str,
    rail: &str,
    bank: Option<(&str, &str)>,
) -> String {
    let asset = if amount.starts_with("USD ") { "USD" } else { "VND" };
    let amount = amount.trim_start_matches("USD ");
    let bank = bank.map_or(String::new(), |(b, a)| {
        format!(r#","counterparty_bank":"{b}","counterparty_account":"{a}""#)
    });
    format!(
        r#"{{"id":"{id}","time":"{time}","customer_id":"{cust}","direction":"{dir}","asset":"{asset}","amount":"{amount}","rail":"{rail}","device":"dev-{cust}"{bank}}}"#
    )
}

fn hit<'a>(d: &'a Decision, id: &str) -> &'a Hit {
    d.hits.iter().find(|h| h.rule_id == id).unwrap_or_else(|| panic!("no {id} in {d:#?}"))
}

fn rules(d: &Decision) -> Vec<&str> {
    d.hits.iter().map(|h| h.rule_id.as_str()).collect()
}

#[test]
fn issue14_large_cash_counts_cash_in_any_currency_not_bank_transfers() {
    let lines = [
        // 09:00 local: VND 250 million in cash.
        fiat("k-1", "2025-11-03T02:00:00Z", "c", "deposit", "250000000", "cash", None),
        // A VND 300 million bank transfer from a Vietcombank account: an EFT, not cash.
        fiat(
            "b-1",
            "2025-11-03T03:00:00Z",
            "c",
            "deposit",
            "300000000",
            "bank",
            Some(("BFTVVNVX", "0071000123456")),
        ),
        // USD 6,000.00 in cash at VND 26,300: VND 157.8 million, the day's cash VND 407.8 million.
        fiat("k-2", "2025-11-03T04:00:00Z", "c", "withdrawal", "USD 6000.00", "cash", None),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    assert_eq!(ds[0].rail, Some(Rail::Cash));
    assert_eq!((ds[0].amount_vnd, ds[0].amount_usd_cents), (Some(250_000_000), Some(950_570)));
    assert_eq!(ds[2].amount_vnd, Some(157_800_000));
    assert!(ds[0].reports_due.is_empty() && ds[1].reports_due.is_empty(), "{ds:#?}");
    let r = &ds[2].reports_due[0];
    assert_eq!((r.report.as_str(), r.amount_vnd), ("large_value", 407_800_000));
    assert_eq!(r.transfer_ids, ["k-1", "k-2"], "the bank transfer is not cash");
    assert_eq!(
        hit(&ds[2], "report.large_value").reason,
        "customer's cash and on-chain total on 2025-11-03 (UTC+7) reached VND 407800000 \
         (threshold VND 400000000 per day): k-1 at 2025-11-03T02:00:00Z, VND 250000000; \
         k-2 at 2025-11-03T04:00:00Z, VND 157800000"
    );
    // Cash is no funds transfer: no transfer trigger, no travel rule, no "country unknown".
    assert_eq!(rules(&ds[2]), ["report.large_value"], "{:#?}", ds[2]);
    assert!(ds[2].notes.iter().all(|n| !n.contains("international")), "{:?}", ds[2].notes);
    // The law's letter: cash only, on-chain deposits out of the day's total.
    let cash_only = "extends = \"vn\"\n[report.large_value]\nrails = [\"cash\"]\n";
    let crypto = r#"{"id":"u-1","time":"2025-11-03T01:00:00Z","customer_id":"c","direction":"deposit","asset":"USDT-TRC20","amount":"10000","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM","counterparty_country":"VN"}"#;
    let mut with_crypto = vec![crypto.to_owned()];
    with_crypto.extend(lines.iter().cloned());
    let ds = run(Pack::parse(Path::new("c.toml"), cash_only).unwrap(), &with_crypto);
    assert!(ds[1].reports_due.is_empty(), "USDT 10,000 is not cash: {:#?}", ds[1]);
    assert_eq!(ds[3].reports_due[0].transfer_ids, ["k-1", "k-2"]);
    let ds = run(Pack::builtin_vn(), &with_crypto);
    assert_eq!(
        ds[1].reports_due[0].transfer_ids,
        ["u-1", "k-1"],
        "the vn pack keeps on-chain deposits in the day's total"
    );
}

#[test]
fn issue14_bank_transfers_are_domestic_or_international_by_the_banks_bic() {
    let lines = [
        fiat(
            "b-1",
            "2025-11-03T03:00:00Z",
            "c",
            "deposit",
            "600000000",
            "bank",
            Some(("BFTVVNVX", "0071000123456")),
        ),
        fiat(
            "b-2",
            "2025-11-03T04:00:00Z",
            "c",
            "withdrawal",
            "USD 2000.00",
            "bank",
            Some(("DBSSSGSG", "0720-123456-7")),
        ),
        // No BIC and no country: the international check cannot run, and says so.
        fiat(
            "b-3",
            "2025-11-03T05:00:00Z",
            "c",
            "withdrawal",
            "USD 2000.00",
            "bank",
            Some(("Some Bank", "12345")),
        ),
        // VND 600 million in cash: large cash, never a domestic transfer.
        fiat("k-1", "2025-11-04T05:00:00Z", "d", "deposit", "600000000", "cash", None),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    assert_eq!(ds[0].reports_due[0].report, "domestic_transfer");
    assert_eq!(
        hit(&ds[0], "report.domestic_transfer").reason,
        "domestic bank transfer b-1 at 2025-11-03T03:00:00Z of VND 600000000 (threshold VND \
         500000000) (counterparty country from the bank's BIC)"
    );
    assert_eq!(ds[1].reports_due[0].report, "international_transfer");
    assert_eq!(
        hit(&ds[1], "report.international_transfer").reason,
        "international bank transfer b-2 at 2025-11-03T04:00:00Z of USD 2000.00 (threshold USD \
         1000) (counterparty country from the bank's BIC)"
    );
    // A wire of USD 1,000 or more without originator and beneficiary is held (FATF R.16).
    assert!(ds[1].has("travel_rule_missing"), "{:#?}", ds[1]);
    assert!(ds[2].reports_due.is_empty());
    assert!(
        ds[2].notes.iter().any(|n| n
            == "international-transfer check not possible: counterparty country unknown \
                (withdrawal by bank of USD 2000.00, threshold USD 1000; give counterparty_country, \
                or the bank's SWIFT BIC as counterparty_bank)"),
        "{:?}",
        ds[2].notes
    );
    assert_eq!(ds[3].reports_due.len(), 1);
    assert_eq!(ds[3].reports_due[0].report, "large_value");
    assert!(!ds[3].has("report.domestic_transfer") && !ds[3].has("travel_rule_missing"));
}

#[test]
fn issue14_pig_butchering_that_starts_with_bank_transfers_in() {
    use floodgate_monitor::customer::{Customer, CustomerBook};
    use floodgate_monitor::engine::Engine;
    use floodgate_monitor::facts::AddressLists;
    use floodgate_monitor::fiat::RateTable;
    use floodgate_types::{AssetRegistry, Timestamp};
    use std::sync::Arc;

    let mut book = CustomerBook::default();
    book.insert(Customer {
        customer_id: "v".into(),
        onboarded: Some(Timestamp::parse("2025-10-20T00:00:00Z").unwrap()),
        birth_date: Some(Timestamp::parse("1961-05-01T00:00:00Z").unwrap()),
        country: Some("VN".into()),
        expected_monthly_vnd: None,
        risk_class: None,
        last_activity: None,
    });
    let engine = Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        book,
        Arc::new(AddressLists::default()),
    );
    let acct = Some(("BFTVVNVX", "0071000999999"));
    let scam = "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM";
    let wd = |id: &str, time: &str, usdt: u32| {
        format!(
            r#"{{"id":"{id}","time":"{time}","customer_id":"v","direction":"withdrawal","asset":"USDT-TRC20","amount":"{usdt}","counterparty_address":"{scam}","counterparty_country":"KH","travel_rule":{{"originator_name":"V","beneficiary_name":"B"}}}}"#
        )
    };
    let lines = [
        fiat("p-1", "2025-11-01T02:00:00Z", "v", "deposit", "13150000", "bank", acct),
        fiat("p-2", "2025-11-03T02:00:00Z", "v", "deposit", "39450000", "bank", acct),
        fiat("p-3", "2025-11-05T02:00:00Z", "v", "deposit", "105200000", "bank", acct),
        wd("p-4", "2025-11-07T02:00:00Z", 2_500),
        wd("p-5", "2025-11-08T02:00:00Z", 3_000),
    ];
    let ds = super::groups::decide_lines(engine, &lines);
    assert!(!ds[3].has("pig_butchering"), "one withdrawal to the address is not yet the pattern");
    let h = hit(&ds[4], "pig_butchering");
    assert_eq!(h.action, floodgate_monitor::pack::Action::Hold);
    assert_eq!(
        h.reason,
        format!(
            "possible pig-butchering victim: account opened 19 days ago (threshold under 90 days); \
             3 deposits within 30d, each at least the one before, the last 800% of the first \
             (thresholds: at least 3 deposits, at least 200%): p-1 at 2025-11-01T02:00:00Z, USD \
             499.99; p-2 at 2025-11-03T02:00:00Z, USD 1499.99; p-3 at 2025-11-05T02:00:00Z, USD \
             3999.99; withdrawal #2 to address {scam} first used 1 days ago (thresholds: at least \
             2 withdrawals to an address first used under 30 days ago): p-4 at \
             2025-11-07T02:00:00Z, USD 2500.00; p-5 at 2025-11-08T02:00:00Z, USD 3000.00; \
             customer aged 64 (severity raised at 55 or older); hold and call the customer"
        )
    );
    assert_eq!(h.evidence["deposits"][0]["amount_vnd"], 13_150_000);
}

#[test]
fn issue14_shared_bank_account_alerts_every_customer_it_paid() {
    let mule = ("ICBVVNVX", "1010-2020 3030");
    let lines = [
        fiat("m-1", "2025-11-03T01:00:00Z", "x", "deposit", "20000000", "bank", Some(mule)),
        fiat("m-2", "2025-11-03T02:00:00Z", "y", "deposit", "30000000", "bank", Some(mule)),
        // The same number at another bank is another account.
        fiat(
            "m-3",
            "2025-11-03T03:00:00Z",
            "z",
            "deposit",
            "40000000",
            "bank",
            Some(("BFTVVNVX", "101020203030")),
        ),
        fiat("m-4", "2025-11-03T04:00:00Z", "w", "withdrawal", "10000000", "bank", Some(mule)),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    assert!(ds[..3].iter().all(|d| d.alerted("shared_bank_account").is_empty()), "{ds:#?}");
    let mut alerted = ds[3].alerted("shared_bank_account");
    alerted.sort_unstable();
    assert_eq!(alerted, ["w", "x", "y"]);
    assert_eq!(
        hit(&ds[3], "shared_bank_account").reason,
        "bank account ICBVVNVX 101020203030 used by 3 customers within 30d (threshold 3); the \
         others: x (m-1 at 2025-11-03T01:00:00Z, USD 760.45); y (m-2 at 2025-11-03T02:00:00Z, \
         USD 1140.68)"
    );
    let a = ds[3].group_alerts.iter().find(|a| a.customer_id == "x").unwrap();
    assert!(
        a.reason.starts_with(
            "bank account ICBVVNVX 101020203030 of this customer (x (m-1 at \
             2025-11-03T01:00:00Z, USD 760.45)) is shared by 3 customers within 30d (threshold \
             3), the group completed by transfer m-4 of w; the others: "
        ),
        "{}",
        a.reason
    );
    assert_eq!(a.evidence["attribute"], "bank account");
    // Devices differ: the device rule is not involved.
    assert!(ds.iter().all(|d| d.alerted("shared_device").is_empty()));
}
