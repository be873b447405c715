//! `floodgate demo` without `--no-serve`: it decides the bundled ledger, builds the graph,
//! prints an analyst key and serves the workbench and the API until stopped.

// In tests a panic is the failure report; helpers outside #[test] fns unwrap too.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::floodgate;

/// One HTTP/1.1 request; the whole response as text.
fn http(addr: &str, req: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn demo_serves_the_workbench_with_alerts_and_a_key() {
    let dir = tempfile::tempdir().unwrap();
    // A free loopback port (released just before the demo binds it).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = floodgate(dir.path())
        .args(["demo", "--addr", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (mut key, mut text, mut line) = (None, String::new(), String::new());
    let started = Instant::now();
    while stdout.read_line(&mut line).unwrap() > 0 {
        text.push_str(&line);
        if let Some(k) = line.trim().strip_prefix("\"key\": \"") {
            key = Some(k.trim_end_matches(['"', ',']).to_owned());
        }
        if line.starts_with("Workbench: ") {
            break;
        }
        line.clear();
        assert!(started.elapsed() < Duration::from_secs(240), "demo is slow:\n{text}");
    }
    let key = key.unwrap_or_else(|| panic!("no key in the demo output:\n{text}"));
    assert!(text.contains("new_account_large"), "the ledger was not decided:\n{text}");
    assert!(text.contains(&format!("Workbench: http://{addr}/")), "{text}");
    let mut page = String::new();
    for _ in 0..300 {
        if let Ok(s) = TcpStream::connect(&addr) {
            drop(s);
            page = http(
                &addr,
                &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"),
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let alerts = http(
        &addr,
        &format!("GET /v1/alerts HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"),
    );
    // The graph's one-hop expansion: Satoshi's block-9 address pays through the block-170
    // transaction (a `tx:` node on Bitcoin).
    let body = r#"{"address":"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S","direction":"out"}"#;
    let hop = http(
        &addr,
        &format!("POST /v1/trace/neighbours HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()),
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(
        page.to_ascii_lowercase().contains("content-security-policy: default-src 'none'"),
        "{page}"
    );
    assert!(page.contains("<title>floodgate workbench</title>"), "{page}");
    assert!(alerts.starts_with("HTTP/1.1 200"), "{alerts}");
    // The bundled OFAC address lists and TagPacks were loaded.
    assert!(text.contains("ofac-addresses"), "{text}");
    assert!(text.contains("5 GraphSense TagPacks"), "{text}");
    assert!(hop.starts_with("HTTP/1.1 200"), "{hop}");
    assert!(hop.contains("\"kind\":\"transaction\"") && hop.contains("\"node\":\"tx:"), "{hop}");
    assert_eq!(alerts.matches("\"source\":\"monitor\"").count(), 4, "{alerts}");
}
