//! Group typologies (issue 14 item 2): every member of a group that crosses its threshold is
//! alerted, including members who never transact again; device, IP and withdrawal address are
//! separate rules.

use std::path::Path;
use std::sync::Arc;

use floodgate_monitor::customer::CustomerBook;
use floodgate_monitor::decision::Decision;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::facts::AddressLists;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::input::parse_event;
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_monitor::pack::Pack;
use floodgate_types::AssetRegistry;

const DROP: &str = "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM";

pub(crate) fn run(pack: Pack, lines: &[String]) -> Vec<Decision> {
    decide_lines(
        Engine::new(
            pack,
            AssetRegistry::builtin(),
            RateTable::builtin(),
            CustomerBook::default(),
            Arc::new(AddressLists::default()),
        ),
        lines,
    )
}

/// The decision on each JSON line, in order, by an in-memory monitor over `engine`.
pub(crate) fn decide_lines<S: AsRef<str>>(engine: Engine, lines: &[S]) -> Vec<Decision> {
    let mut m = Monitor::in_memory(engine);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let l = l.as_ref();
            let ev = parse_event(Path::new("t.jsonl"), i as u64 + 1, l, m.engine().assets(), None)
                .unwrap();
            match m.process(&ev).unwrap() {
                Processed::Decided(d) => *d,
                Processed::Duplicate => panic!("duplicate {l}"),
            }
        })
        .collect()
}

/// One deposit of USD 300 per customer, an hour apart, on the given device and IP.
fn deposit(i: usize, customer: &str, device: &str, ip: &str) -> String {
    format!(
        r#"{{"id":"d-{i}","time":"2025-11-03T0{i}:00:00Z","customer_id":"{customer}","direction":"deposit","asset":"USDT-TRC20","amount":"300","device":"{device}","ip":"{ip}"}}"#
    )
}

#[test]
fn issue14_shared_device_alerts_earlier_members_who_never_transact_again() {
    let lines = [
        deposit(1, "alice", "dev-A", "113.160.0.1"),
        deposit(2, "bob", "dev-A", "113.160.0.2"),
        deposit(3, "carol", "dev-A", "113.160.0.3"),
    ];
    let ds = run(Pack::builtin_vn(), &lines);
    assert!(!ds[0].has("shared_device") && !ds[1].has("shared_device"));
    let d = &ds[2];
    // Every member is alerted: the customer who completed the group by a hit, the two who
    // came first by group alerts, although they never transact again.
    let mut alerted = d.alerted("shared_device");
    alerted.sort_unstable();
    assert_eq!(alerted, ["alice", "bob", "carol"]);
    let hit = d.hits.iter().find(|h| h.rule_id == "shared_device").unwrap();
    assert_eq!(
        hit.reason,
        "device dev-A used by 3 customers within 30d (threshold 3); the others: \
         alice (d-1 at 2025-11-03T01:00:00Z, USD 300.00); bob (d-2 at 2025-11-03T02:00:00Z, USD 300.00)"
    );
    let a = d.group_alerts.iter().find(|a| a.customer_id == "alice").unwrap();
    assert_eq!(a.rule_id, "shared_device");
    assert!(a.reason.starts_with("device dev-A of this customer (alice (d-1 at 2025-11-03T01:00:00Z, USD 300.00)) is shared by 3 customers within 30d (threshold 3), the group completed by transfer d-3 of carol; the others: "), "{}", a.reason);
    assert!(a.reason.contains("bob (d-2") && a.reason.contains("carol (d-3"), "{}", a.reason);
    assert_eq!(a.evidence["attribute"], "device");
    assert_eq!(a.evidence["value"], "dev-A");
    assert_eq!(a.evidence["min_customers"], 3);
    assert_eq!(a.evidence["members"].as_array().unwrap().len(), 3);
    assert_eq!(a.evidence["members"][0]["transfers"][0]["id"], "d-1");
    assert_eq!(a.evidence["members"][0]["transfers"][0]["amount_usd_cents"], 30_000);
    // Different IPs: the IP rule is not involved.
    assert!(d.alerted("shared_ip").is_empty());
    // A 4th member gets a hit naming the three others, who are not alerted again until the
    // group doubles (6 members); a member transacting again on the device gets a hit but
    // alerts nobody twice.
    let mut more = lines.to_vec();
    more.push(deposit(4, "dave", "dev-A", "113.160.0.4"));
    more.push(deposit(5, "alice", "dev-A", "113.160.0.1"));
    more.push(deposit(6, "erin", "dev-A", "113.160.0.6"));
    more.push(deposit(7, "frank", "dev-A", "113.160.0.7"));
    let ds = run(Pack::builtin_vn(), &more);
    assert_eq!(ds[3].alerted("shared_device"), ["dave"]);
    assert_eq!(ds[4].alerted("shared_device"), ["alice"]);
    assert_eq!(ds[5].alerted("shared_device"), ["erin"]);
    let mut alerted = ds[6].alerted("shared_device");
    alerted.sort_unstable();
    assert_eq!(alerted, ["alice", "bob", "carol", "dave", "erin", "frank"]);
}

/// A value shared by many customers (a service's address that every customer withdraws to):
/// each decision names at most 20 others with the count of all, and the others are alerted
/// only when the group reaches the threshold and each doubling of it up to 100 members, so
/// that no decision grows with the group (before, each new member's decision carried an
/// alert for every other member naming every member: 1,000 customers made a decision of
/// hundreds of megabytes).
#[test]
fn a_value_shared_by_many_customers_keeps_decisions_bounded() {
    let lines: Vec<String> = (0..130)
        .map(|i| {
            format!(
                r#"{{"id":"w-{i}","time":"2025-11-04T{:02}:{:02}:00Z","customer_id":"c{i}","direction":"withdrawal","asset":"USDT-TRC20","amount":"250","counterparty_address":"{DROP}"}}"#,
                i / 60,
                i % 60
            )
        })
        .collect();
    let ds = run(Pack::builtin_vn(), &lines);
    let rule = "shared_withdrawal_address";
    let raised: Vec<usize> = ds
        .iter()
        .enumerate()
        .filter(|(_, d)| d.alerted(rule).len() > 1)
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(raised, [3, 6, 12, 24, 48, 96], "group sizes at which the others were alerted");
    assert_eq!(ds[95].alerted(rule).len(), 96);
    for (i, d) in ds.iter().enumerate().skip(2) {
        let n = i + 1;
        let hit = d.hits.iter().find(|h| h.rule_id == rule).unwrap();
        assert_eq!(hit.evidence["customers"], n);
        let listed = hit.evidence["members"].as_array().unwrap();
        assert_eq!(listed.len(), n.min(20));
        assert_eq!(listed.last().unwrap()["customer_id"], format!("c{i}"), "the latest named");
        if n > 20 {
            assert_eq!(hit.evidence["members_not_named"], n - 20);
            assert!(
                hit.reason.ends_with(&format!("; and {} more (the latest 19 named)", n - 20)),
                "{}",
                hit.reason
            );
            assert_eq!(hit.reason.matches(" at 2025-11-04T").count(), 19, "{}", hit.reason);
        } else {
            assert!(hit.evidence.get("members_not_named").is_none());
        }
        let bytes = serde_json::to_string(d).unwrap().len();
        let bound = if raised.contains(&n) { 1 << 20 } else { 64 << 10 };
        assert!(bytes < bound, "decision {n}: {bytes} bytes");
    }
}

#[test]
fn issue14_shared_ip_is_a_separate_rule_off_in_vn() {
    // Carrier-grade NAT: three customers behind one IP on their own devices.
    let lines: Vec<String> = ["a", "b", "c", "d"]
        .iter()
        .enumerate()
        .map(|(i, c)| deposit(i + 1, c, &format!("dev-{c}"), "27.72.0.9"))
        .collect();
    let ds = run(Pack::builtin_vn(), &lines);
    assert!(ds.iter().all(|d| d.hits.is_empty() && d.group_alerts.is_empty()), "{ds:?}");
    let on = "extends = \"vn\"\n[typology.shared_ip]\nenabled = true\nmin_customers = 4\n";
    let ds = run(Pack::parse(Path::new("ip.toml"), on).unwrap(), &lines);
    assert!(ds[2].alerted("shared_ip").is_empty(), "threshold 4, not 3");
    let mut alerted = ds[3].alerted("shared_ip");
    alerted.sort_unstable();
    assert_eq!(alerted, ["a", "b", "c", "d"]);
    let hit = ds[3].hits.iter().find(|h| h.rule_id == "shared_ip").unwrap();
    assert!(hit
        .reason
        .starts_with("IP address 27.72.0.9 used by 4 customers within 7d (threshold 4)"));
    assert!(ds.iter().all(|d| d.alerted("shared_device").is_empty()));
}

#[test]
fn issue14_shared_withdrawal_address_alerts_every_sender() {
    let lines: Vec<String> = ["x", "y", "z"]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                r#"{{"id":"w-{i}","time":"2025-11-04T0{i}:30:00Z","customer_id":"{c}","direction":"withdrawal","asset":"USDT-TRC20","amount":"250","counterparty_address":"{DROP}","device":"dev-{c}"}}"#
            )
        })
        .collect();
    let ds = run(Pack::builtin_vn(), &lines);
    let mut alerted = ds[2].alerted("shared_withdrawal_address");
    alerted.sort_unstable();
    assert_eq!(alerted, ["x", "y", "z"]);
    let a = ds[2].group_alerts.iter().find(|a| a.customer_id == "x").unwrap();
    assert!(
        a.reason.starts_with(&format!("withdrawal address {DROP} of this customer (x (w-0 at 2025-11-04T00:30:00Z, USD 250.00))")),
        "{}",
        a.reason
    );
    assert!(a.reason.contains("y (w-1 at 2025-11-04T01:30:00Z, USD 250.00)"), "{}", a.reason);
}
