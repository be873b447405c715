#![allow(clippy::unwrap_used)] // tests
//! The API over real HTTP: a server on an ephemeral loopback port, SQLite (and PostgreSQL for
//! the cases endpoints when it answers), real keys.

use std::sync::Arc;
use std::time::Duration;

use floodgate_api::auth::KeyStore;
use floodgate_api::{ApiConfig, AppState};
use floodgate_cases::model::Role;
use floodgate_cases::Location;
use floodgate_monitor::customer::CustomerBook;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::facts::AddressLists;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::pack::Pack;
use floodgate_types::AssetRegistry;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

const LIST: &str = "# list: test-sanctions
# version: 2026-01-01
id,name,aliases,type,dob,country,id_number,wallet,chain,program,source_url
s-1,Ivan Petrovich Sidorov,,person,1970-01-02,RU,,,,SDGT,
s-2,Acme Shell Trading LLC,,organization,,AE,,,,SDGT,
";

struct Server {
    base: String,
    client: Client,
    keys: std::collections::HashMap<(&'static str, &'static str), String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

fn engine() -> floodgate_api::MonitorFactory {
    Arc::new(|dir: &std::path::Path| {
        let e = Engine::new(
            Pack::builtin_vn(),
            AssetRegistry::builtin(),
            RateTable::builtin(),
            CustomerBook::default(),
            Arc::new(AddressLists::default()),
        );
        floodgate_monitor::monitor::Monitor::open(e, dir).map_err(|e| e.to_string())
    })
}

async fn start_with(cases: Option<String>, tweak: impl FnOnce(&mut ApiConfig)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("imports")).unwrap();
    std::fs::write(dir.path().join("imports/test-list.csv"), LIST).unwrap();
    let mut cfg = ApiConfig::new(dir.path(), engine());
    if let Some(u) = cases {
        cfg.cases = Location::Postgres(u);
    }
    cfg.rate_per_sec = 0.0;
    tweak(&mut cfg);
    let mut ks = KeyStore::open(dir.path()).unwrap();
    let mut keys = std::collections::HashMap::new();
    for (tenant, role, user) in [
        ("vasp-a", Role::Analyst, "lan"),
        ("vasp-a", Role::Approver, "minh"),
        ("vasp-a", Role::Admin, "root-a"),
        ("vasp-b", Role::Analyst, "bao"),
        ("vasp-b", Role::Admin, "root-b"),
        ("sbv", Role::Supervisor, "sup"),
    ] {
        let (_, k) = ks.create(tenant, user, role).unwrap();
        keys.insert((tenant, role.as_str()), k);
    }
    // The PostgreSQL client runs its own runtime: open outside the async one.
    let state = tokio::task::spawn_blocking(move || AppState::open(cfg)).await.unwrap().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(floodgate_api::serve(listener, state, async move {
        let _ = rx.await;
    }));
    Server { base, client: Client::new(), keys, stop: Some(tx), task, _dir: dir }
}

async fn start() -> Server {
    start_with(None, |_| {}).await
}

impl Server {
    fn key(&self, tenant: &'static str, role: &'static str) -> &str {
        &self.keys[&(tenant, role)]
    }

    async fn call(
        &self,
        key: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut r = self.client.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn as_(
        &self,
        tenant: &'static str,
        role: &'static str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let k = self.key(tenant, role).to_owned();
        self.call(Some(&k), method, path, body).await
    }

    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
    }
}

#[track_caller]
fn assert_error(r: &(StatusCode, Value), status: u16, code: &str) {
    assert_eq!(r.0.as_u16(), status, "{:?}", r.1);
    assert_eq!(r.1["error"]["code"], code, "{:?}", r.1);
    assert!(!r.1["error"]["request_id"].as_str().unwrap().is_empty());
}

fn transfer(id: &str, customer: &str, amount: &str) -> Value {
    json!({"id": id, "time": "2025-11-02T11:00:00Z", "customer_id": customer, "direction": "withdrawal",
           "asset": "USDT-TRC20", "amount": amount, "counterparty_address": "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"})
}

/// Every endpoint: no key → 401; the too-weak role → 403; another tenant's data → 404 and
/// nothing of it in the body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_checks_key_role_and_tenant() {
    let s = start().await;
    // A case of tenant A (from a KYT decision that alerts).
    let (st, d) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/kyt/decisions",
            Some(transfer("w1", "cust-secret-a", "5000")),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert_eq!(d["decision"]["action"], "hold");
    let (_, cs) = s.as_("vasp-a", "analyst", Method::GET, "/v1/cases", None).await;
    let case = cs["cases"][0]["id"].as_i64().expect("the hold opened a case");
    let c = |p: &str| p.replace("{id}", &case.to_string());

    // (method, path, body, too-weak role, tenant-scoped by id)
    let name = json!({"name": "Ivan Sidorov", "record_alerts": false});
    let endpoints: Vec<(Method, String, Option<Value>, &str, bool)> = vec![
        (Method::POST, "/v1/screen/name".into(), Some(name.clone()), "supervisor", false),
        (
            Method::POST,
            "/v1/screen/batch".into(),
            Some(json!({"items": [name]})),
            "supervisor",
            false,
        ),
        (
            Method::POST,
            "/v1/screen/address".into(),
            Some(
                json!({"chain": "tron", "address": "TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM", "record_alerts": false}),
            ),
            "supervisor",
            false,
        ),
        (Method::GET, "/v1/lists".into(), None, "supervisor", false),
        (
            Method::POST,
            "/v1/kyt/decisions".into(),
            Some(transfer("w-role", "c9", "1")),
            "supervisor",
            false,
        ),
        (Method::GET, "/v1/alerts".into(), None, "supervisor", false),
        (Method::GET, "/v1/cases".into(), None, "supervisor", false),
        (
            Method::POST,
            "/v1/cases".into(),
            Some(json!({"subject": "c1", "reason": "tip"})),
            "supervisor",
            false,
        ),
        (Method::GET, c("/v1/cases/{id}"), None, "supervisor", true),
        (
            Method::POST,
            c("/v1/cases/{id}/assign"),
            Some(json!({"user": "lan"})),
            "supervisor",
            true,
        ),
        (
            Method::POST,
            c("/v1/cases/{id}/notes"),
            Some(json!({"text": "called the customer"})),
            "supervisor",
            true,
        ),
        (
            Method::POST,
            c("/v1/cases/{id}/evidence"),
            Some(json!({"label": "document", "document": {"a": 1}})),
            "supervisor",
            true,
        ),
        (
            Method::POST,
            c("/v1/cases/{id}/escalate"),
            Some(json!({"reason": "r"})),
            "supervisor",
            true,
        ),
        (
            Method::POST,
            c("/v1/cases/{id}/decide"),
            Some(json!({"decision": "no_action", "reason": "r"})),
            "supervisor",
            true,
        ),
        (Method::POST, c("/v1/cases/{id}/approve"), Some(json!({})), "analyst", true),
        (Method::POST, c("/v1/cases/{id}/reject"), Some(json!({"reason": "r"})), "analyst", true),
        (
            Method::POST,
            c("/v1/cases/{id}/snooze"),
            Some(json!({"until": "2030-01-01T00:00:00Z"})),
            "supervisor",
            true,
        ),
        (Method::POST, c("/v1/cases/{id}/reopen"), Some(json!({"reason": "r"})), "analyst", true),
        (Method::GET, "/v1/reports".into(), None, "supervisor", false),
        (
            Method::POST,
            "/v1/reports/1/file".into(),
            Some(json!({"document_sha256": "0".repeat(64)})),
            "supervisor",
            true,
        ),
        (
            Method::POST,
            "/v1/admin/lists/load".into(),
            Some(json!({"file": "test-list.csv"})),
            "analyst",
            false,
        ),
        (
            Method::POST,
            "/v1/admin/supervisor-grants".into(),
            Some(json!({"supervisor": "sup"})),
            "analyst",
            false,
        ),
        (Method::GET, "/v1/supervisor/summary".into(), None, "analyst", false),
        (Method::GET, "/v1/supervisor/tenants/vasp-a/cases".into(), None, "analyst", false),
        (Method::GET, "/v1/session".into(), None, "", false),
        (
            Method::POST,
            "/v1/trace/exposure".into(),
            Some(json!({"target": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"})),
            "supervisor",
            false,
        ),
        (
            Method::POST,
            "/v1/trace/paths".into(),
            Some(
                json!({"from": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT", "to": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"}),
            ),
            "supervisor",
            false,
        ),
        (
            Method::POST,
            "/v1/trace/neighbours".into(),
            Some(json!({"address": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"})),
            "supervisor",
            false,
        ),
        (
            Method::POST,
            "/v1/admin/tags/load?name=p".into(),
            Some(json!({"tags": []})),
            "analyst",
            false,
        ),
    ];
    for (m, path, body, weak, scoped) in &endpoints {
        let r = s.call(None, m.clone(), path, body.clone()).await;
        assert_error(&r, 401, "unauthorized");
        let r = s.call(Some("fgk_0000000000000000_0000000000000000000000000000000000000000000000000000000000000000"), m.clone(), path, body.clone()).await;
        assert_error(&r, 401, "unauthorized");
        if !weak.is_empty() {
            let tenant = if *weak == "supervisor" { "sbv" } else { "vasp-a" };
            let r = s.as_(tenant, weak, m.clone(), path, body.clone()).await;
            assert_error(&r, 403, "forbidden");
        }
        if *scoped {
            // Tenant B's analyst (or admin) asks for tenant A's case or report: not found.
            let role = if *weak == "analyst" { "admin" } else { "analyst" };
            let r = s.as_("vasp-b", role, m.clone(), path, body.clone()).await;
            assert_error(&r, 404, "not_found");
            assert!(!r.1.to_string().contains("cust-secret-a"));
        }
    }
    // Tenant B's listings show nothing of tenant A.
    for p in ["/v1/alerts", "/v1/cases", "/v1/reports"] {
        let (st, v) = s.as_("vasp-b", "analyst", Method::GET, p, None).await;
        assert_eq!(st, 200);
        assert!(!v.to_string().contains("cust-secret-a"), "{p}: {v}");
    }
    // A supervisor without a grant may not read tenant A's cases.
    let r =
        s.as_("sbv", "supervisor", Method::GET, "/v1/supervisor/tenants/vasp-a/cases", None).await;
    assert_eq!(r.0, 403, "{:?}", r.1);
    s.stop().await;
}

/// The whole case life over HTTP, with the audit trail; the bad inputs change nothing.
async fn case_life(s: &Server) {
    let (st, c) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/cases",
            Some(json!({"subject": "cust-7", "reason": "tip from support"})),
        )
        .await;
    assert_eq!(st, 200, "{c}");
    let id = c["case"]["id"].as_i64().unwrap();
    let p = |a: &str| format!("/v1/cases/{id}{a}");
    // Hostile text is data: stored and returned byte for byte.
    let hostile = "'; DROP TABLE cases; -- <script>alert(1)</script> \u{202e}";
    for (path, body) in [
        (p("/assign"), json!({"user": "lan"})),
        (p("/notes"), json!({"text": hostile})),
        (
            p("/evidence"),
            json!({"label": "screening_hit", "document": {"list": "test", "score": 0.97}}),
        ),
        (p("/decide"), json!({"decision": "report", "reason": "structuring"})),
    ] {
        let (st, v) = s.as_("vasp-a", "analyst", Method::POST, &path, Some(body)).await;
        assert_eq!(st, 200, "{path}: {v}");
    }
    // Four-eyes: the decider may not approve; the approver may.
    let (_, v) = s.as_("vasp-a", "analyst", Method::GET, &p(""), None).await;
    assert_eq!(v["case"]["state"], "pending_approval", "{v}");
    let (st, v) = s.as_("vasp-a", "approver", Method::POST, &p("/approve"), Some(json!({}))).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["case"]["state"], "closed");
    let (st, v) = s
        .as_(
            "vasp-a",
            "approver",
            Method::POST,
            &p("/reopen"),
            Some(json!({"reason": "new facts"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            &p("/snooze"),
            Some(json!({"until": "2030-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            &p("/escalate"),
            Some(json!({"reason": "above my pay grade"})),
        )
        .await;
    // Snoozed cases escalate or not as the state machine says; either way it is explained.
    assert!(st == 200 || v["error"]["code"] == "invalid_transition", "{v}");

    let (_, v) = s.as_("vasp-a", "analyst", Method::GET, &p(""), None).await;
    assert_eq!(v["items"][0]["body"], hostile);
    let actions: Vec<&str> =
        v["trail"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["open", "assign", "note", "attach", "decide", "approve", "reopen", "snooze"] {
        assert!(actions.iter().any(|x| x.contains(a)), "{a} missing from the trail {actions:?}");
    }
    let before = v.to_string();

    // Bad input: a 4xx naming the field, nothing stored.
    let bad = [
        (p("/notes"), json!({"text": "x", "extra": 1}), "unknown_field", "/extra"),
        (p("/notes"), json!({"txt": "x"}), "unknown_field", "/txt"),
        (p("/notes"), json!({"text": "a\u{0}b"}), "invalid_field", "/text"),
        (p("/notes"), json!({"text": 5}), "invalid_field", "/text"),
        (p("/decide"), json!({"decision": "shrug", "reason": "r"}), "invalid_field", "/decision"),
        (p("/snooze"), json!({"until": "tomorrow"}), "invalid_field", "/until"),
        (p("/assign"), json!({"user": ""}), "invalid_field", "/user"),
        ("/v1/cases/abc/notes".to_owned(), json!({"text": "x"}), "invalid_field", "id"),
    ];
    for (path, body, code, field) in bad {
        let r = s.as_("vasp-a", "analyst", Method::POST, &path, Some(body.clone())).await;
        assert_error(&r, 400, code);
        assert_eq!(r.1["error"]["field"], field, "{body}: {:?}", r.1);
    }
    let raw = s
        .client
        .post(format!("{}{}", s.base, p("/notes")))
        .bearer_auth(s.key("vasp-a", "analyst"))
        .header("content-type", "application/json")
        .body("{\"text\": \"x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let v2: Value = raw.json().await.unwrap();
    assert_eq!(v2["error"]["code"], "invalid_json");
    let (_, after) = s.as_("vasp-a", "analyst", Method::GET, &p(""), None).await;
    assert_eq!(after.to_string(), before, "a refused request changed the case");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_on_sqlite() {
    let s = start().await;
    case_life(&s).await;
    s.stop().await;
}

/// The same case life on PostgreSQL (FLOODGATE_TEST_PG or the local server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cases_on_postgres() {
    let admin = std::env::var("FLOODGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!(
        "floodgate_api_{}_{}",
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
    );
    let a2 = admin.clone();
    let n2 = name.clone();
    let created = tokio::task::spawn_blocking(move || {
        let mut c = postgres::Client::connect(&a2, postgres::NoTls).ok()?;
        c.batch_execute(&format!("CREATE DATABASE {n2}")).ok()
    })
    .await
    .unwrap();
    if created.is_none() {
        assert!(
            std::env::var("FLOODGATE_REQUIRE_TEST_DATA").map_or(true, |v| v != "1"),
            "PostgreSQL at {admin} does not answer; CI requires it"
        );
        std::io::Write::write_all(
            &mut std::io::stderr(),
            b"*** SKIPPING PostgreSQL API test ***\n",
        )
        .unwrap();
        return;
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    let s = start_with(Some(format!("{base}/{name}")), |_| {}).await;
    case_life(&s).await;
    s.stop().await;
    tokio::task::spawn_blocking(move || {
        if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    })
    .await
    .unwrap();
}

/// Screening, list loading with the atomic index swap, and KYT with its alert and metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screening_lists_kyt_and_metrics() {
    let s = start().await;
    let (st, v) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/screen/name",
            Some(json!({"name": "Ivan Petrovich Sidorov"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["hits"].as_array().unwrap().len(), 0, "no list loaded yet");
    let (st, v) = s
        .as_(
            "vasp-a",
            "admin",
            Method::POST,
            "/v1/admin/lists/load",
            Some(json!({"file": "test-list.csv"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["lists"][0]["list"], "test-sanctions", "{v}");
    for bad in ["../x.csv", "/etc/passwd", "missing.csv"] {
        let r = s
            .as_(
                "vasp-a",
                "admin",
                Method::POST,
                "/v1/admin/lists/load",
                Some(json!({"file": bad})),
            )
            .await;
        assert_error(&r, 400, "invalid_field");
        assert_eq!(r.1["error"]["field"], "/file");
    }
    let (st, v) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/screen/name",
            Some(json!({"name": "Ivan Petrovich Sidorov", "dob": "1970-01-02"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["hits"][0]["entity_id"], "s-1", "{v}");
    assert!(!v["hits"][0]["features"].as_array().unwrap().is_empty(), "hits are explained");
    assert_eq!(v["lists"][0]["version"], "2026-01-01");
    assert_eq!(v["alerts_recorded"], 1);
    let (_, a) = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts", None).await;
    assert_eq!(a["alerts"][0]["source"], "screen_onboarding", "{a}");
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/screen/name",
            Some(json!({"name": "x", "dob": "1970-13-45"})),
        )
        .await;
    assert_error(&r, 400, "invalid_field");
    assert_eq!(r.1["error"]["field"], "/dob");
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/screen/address",
            Some(json!({"chain": "bitcoin", "address": "not-an-address"})),
        )
        .await;
    assert_error(&r, 400, "invalid_field");
    assert_eq!(r.1["error"]["field"], "/address");
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/screen/batch",
            Some(json!({"items": [{"name": "ok"}, {"name": ""}]})),
        )
        .await;
    assert_error(&r, 400, "invalid_field");
    assert_eq!(r.1["error"]["field"], "/items/1/name");

    // KYT: the decision as `floodgate monitor` makes it; committed; a repeat is refused.
    let (st, d) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/kyt/decisions",
            Some(transfer("w1", "c1", "5000")),
        )
        .await;
    assert_eq!(st, 200, "{d}");
    assert!(d["decision"]["hits"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h["rule_id"] == "travel_rule_missing"));
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/kyt/decisions",
            Some(transfer("w1", "c1", "5000")),
        )
        .await;
    assert_error(&r, 409, "already_decided");
    // Another tenant has its own monitor state: the same transfer id is new there.
    let (st, _) = s
        .as_(
            "vasp-b",
            "analyst",
            Method::POST,
            "/v1/kyt/decisions",
            Some(transfer("w1", "c1", "5000")),
        )
        .await;
    assert_eq!(st, 200);
    let mut bad = transfer("w2", "c1", "5000");
    bad["amount"] = json!("-5");
    let r = s.as_("vasp-a", "analyst", Method::POST, "/v1/kyt/decisions", Some(bad)).await;
    assert_eq!(r.0, 400, "{:?}", r.1);
    let (_, a) = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts?subject=c1", None).await;
    assert!(
        a["alerts"]
            .as_array()
            .unwrap_or_else(|| panic!("{a}"))
            .iter()
            .any(|x| x["rule"] == "travel_rule_missing"),
        "{a}"
    );
    let r = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts?limit=0", None).await;
    assert_error(&r, 400, "invalid_field");
    assert_eq!(r.1["error"]["field"], "limit");
    let r = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts?colour=red", None).await;
    assert_eq!(r.0, 400, "{:?}", r.1);

    // Tracing needs a graph (`floodgate trace build`); none here: 409 naming the command.
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/trace/exposure",
            Some(json!({"target": "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"})),
        )
        .await;
    assert_error(&r, 409, "no_graph");
    let r = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/trace/exposure",
            Some(json!({"target": "x", "sources": {"tagpacks": ["/etc/passwd"]}})),
        )
        .await;
    assert_eq!(r.0, 400, "{:?}", r.1);

    // Metrics, request ids, health.
    let m = s.client.get(format!("{}/metrics", s.base)).send().await.unwrap().text().await.unwrap();
    assert!(m.contains("floodgate_kyt_decisions_total{action=\"hold\"} 2"), "{m}");
    assert!(m.contains("route=\"/v1/screen/name\""));
    assert!(m.contains("floodgate_list_entities{list=\"test-sanctions\",version=\"2026-01-01\"} 2"));
    let r = s
        .client
        .get(format!("{}/health", s.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = s.client.get(format!("{}/v1/cases", s.base)).send().await.unwrap();
    let generated = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["request_id"], generated.as_str());
    let (st, _) = s.call(None, Method::GET, "/ready", None).await;
    assert_eq!(st, 200);
    s.stop().await;
}

/// The supervisor sees aggregates of every tenant and no customer-level field; the cases of a
/// tenant only after that tenant's admin granted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_sees_aggregates_only() {
    let s = start().await;
    let (st, _) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            "/v1/kyt/decisions",
            Some(transfer("w1", "cust-secret-a", "5000")),
        )
        .await;
    assert_eq!(st, 200);
    // Report timeliness: tenant A files one report after its deadline and misses another;
    // tenant B files one on time.
    let (late, bid) = {
        use floodgate_cases::model::{Actor, NewReport, ReportKind, TenantId, UnixTime, UserId};
        let mut c = open_cases(&s);
        let now = UnixTime::now().0;
        let rep = |key: &str, due: i64| NewReport {
            kind: ReportKind::Suspicious,
            subject_ids: vec!["cust-secret-a".into()],
            event_time: UnixTime(now - 86_400),
            detected_time: UnixTime(now - 86_000),
            due_time: UnixTime(now + due),
            reason: json!({"rule": "test"}),
            dedup_key: key.into(),
        };
        let a = Actor::new(
            TenantId::new("vasp-a").unwrap(),
            UserId::new("lan").unwrap(),
            Role::Analyst,
        );
        let ids = c.add_reports(&a, &[rep("late", -3600), rep("missing", -60)]).unwrap();
        let b = Actor::new(
            TenantId::new("vasp-b").unwrap(),
            UserId::new("bao").unwrap(),
            Role::Analyst,
        );
        let bid = c.add_reports(&b, &[rep("on-time", 86_400)]).unwrap();
        (ids[0].0, bid[0].0)
    };
    let sha = json!({"document_sha256": "ab".repeat(32)});
    let (st, v) = s
        .as_(
            "vasp-a",
            "analyst",
            Method::POST,
            &format!("/v1/reports/{late}/file"),
            Some(sha.clone()),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .as_("vasp-b", "analyst", Method::POST, &format!("/v1/reports/{bid}/file"), Some(sha))
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.as_("sbv", "supervisor", Method::GET, "/v1/supervisor/summary", None).await;
    assert_eq!(st, 200, "{v}");
    let row = |t: &str| {
        v["tenants"].as_array().unwrap().iter().find(|x| x["tenant"] == t).unwrap()["cases"].clone()
    };
    let (a, b) = (row("vasp-a"), row("vasp-b"));
    assert_eq!(
        (a["reports_late"].as_i64(), a["reports_on_time"].as_i64()),
        (Some(1), Some(0)),
        "{a}"
    );
    assert!(a["reports_missing"].as_i64().unwrap() >= 1, "{a}");
    assert_eq!(
        (b["reports_on_time"].as_i64(), b["reports_late"].as_i64(), b["reports_missing"].as_i64()),
        (Some(1), Some(0), Some(0)),
        "{b}"
    );
    let text = v.to_string();
    assert!(text.contains("vasp-a"), "{v}");
    assert!(!text.contains("cust-secret-a"), "customer id leaked: {v}");
    assert!(!text.contains("TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"), "address leaked: {v}");
    let a = v["tenants"].as_array().unwrap().iter().find(|t| t["tenant"] == "vasp-a").unwrap();
    assert_eq!(a["alerts_by_rule"]["travel_rule_missing"], 1, "{a}");
    let r =
        s.as_("sbv", "supervisor", Method::GET, "/v1/supervisor/tenants/vasp-a/cases", None).await;
    assert_eq!(r.0, 403);
    let (st, _) = s
        .as_(
            "vasp-a",
            "admin",
            Method::POST,
            "/v1/admin/supervisor-grants",
            Some(json!({"supervisor": "sup"})),
        )
        .await;
    assert_eq!(st, 204);
    let (st, v) =
        s.as_("sbv", "supervisor", Method::GET, "/v1/supervisor/tenants/vasp-a/cases", None).await;
    assert_eq!(st, 200, "{v}");
    assert!(v.to_string().contains("cust-secret-a"), "granted: the cases are visible");
    s.stop().await;
}

/// Browser sessions: HttpOnly SameSite=Strict cookie; unsafe requests need the CSRF token
/// and a same-origin Origin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_need_csrf() {
    let s = start().await;
    let r = s
        .client
        .post(format!("{}/v1/session", s.base))
        .json(&json!({"api_key": s.key("vasp-a", "analyst")}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    let csrf = v["csrf_token"].as_str().unwrap().to_owned();
    let get = s
        .client
        .get(format!("{}/v1/cases", s.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let post = |h: Option<&str>, origin: Option<&str>| {
        let mut r = s
            .client
            .post(format!("{}/v1/cases", s.base))
            .header("cookie", &session)
            .json(&json!({"subject": "c", "reason": "r"}));
        if let Some(h) = h {
            r = r.header("x-csrf-token", h);
        }
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r.send()
    };
    assert_eq!(post(None, None).await.unwrap().status(), 403);
    assert_eq!(post(Some("wrong"), None).await.unwrap().status(), 403);
    assert_eq!(post(Some(&csrf), Some("http://evil.example")).await.unwrap().status(), 403);
    assert_eq!(post(Some(&csrf), None).await.unwrap().status(), 200);
    let bad = s
        .client
        .post(format!("{}/v1/session", s.base))
        .json(&json!({"api_key": "fgk_nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    s.stop().await;
}

/// Per-key token bucket: 429 with Retry-After, other keys unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_per_key() {
    let s = start_with(None, |c| {
        c.rate_per_sec = 0.5;
        c.burst = 3.0;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(s.as_("vasp-a", "analyst", Method::GET, "/v1/lists", None).await.0, 200);
    }
    let r = s
        .client
        .get(format!("{}/v1/lists", s.base))
        .bearer_auth(s.key("vasp-a", "analyst"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(s.as_("vasp-b", "analyst", Method::GET, "/v1/lists", None).await.0, 200);
    s.stop().await;
}

/// Oversized bodies, wrong media type, unknown routes: the one error body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_unknown_routes() {
    let s = start_with(None, |c| c.body_limit = 1024).await;
    let big = json!({"subject": "c", "reason": "x".repeat(5000)});
    let r = s.as_("vasp-a", "analyst", Method::POST, "/v1/cases", Some(big)).await;
    assert_error(&r, 413, "body_too_large");
    let r = s
        .client
        .post(format!("{}/v1/cases", s.base))
        .bearer_auth(s.key("vasp-a", "analyst"))
        .body("subject=c")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = s.call(None, Method::GET, "/v2/nothing", None).await;
    assert_error(&r, 404, "not_found");
    let r = s.call(None, Method::DELETE, "/health", None).await;
    assert_error(&r, 405, "method_not_allowed");
    let (_, cs) = s.as_("vasp-a", "analyst", Method::GET, "/v1/cases", None).await;
    assert_eq!(cs["cases"].as_array().unwrap().len(), 0, "nothing stored");
    s.stop().await;
}

/// OpenAPI 3.1 from the code; Swagger UI served from the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_and_docs() {
    let s = start().await;
    let v: Value = s
        .client
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["openapi"].as_str().unwrap().starts_with("3.1"));
    for p in
        ["/v1/kyt/decisions", "/v1/cases/{id}/approve", "/v1/screen/name", "/v1/supervisor/summary"]
    {
        assert!(v["paths"].get(p).is_some(), "{p} missing");
    }
    let r = s.client.get(format!("{}/docs/", s.base)).send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let html = r.text().await.unwrap();
    assert!(html.contains("swagger"), "status {status}, headers {headers:?}, body {html:?}");
    assert!(!html.contains("cdn."), "no CDN");
    s.stop().await;
}

/// Graceful shutdown: a request whose body is still arriving when shutdown starts is
/// answered in full; new connections are refused afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_requests_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = start().await;
    let addr = s.base.trim_start_matches("http://").to_owned();
    let body = json!({"subject": "c-inflight", "reason": "r"}).to_string();
    let (head, tail) = body.split_at(10);
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let req = format!(
        "POST /v1/cases HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{head}",
        s.key("vasp-a", "analyst"),
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = s.stop.take().unwrap().send(());
    tokio::time::sleep(Duration::from_millis(200)).await;
    conn.write_all(tail.as_bytes()).await.unwrap();
    let mut resp = String::new();
    conn.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("c-inflight"));
    tokio::time::timeout(Duration::from_secs(10), &mut s.task).await.unwrap().unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(&addr).await.is_err(), "the listener is closed");
}

/// The case store the server uses (SQLite in its data directory), opened beside it.
fn open_cases(s: &Server) -> Box<dyn floodgate_cases::CaseStore> {
    floodgate_cases::open(&Location::resolve(None, s._dir.path())).unwrap()
}

/// People sign in with tenant, user and password: only an argon2id hash is stored; a wrong
/// password, an unknown user, a wrong tenant and a disabled user all get the same 401; the
/// registry gives the role; attempts are limited per user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_sign_in() {
    use floodgate_cases::model::{Actor, TenantId, UserId};
    let s = start().await;
    {
        let mut c = open_cases(&s);
        let t = TenantId::new("vasp-a").unwrap();
        let boss = Actor::new(t.clone(), UserId::new("boss").unwrap(), Role::Admin);
        c.add_user(&boss, &UserId::new("boss").unwrap(), Role::Admin).unwrap();
        c.add_user(&boss, &UserId::new("lan").unwrap(), Role::Approver).unwrap();
        c.add_user(&boss, &UserId::new("old").unwrap(), Role::Analyst).unwrap();
        c.disable_user(&boss, &UserId::new("old").unwrap()).unwrap();
        let mut ks = KeyStore::open(s._dir.path()).unwrap();
        ks.set_password("vasp-a", "lan", "lan-long-password").unwrap();
        ks.set_password("vasp-a", "old", "old-long-password").unwrap();
        ks.set_password("vasp-a", "ghost", "ghost-long-password").unwrap();
    }
    let sr = &s;
    let login = |b: Value| async move {
        let r = sr.client.post(format!("{}/v1/session", sr.base)).json(&b).send().await.unwrap();
        let status = r.status();
        let cookie = r.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_owned());
        (status, cookie, r.json::<Value>().await.unwrap())
    };
    let (st, cookie, v) =
        login(json!({"tenant": "vasp-a", "user": "lan", "password": "lan-long-password"})).await;
    assert_eq!(st, 200, "{v}");
    // The role is the registry's (approver), not anything the client says.
    assert_eq!((v["user"].as_str(), v["role"].as_str()), (Some("lan"), Some("approver")));
    let cookie = cookie.unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = s
        .client
        .get(format!("{}/v1/session", s.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["tenant"], "vasp-a");
    // Every refusal reads the same: nothing says which part was wrong.
    let mut messages = std::collections::BTreeSet::new();
    for b in [
        json!({"tenant": "vasp-a", "user": "lan", "password": "wrong-long-password"}),
        json!({"tenant": "vasp-b", "user": "lan", "password": "lan-long-password"}),
        json!({"tenant": "vasp-a", "user": "nobody", "password": "lan-long-password"}),
        json!({"tenant": "vasp-a", "user": "old", "password": "old-long-password"}),
        json!({"tenant": "vasp-a", "user": "ghost", "password": "ghost-long-password"}),
    ] {
        let (st, cookie, v) = login(b.clone()).await;
        assert_eq!(st, 401, "{b}: {v}");
        assert!(cookie.is_none());
        assert_eq!(v["error"]["code"], "unauthorized");
        assert!(v["error"].get("field").is_none_or(Value::is_null), "{v}");
        messages.insert(v["error"]["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(messages.len(), 1, "{messages:?}");
    // Both kinds of credential at once, or neither: a 400.
    let (st, _, _) = login(json!({"api_key": "fgk_x", "password": "p"})).await;
    assert_eq!(st, 400);
    let (st, _, _) = login(json!({"tenant": "vasp-a", "user": "lan"})).await;
    assert_eq!(st, 400);
    // Guessing is limited per user: after the burst even the right password waits (429).
    let mut limited = None;
    for _ in 0..(floodgate_api::state::LOGIN_BURST as usize + 1) {
        let (st, _, v) =
            login(json!({"tenant": "vasp-a", "user": "lan", "password": "guess-long-password"}))
                .await;
        if st == 429 {
            limited = Some(v);
            break;
        }
        assert_eq!(st, 401);
    }
    let v = limited.expect("no 429 after the burst");
    assert_eq!(v["error"]["code"], "rate_limited");
    let (st, _, _) =
        login(json!({"tenant": "vasp-a", "user": "lan", "password": "lan-long-password"})).await;
    assert_eq!(st, 429);
    // Another user is not held up by lan's bucket.
    let (st, _, _) =
        login(json!({"tenant": "vasp-a", "user": "old", "password": "x-long-password"})).await;
    assert_eq!(st, 401);
    s.stop().await;
}

/// A TagPack over HTTP: validated whole (a bad one is a 422 naming its line, nothing stored),
/// then stored where `floodgate trace` reads tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_packs_load_over_http() {
    let s = start().await;
    let store = s._dir.path().join("tags/tagpacks");
    let post = |name: &str, ctype: &str, body: &str, key: &str| {
        s.client
            .post(format!("{}/v1/admin/tags/load?name={name}", s.base))
            .bearer_auth(key)
            .header("content-type", ctype)
            .body(body.to_owned())
            .send()
    };
    let admin = s.key("vasp-a", "admin").to_owned();
    let good = "title: test pack\ncurrency: BTC\ncategory: exchange\nsource: https://example.org/tags\ntags:\n  - address: 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3\n    label: hal test label\n  - address: 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S\n    label: satoshi\n    abuse: scam\n";
    let bad_cat = good.replace("abuse: scam", "abuse: not-a-category");
    let r = post("t1", "application/yaml", &bad_cat, &admin).await.unwrap();
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_tagpack", "{v}");
    assert_eq!(v["error"]["field"], "body:10", "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("not-a-category"), "{v}");
    let bad_addr = good.replace("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", "1NotAnAddress");
    let v: Value =
        post("t1", "application/yaml", &bad_addr, &admin).await.unwrap().json().await.unwrap();
    assert_eq!(v["error"]["field"], "body:6", "{v}");
    let v: Value =
        post("t1", "application/yaml", "tags: [oops", &admin).await.unwrap().json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_tagpack", "{v}");
    assert_eq!(post("t1", "application/json", good, &admin).await.unwrap().status(), 415);
    assert_eq!(post("..%2Fx", "application/yaml", good, &admin).await.unwrap().status(), 400);
    assert_eq!(post("t1", "application/yaml", "  \n", &admin).await.unwrap().status(), 400);
    let nothing = std::fs::read_dir(&store).map(|d| d.count()).unwrap_or(0);
    assert_eq!(nothing, 0, "a refused pack left a file");
    assert!(!std::fs::read_dir(s._dir.path().join("tags"))
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(".incoming")))
        .unwrap_or(false));
    let r = post("t1", "application/yaml", good, &admin).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!((v["tags"].as_u64(), v["replaced"].as_bool()), (Some(2), Some(false)), "{v}");
    assert_eq!(v["by_category"]["scam"], 1, "{v}");
    assert_eq!(std::fs::read_to_string(store.join("t1.yaml")).unwrap(), good);
    let v: Value =
        post("t1.yaml", "application/yaml", good, &admin).await.unwrap().json().await.unwrap();
    assert_eq!(v["replaced"], true, "{v}");
    s.stop().await;
}

/// KYT alerts follow the decisions group by group without re-reading the monitor's decision
/// log: after quiet and alerting transfers interleaved, each alerting transfer has its alert
/// once and the case store's monitor-feed cursor stands at the number of decisions, so a
/// restart's catch-up has nothing to redo.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kyt_alerts_follow_the_decisions_and_the_feed_cursor() {
    let s = start().await;
    let amounts = [("q1", "10"), ("q2", "5000"), ("q3", "10"), ("q4", "10"), ("q5", "5000")];
    for (id, amount) in amounts {
        let (st, d) = s
            .as_(
                "vasp-a",
                "analyst",
                Method::POST,
                "/v1/kyt/decisions",
                Some(transfer(id, "c9", amount)),
            )
            .await;
        assert_eq!(st, 200, "{d}");
        let hits = d["decision"]["hits"].as_array().unwrap();
        assert_eq!(hits.is_empty(), amount == "10", "{id}: {d}");
    }
    let (_, a) = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts?subject=c9", None).await;
    let alerts = a["alerts"].as_array().unwrap_or_else(|| panic!("{a}"));
    let travel: Vec<&Value> =
        alerts.iter().filter(|x| x["rule"] == "travel_rule_missing").collect();
    assert_eq!(travel.len(), 2, "{a}");
    let tenant = floodgate_types::TenantId::new("vasp-a").unwrap();
    let cursor =
        open_cases(&s).feed_position(&tenant, floodgate_cases::feed::MONITOR_FEED).unwrap();
    assert_eq!(cursor, 5, "every decision passed, alerting or not");
    s.stop().await;
}

/// `GET /v1/lists` and `POST /v1/screen/batch` answer with the service results the command
/// line prints (`floodgate lists show` / `screen batch --format json`): the same functions of
/// floodgate-app, over the same data directory, give the same JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_and_batch_bodies_are_the_service_results() {
    use floodgate_app::screen::{self, BatchItem, NameRequest, ScoreOptions};
    use floodgate_app::{lists, DataDir};
    use floodgate_screen::EntityType;
    let s = start().await;
    let (st, v) = s
        .as_(
            "vasp-a",
            "admin",
            Method::POST,
            "/v1/admin/lists/load",
            Some(json!({"file": "test-list.csv"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let dd = DataDir::new(s._dir.path());

    let (st, body) = s.as_("vasp-a", "analyst", Method::GET, "/v1/lists", None).await;
    assert_eq!(st, 200, "{body}");
    let shown = lists::show(&dd).unwrap();
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].list, "test-sanctions");
    assert_eq!(body, serde_json::to_value(&shown).unwrap());

    let items = json!({"items": [
        {"name": "Ivan Petrovich Sidorov", "dob": "1970-01-02", "countries": ["RU"]},
        {"name": "Nobody In Particular"},
        {"name": "Acme Shell Trading LLC", "entity_type": "organization", "record_alerts": false},
    ]});
    let resp = s
        .client
        .post(format!("{}/v1/screen/batch", s.base))
        .bearer_auth(s.key("vasp-a", "analyst"))
        .json(&items)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The second item hit nothing; the third asked for no alert: one alert stored.
    assert_eq!(resp.headers()["x-alerts-recorded"], "1");
    let body: Value = resp.json().await.unwrap();

    let request = |name: &str, dob: Option<&str>, countries: &[&str], t: Option<EntityType>| {
        NameRequest {
            name: name.into(),
            dob: dob.map(Into::into),
            countries: countries.iter().map(|c| (*c).to_owned()).collect(),
            entity_type: t,
            ..NameRequest::default()
        }
        .check()
        .unwrap()
    };
    let service_items = vec![
        BatchItem {
            line: 1,
            name: Some(request("Ivan Petrovich Sidorov", Some("1970-01-02"), &["RU"], None)),
            ..BatchItem::default()
        },
        BatchItem {
            line: 2,
            name: Some(request("Nobody In Particular", None, &[], None)),
            ..BatchItem::default()
        },
        BatchItem {
            line: 3,
            name: Some(request(
                "Acme Shell Trading LLC",
                None,
                &[],
                Some(EntityType::Organization),
            )),
            ..BatchItem::default()
        },
    ];
    let mut screener = screen::open(&dd, &ScoreOptions::default()).unwrap();
    let svc = screen::batch_items(
        &mut screener,
        "request item",
        service_items,
        &floodgate_app::NoProgress,
    )
    .unwrap();
    let lines: Vec<u64> = svc.hits.iter().map(|h| h.line).collect();
    assert!(lines.contains(&1) && lines.contains(&3) && !lines.contains(&2), "{lines:?}");
    assert_eq!(svc.hits[0].entity_id, "s-1");
    assert_eq!(body, serde_json::to_value(&svc).unwrap());

    let (_, a) = s.as_("vasp-a", "analyst", Method::GET, "/v1/alerts", None).await;
    let alerts = a["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{a}");
    assert_eq!(alerts[0]["source"], "screen_batch", "{a}");
    assert_eq!(alerts[0]["subject"], "Ivan Petrovich Sidorov", "{a}");
    s.stop().await;
}
