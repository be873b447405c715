//! Each command's `--format json` output is its `floodgate-app` service's result, serialized:
//! the HTTP API serves the same shapes as the CLI prints (issue 10).

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{blk_0_438, floodgate, ok};
use floodgate_app::trace::{
    self, EntityRequest, ExposureRequest, PathRequest, TagSources, TagsRequest, Tracer, WhyRequest,
};
use floodgate_app::DataDir;
use floodgate_trace::TaintModel;

const SATOSHI: &str = "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S";
const HAL: &str = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3";

/// The CLI's JSON output for `args`, parsed (exit code 0 or 1 accepted: "no path", "not one
/// entity" and "no tag" are answers, not errors).
fn cli_json(data: &Path, args: &[&str]) -> serde_json::Value {
    let out = floodgate(data).args(args).args(["--format", "json"]).output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn value<T: serde::Serialize>(t: &T) -> serde_json::Value {
    serde_json::to_value(t).unwrap()
}

#[test]
fn trace_commands_print_their_service_results() {
    let Some(blk) = blk_0_438() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    ok(floodgate(data).args(["ingest", "bitcoin"]).arg(&blk).output().unwrap());
    let pack = data.join("pack.yaml");
    std::fs::write(
        &pack,
        format!("title: t\ncurrency: BTC\nabuse: scam\nsource: t\ntags:\n- address: {SATOSHI}\n"),
    )
    .unwrap();
    let pack_s = pack.to_str().unwrap();
    let built = cli_json(data, &["trace", "build", "--tagpack", pack_s]);
    assert_eq!(built["tips"]["bitcoin"], 438);
    assert_eq!(built["clustering"]["file"], value(&data.join("graph/entities.fge")));

    let dd = DataDir::new(data);
    let tracer = Tracer::open(&dd).unwrap();

    let mut req = ExposureRequest::new(HAL);
    req.hops = 2;
    req.model = TaintModel::Fifo;
    req.sources = TagSources::tagpacks(vec![pack.clone()]);
    let cli = cli_json(
        data,
        &["trace", "exposure", HAL, "--hops", "2", "--model", "fifo", "--tagpack", pack_s],
    );
    assert_eq!(cli, value(&tracer.exposure(&req).unwrap()));
    assert_eq!(cli[0]["categories"][0]["category"], "scam", "{cli}");

    let cli = cli_json(data, &["trace", "path", SATOSHI, HAL]);
    let svc = tracer
        .paths(&PathRequest { from: SATOSHI.into(), to: HAL.into(), max_hops: 6, limit: 10 })
        .unwrap();
    assert_eq!(cli, value(&svc));
    assert_eq!(svc.paths.len(), 1);

    for change_heuristics in [false, true] {
        let mut args = vec!["trace", "why", SATOSHI, HAL];
        if change_heuristics {
            args.push("--change-heuristics");
        }
        let req =
            WhyRequest { a: SATOSHI.into(), b: HAL.into(), change_heuristics, tagpacks: vec![] };
        let svc = tracer.why(&req).unwrap();
        assert!(!svc.is_one_entity());
        assert_eq!(
            cli_json(data, &args),
            value(&svc),
            "why, change heuristics {change_heuristics}"
        );
    }

    let req = EntityRequest {
        target: HAL.into(),
        change_heuristics: true,
        tagpacks: vec![],
        ofac: None,
        limit: 20,
    };
    let cli = cli_json(data, &["trace", "entity", HAL, "--change-heuristics"]);
    assert_eq!(cli, value(&tracer.entity(&req).unwrap()));

    let summary = trace::tags(&dd, &TagsRequest::default()).unwrap();
    assert_eq!(cli_json(data, &["trace", "tags"]), value(&summary));
    let req = TagsRequest {
        target: Some(SATOSHI.into()),
        sources: TagSources::tagpacks(vec![pack.clone()]),
    };
    let svc = trace::tags(&dd, &req).unwrap();
    assert!(!svc.is_untagged());
    assert_eq!(cli_json(data, &["trace", "tags", SATOSHI, "--tagpack", pack_s]), value(&svc));
}

/// A sink that keeps what the stream hands on.
#[derive(Default)]
struct Collect {
    decisions: Vec<floodgate_monitor::decision::Decision>,
    rejected: Vec<u64>,
}

impl floodgate_app::monitor::DecisionSink for Collect {
    type Error = floodgate_app::AppError;
    fn committed(
        &mut self,
        _: &floodgate_monitor::monitor::Monitor,
        d: Vec<floodgate_monitor::decision::Decision>,
    ) -> Result<(), Self::Error> {
        self.decisions.extend(d);
        Ok(())
    }
    fn rejected(&mut self, r: &floodgate_monitor::input::Reject) -> Result<(), Self::Error> {
        self.rejected.push(r.line);
        Ok(())
    }
}

#[test]
fn monitor_prints_the_decisions_of_its_service() {
    use floodgate_app::monitor::{self, Input, MonitorSetup, StreamOptions};
    let Some(ofac) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            r#"{"id":"t1","time":"2025-11-03T08:15:00Z","customer_id":"c1","direction":"deposit","asset":"USDT-TRC20","amount":"2500","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}"#,
            "\nnot json\n",
            r#"{"id":"t2","time":"2025-11-03T09:00:00Z","customer_id":"c2","direction":"withdrawal","asset":"USDT-TRC20","amount":"9000","counterparty_address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}"#,
            "\n"
        ),
    )
    .unwrap();
    let out = floodgate(dir.path())
        .args(["monitor", "--no-state", "--ofac-dir"])
        .arg(&ofac)
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cli: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let setup = MonitorSetup { ofac_dir: Some(ofac), no_state: true, ..MonitorSetup::default() };
    let dd = DataDir::new(dir.path());
    let mut mon = monitor::open(&dd, &floodgate_types::AssetRegistry::builtin(), &setup).unwrap();
    let (input, _) = Input::open(&input, Default::default()).unwrap();
    let mut sink = Collect::default();
    let summary =
        monitor::stream(&dd, &mut mon, input, &mut sink, &StreamOptions::default()).unwrap();
    assert_eq!((summary.decided, summary.rejected), (2, 1));
    assert_eq!(sink.rejected, [2], "the bad line is named");
    let svc: Vec<serde_json::Value> = sink.decisions.iter().map(value).collect();
    assert_eq!(cli, svc);
    assert_eq!(cli[0]["action"], "block", "{}", cli[0]);
}

/// `value` without the keys a run's clock sets (`seconds`, `load_seconds`).
fn without_timing(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(m) => {
            m.remove("seconds");
            m.remove("load_seconds");
            for x in m.values_mut() {
                *x = without_timing(x.take());
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                *x = without_timing(x.take());
            }
        }
        _ => {}
    }
    v
}

const SANCTIONED_ETH: &str = "0x08723392ed15743cc38513c4925f5e6be5c17243";

#[test]
fn screening_and_list_commands_print_their_service_results() {
    use floodgate_app::lists::{self, HistoryRequest};
    use floodgate_app::screen::{
        self, AddressRequest, BatchRequest, NameRequest, PairsRequest, ScoreOptions,
    };
    let Some(un) = floodgate_testdata::file("sanctions/un-consolidated/UN_consolidated.xml") else {
        return;
    };
    let Some(addrs) = floodgate_testdata::dir("sanctions/ofac-crypto-addresses") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let loaded = cli_json(data, &["lists", "load", un.to_str().unwrap(), addrs.to_str().unwrap()]);
    assert_eq!(loaded.as_array().map(Vec::len), Some(2), "{loaded}");
    assert_eq!(loaded[0]["list"], "un");
    let dd = DataDir::new(data);

    assert_eq!(cli_json(data, &["lists", "show"]), value(&lists::show(&dd).unwrap()));
    let history = lists::history(&dd, &HistoryRequest::default()).unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(cli_json(data, &["lists", "history"]), value(&history));
    let un_only = lists::history(&dd, &HistoryRequest { list: Some("un".into()) }).unwrap();
    assert_eq!(cli_json(data, &["lists", "history", "--list", "un"]), value(&un_only));
    // The load's rows are what the history recorded.
    assert_eq!(loaded[0]["load_id"], value(&un_only[0].load_id));

    let mut s = screen::open(&dd, &ScoreOptions::default()).unwrap();
    let req = NameRequest { name: "Eric Badege".into(), ..NameRequest::default() };
    let svc = screen::name(&mut s, &req).unwrap();
    assert!(svc.is_hit());
    assert_eq!(svc.hits[0].list, "un");
    assert_eq!(cli_json(data, &["screen", "name", "Eric Badege"]), value(&svc));
    let ofac = ScoreOptions { mode: screen::Mode::Ofac, threshold: Some(0.9), unihan: None };
    let req = NameRequest { name: "Eric Badege".into(), score: ofac, ..NameRequest::default() };
    let mut s_ofac = screen::open(&dd, &req.score).unwrap();
    let svc = screen::name(&mut s_ofac, &req).unwrap();
    assert_eq!(
        cli_json(data, &["screen", "name", "Eric Badege", "--mode", "ofac", "--threshold", "0.9"]),
        value(&svc)
    );

    let req =
        AddressRequest { chain: "ethereum".into(), address: SANCTIONED_ETH.into(), subject: None };
    let svc = screen::address(&mut s, &req).unwrap();
    assert!(svc.is_hit());
    assert_eq!(cli_json(data, &["screen", "address", "ethereum", SANCTIONED_ETH]), value(&svc));

    let csv = data.join("batch.csv");
    std::fs::write(
        &csv,
        format!(
            "name,type,country,chain,address\nEric Badege,person,CD,,\nNo Such Person Here,,,,\n\
             ,,,ethereum,{SANCTIONED_ETH}\n"
        ),
    )
    .unwrap();
    let req = BatchRequest { file: csv.clone(), score: ScoreOptions::default() };
    let open = || screen::open(&dd, &ScoreOptions::default());
    let svc = screen::batch(&req, Default::default(), open, &floodgate_app::NoProgress).unwrap();
    let lines: Vec<u64> = svc.hits.iter().map(|h| h.line).collect();
    assert!(lines.contains(&2) && lines.contains(&4) && !lines.contains(&3), "{lines:?}");
    assert_eq!(cli_json(data, &["screen", "batch", csv.to_str().unwrap()]), value(&svc));

    let pairs = data.join("pairs.csv");
    std::fs::write(&pairs, "name1,name2,type\nZTE Corp.,ZTE Corporation,organization\n").unwrap();
    let svc = screen::pairs(
        &PairsRequest { file: pairs.clone(), ..Default::default() },
        Default::default(),
    )
    .unwrap();
    assert!(svc.pairs[0].hit);
    assert_eq!(cli_json(data, &["screen", "pairs", pairs.to_str().unwrap()]), value(&svc));
}

#[test]
fn ingest_and_rules_print_their_service_results() {
    use floodgate_app::ingest::{self, IngestRequest};
    use floodgate_app::rules::{self, CheckRequest, EvalRequest};
    let Some(tron) = floodgate_testdata::dir("tron/graphsense-block-50000011") else { return };
    let Some(btc) = floodgate_testdata::file("bitcoin/raw-blocks/mainnet_block_252860.raw") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (cli_dir, svc_dir) = (dir.path().join("cli"), dir.path().join("svc"));
    let assets = floodgate_types::AssetRegistry::builtin();
    for (source, path) in [("tron", &tron), ("bitcoin", &btc), ("auto", &btc)] {
        let cli = cli_json(&cli_dir, &["ingest", source, path.to_str().unwrap()]);
        let req = IngestRequest::new(source, vec![path.clone()], "main");
        let svc =
            ingest::ingest(&DataDir::new(&svc_dir), &assets, &req, &floodgate_app::NoProgress)
                .unwrap();
        assert_eq!(without_timing(cli), without_timing(value(&svc)), "ingest {source}");
        assert_eq!(svc.files.len(), 1);
        if source == "auto" {
            // The same block again, told from its content: nothing new.
            assert_eq!(svc.files[0].format, "raw-block");
            assert!(svc.already_stored > 0 && svc.new_transactions == 0, "{svc:?}");
        } else {
            assert!(svc.new_transfers + svc.new_transactions > 0, "{svc:?}");
        }
    }

    let pack = dir.path().join("vn.toml");
    std::fs::write(&pack, rules::default_pack()).unwrap();
    let svc = rules::check(&CheckRequest { file: pack.clone() }).unwrap();
    assert_eq!(svc.pack, "vn");
    assert_eq!(cli_json(dir.path(), &["rules", "check", pack.to_str().unwrap()]), value(&svc));

    let req = EvalRequest { customers: 60, per_typology: 3, ..EvalRequest::default() };
    let svc = rules::eval(&assets, &req).unwrap();
    assert!(!svc.scores.is_empty());
    assert_eq!(
        cli_json(dir.path(), &["rules", "eval", "--customers", "60", "--per-typology", "3"]),
        value(&svc)
    );
}
