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
use floodgate_graph::TaintModel;

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
