//! Reasons an examiner accepts (issue 14 item 3): each typology's reason names the threshold
//! and window, the measured value, and the ids, times and amounts of its transfers.

use std::path::Path;

use floodgate_monitor::decision::{Decision, Hit};
use floodgate_monitor::pack::Pack;

use super::groups::run;

fn addr(n: usize) -> String {
    format!("0x{n:040x}")
}

fn line(id: &str, time: &str, cust: &str, dir: &str, usd: u64, cp: &str) -> String {
    format!(
        r#"{{"id":"{id}","time":"{time}","customer_id":"{cust}","direction":"{dir}","asset":"USDT-ERC20","amount":"{usd}","counterparty_address":"{cp}"}}"#
    )
}

fn hit<'a>(d: &'a Decision, id: &str) -> &'a Hit {
    d.hits.iter().find(|h| h.rule_id == id).unwrap_or_else(|| panic!("no {id} in {d:#?}"))
}

#[test]
fn issue14_structuring_reason_lists_band_threshold_window_and_transfers() {
    let lines: Vec<String> = [950, 960, 970]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            line(
                &format!("s-{i}"),
                &format!("2025-11-03T0{i}:00:00Z"),
                "c",
                "deposit",
                *u,
                &addr(i + 1),
            )
        })
        .collect();
    let ds = run(Pack::builtin_vn(), &lines);
    assert!(!ds[1].has("structuring"));
    let h = hit(&ds[2], "structuring");
    assert_eq!(
        h.reason,
        "3 deposits of USD 900.00–999.99 (just under USD 1000) within 24h (threshold 3 transfers): \
         s-0 at 2025-11-03T00:00:00Z, USD 950.00; s-1 at 2025-11-03T01:00:00Z, USD 960.00; \
         s-2 at 2025-11-03T02:00:00Z, USD 970.00"
    );
    assert_eq!(h.evidence["transfers"][1]["amount_usd_cents"], 96_000);
}

#[test]
fn issue14_pass_through_and_new_account_reasons() {
    let lines = [
        line("p-1", "2025-11-03T01:00:00Z", "c", "deposit", 12_000, &addr(1)),
        line("p-2", "2025-11-03T05:00:00Z", "c", "withdrawal", 11_000, &addr(2)),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    assert_eq!(
        hit(&ds[1], "pass_through").reason,
        "USD 11000.00 withdrawn (91% of) USD 12000.00 deposited within 24h (thresholds: deposits \
         at least USD 10000, withdrawn at least 90%); deposits: p-1 at 2025-11-03T01:00:00Z, USD \
         12000.00; withdrawals: p-2 at 2025-11-03T05:00:00Z, USD 11000.00"
    );
    assert_eq!(
        hit(&ds[0], "new_account_large").reason,
        "p-1 of USD 12000.00 at 2025-11-03T01:00:00Z on an account opened 0 days ago (thresholds: \
         account younger than 30 days, at least USD 10000)"
    );
}

#[test]
fn issue14_fan_in_and_fan_out_reasons_list_every_counterparty_transfer() {
    for (dir, side, rule) in
        [("deposit", "sources", "fan_in"), ("withdrawal", "destinations", "fan_out")]
    {
        let lines: Vec<String> = (0..10)
            .map(|i| {
                line(
                    &format!("f-{i}"),
                    &format!("2025-11-03T{i:02}:10:00Z"),
                    "c",
                    dir,
                    150,
                    &addr(100 + i),
                )
            })
            .collect();
        let ds = run(Pack::builtin_vn(), &lines);
        assert!(!ds[8].has(rule));
        let h = hit(&ds[9], rule);
        assert!(
            h.reason.starts_with(&format!(
                "10 distinct {side} within 24h (threshold 10), USD 1500.00 in total (threshold USD 1000): \
                 f-0 at 2025-11-03T00:10:00Z, USD 150.00; f-1 at 2025-11-03T01:10:00Z, USD 150.00;"
            )),
            "{}",
            h.reason
        );
        assert!(h.reason.ends_with("f-9 at 2025-11-03T09:10:00Z, USD 150.00"), "{}", h.reason);
        assert_eq!(h.evidence["transfers"].as_array().unwrap().len(), 10);
    }
}

#[test]
fn issue14_dormant_reason_names_gap_thresholds_and_transfers() {
    let lines = [
        line("r-1", "2025-03-01T00:00:00Z", "c", "deposit", 10, &addr(1)),
        line("r-2", "2025-10-01T00:00:00Z", "c", "deposit", 20_000, &addr(1)),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    let h = hit(&ds[1], "dormant_reactivation");
    let vnd = ds[1].amount_vnd.unwrap();
    assert_eq!(
        h.reason,
        format!(
            "VND {vnd} moved within 24h of reactivation at 2025-10-01T00:00:00Z after 214 idle days \
             (thresholds: idle at least 180 days, at least VND 400000000): r-2 at \
             2025-10-01T00:00:00Z, USD 20000.00"
        )
    );
}

#[test]
fn issue14_peel_chain_reason_lists_the_chain() {
    let lines: Vec<String> = [2_000, 1_700, 1_400, 1_200]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            line(
                &format!("k-{i}"),
                &format!("2025-11-03T0{}:00:00Z", 2 * i),
                "c",
                "withdrawal",
                *u,
                &addr(50 + i),
            )
        })
        .collect();
    let ds = run(Pack::builtin_vn(), &lines);
    assert_eq!(
        hit(&ds[3], "peel_chain").reason,
        "4 decreasing withdrawals to distinct addresses within 72h, from USD 2000.00 (thresholds: \
         at least 4 withdrawals, each at most 90% of the one before, the first at least USD 1000): \
         k-0 at 2025-11-03T00:00:00Z, USD 2000.00; k-1 at 2025-11-03T02:00:00Z, USD 1700.00; \
         k-2 at 2025-11-03T04:00:00Z, USD 1400.00; k-3 at 2025-11-03T06:00:00Z, USD 1200.00"
    );
}

#[test]
fn issue14_shared_ip_off_is_parsed_from_a_user_file() {
    // A user's file can raise the IP rule's threshold without touching the device rule.
    let p = Pack::parse(
        Path::new("u.toml"),
        "extends = \"vn\"\n[typology.shared_ip]\nenabled = true\n",
    )
    .unwrap();
    use floodgate_monitor::typologies::shared_attribute::Settings;
    let ip = p.typologies.get::<Settings>("shared_ip").unwrap();
    assert!(ip.enabled);
    assert_eq!((ip.min_customers, ip.window.as_str()), (50, "7d"));
    assert_eq!(p.typologies.get::<Settings>("shared_device").unwrap().min_customers, 3);
}

#[test]
fn issue14_unknown_counterparty_country_is_named_not_passed_silently() {
    let unknown = line("i-1", "2025-11-03T01:00:00Z", "c", "withdrawal", 1_500, &addr(7));
    let known = unknown
        .replace(
            "\"counterparty_address\"",
            "\"counterparty_country\":\"SG\",\"counterparty_address\"",
        )
        .replace("i-1", "i-2");
    let small = line("i-3", "2025-11-03T02:00:00Z", "c", "withdrawal", 500, &addr(7));
    let ds = run(Pack::builtin_vn(), &[unknown, known, small]);
    let note = "international-transfer check not possible: counterparty country unknown (withdrawal of USD 1500.00, threshold USD 1000; give counterparty_country, or the counterparty VASP and a VASP directory)";
    assert!(ds[0].notes.iter().any(|n| n == note), "{:?}", ds[0].notes);
    assert!(ds[0].reports_due.is_empty());
    assert!(
        !ds[1].notes.iter().any(|n| n.starts_with("international-transfer")),
        "{:?}",
        ds[1].notes
    );
    assert_eq!(ds[1].reports_due[0].report, "international_transfer");
    assert!(
        !ds[2].notes.iter().any(|n| n.starts_with("international-transfer")),
        "under the threshold"
    );
}

#[test]
fn issue14_counterparty_country_from_the_vasp_directory() {
    use floodgate_monitor::customer::CustomerBook;
    use floodgate_monitor::engine::Engine;
    use floodgate_monitor::facts::AddressLists;
    use floodgate_monitor::fiat::RateTable;
    use floodgate_monitor::input::parse_event;
    use floodgate_monitor::monitor::{Monitor, Processed};
    use floodgate_monitor::vasp::VaspDirectory;
    use floodgate_types::AssetRegistry;
    use std::sync::Arc;

    let dir = VaspDirectory::parse(
        Path::new("vasps.csv"),
        "vasp,country,licences\nUpbit,KR,VN:unlicensed;KR:licensed\nLocalX,VN,VN:pilot\n",
    )
    .unwrap();
    let bad = VaspDirectory::parse(Path::new("v.csv"), "vasp,country\nA,Korea\n").unwrap_err();
    assert_eq!(
        bad.to_string(),
        "v.csv: line 2: field 'country': 'Korea' is not an ISO alpha-2 code"
    );
    let engine = Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        CustomerBook::default(),
        Arc::new(AddressLists::default()),
    )
    .with_vasp_directory(dir);
    let mut m = Monitor::in_memory(engine);
    let l = line("v-1", "2025-11-03T01:00:00Z", "c", "withdrawal", 1_500, &addr(9)).replace(
        "\"counterparty_address\"",
        "\"counterparty_vasp\":\"upbit\",\"counterparty_address\"",
    );
    let ev = parse_event(Path::new("t"), 1, &l, m.engine().assets(), None).unwrap();
    let Processed::Decided(d) = m.process(&ev).unwrap() else { panic!() };
    assert_eq!(d.reports_due[0].report, "international_transfer");
    let h = hit(&d, "report.international_transfer");
    assert_eq!(h.reason, "international transfer v-1 at 2025-11-03T01:00:00Z of USD 1500.00 (threshold USD 1000) (counterparty country from the VASP directory)");
    assert!(!d.notes.iter().any(|n| n.starts_with("international-transfer")), "{:?}", d.notes);
}

/// Decisions with screening lists loaded.
fn run_listed(lists: floodgate_monitor::facts::AddressLists, lines: &[String]) -> Vec<Decision> {
    use floodgate_monitor::customer::CustomerBook;
    use floodgate_monitor::engine::Engine;
    use floodgate_monitor::fiat::RateTable;
    use floodgate_types::AssetRegistry;

    let engine = Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        CustomerBook::default(),
        std::sync::Arc::new(lists),
    );
    super::groups::decide_lines(engine, lines)
}

#[test]
fn issue14_list_hit_reasons_name_the_list_and_the_transfer() {
    use floodgate_monitor::facts::{AddressLists, AddressRisk, RiskCategory};
    use floodgate_types::{Address, Chain};
    let mut lists = AddressLists::default();
    for (n, category, source) in [
        (1, RiskCategory::Sanctioned, "OFAC SDN"),
        (2, RiskCategory::Mixer, "mixers.csv"),
        (3, RiskCategory::InvestorAlert, "sg-mas-alert"),
    ] {
        lists.add_address(
            Address::parse(Chain::Ethereum, &addr(n)).unwrap(),
            AddressRisk { category, source: source.into(), label: None },
        );
    }
    let lines = [
        line("l-1", "2025-11-03T01:00:00Z", "c", "withdrawal", 120, &addr(1)),
        line("l-2", "2025-11-03T02:00:00Z", "c", "deposit", 80, &addr(2)),
        line("l-3", "2025-11-03T03:00:00Z", "c", "withdrawal", 60, &addr(3)),
    ];
    let ds = run_listed(lists, &lines);
    let cp = |n: usize| Address::parse(Chain::Ethereum, &addr(n)).unwrap().to_string();
    assert_eq!(
        hit(&ds[0], "sanctioned_counterparty").reason,
        format!(
            "counterparty {} is on OFAC SDN (any amount): transfer l-1 (withdrawal) at \
             2025-11-03T01:00:00Z, USD 120.00",
            cp(1)
        )
    );
    assert_eq!(hit(&ds[0], "sanctioned_counterparty").evidence["transfer"]["id"], "l-1");
    assert_eq!(
        hit(&ds[1], "mixer_exposure").reason,
        format!(
            "counterparty {} is a mixer (mixers.csv; any amount): transfer l-2 (deposit) at \
             2025-11-03T02:00:00Z, USD 80.00",
            cp(2)
        )
    );
    let listed = &hit(&ds[2], "listed_counterparty").reason;
    assert!(listed.starts_with(&format!("counterparty {} is on ", cp(3))), "{listed}");
    assert!(
        listed.ends_with(
            "(sg-mas-alert; any amount): transfer l-3 (withdrawal) at 2025-11-03T03:00:00Z, USD \
             60.00"
        ),
        "{listed}"
    );
}

#[test]
fn issue14_exposure_geography_and_travel_rule_reasons_name_threshold_and_transfer() {
    let exposed = line("e-1", "2025-11-03T01:00:00Z", "c", "deposit", 500, &addr(4)).replace(
        "\"counterparty_address\"",
        "\"exposure\":{\"scam\":0.35,\"mixer\":0.3},\"counterparty_address\"",
    );
    let geo = line("g-1", "2025-11-03T02:00:00Z", "c", "deposit", 700, &addr(5)).replace(
        "\"counterparty_address\"",
        "\"counterparty_country\":\"KP\",\"counterparty_address\"",
    );
    let wire = line("w-1", "2025-11-03T03:00:00Z", "c", "withdrawal", 1_500, &addr(6)).replace(
        "\"counterparty_address\"",
        "\"counterparty_country\":\"SG\",\"travel_rule\":{\"originator_name\":\"A\"},\"counterparty_address\"",
    );
    let ds = run(Pack::builtin_vn(), &[exposed, geo, wire]);
    assert_eq!(
        hit(&ds[0], "indirect_exposure").reason,
        "35.0% of the counterparty's funds come indirectly from scam sources (threshold 10%): \
         transfer e-1 (deposit) at 2025-11-03T01:00:00Z, USD 500.00"
    );
    assert_eq!(
        hit(&ds[0], "mixer_exposure").reason,
        "30.0% of the counterparty's funds come from mixers (threshold 25%): transfer e-1 \
         (deposit) at 2025-11-03T01:00:00Z, USD 500.00"
    );
    assert_eq!(hit(&ds[0], "mixer_exposure").evidence["threshold_pct"], 25);
    assert_eq!(
        hit(&ds[1], "high_risk_geography").reason,
        "counterparty country KP is a high-risk jurisdiction (list: KP, IR, MM): transfer g-1 \
         (deposit) at 2025-11-03T02:00:00Z, USD 700.00"
    );
    assert_eq!(
        hit(&ds[2], "travel_rule_missing").reason,
        "travel-rule data incomplete (originator and beneficiary names) on transfer w-1 \
         (withdrawal) at 2025-11-03T03:00:00Z, USD 1500.00 (threshold USD 1000)"
    );
    assert_eq!(
        hit(&ds[2], "report.international_transfer").reason,
        "international transfer w-1 at 2025-11-03T03:00:00Z of USD 1500.00 (threshold USD 1000)"
    );
}
