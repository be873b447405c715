//! Case-store benchmarks (docs/benchmarks.md): alerts into cases with the audit log, beside a
//! plain insert of the same rows; `audit verify` over 1 million entries, beside a plain
//! SHA-256 over the same rows. PostgreSQL runs when `FLOODGATE_TEST_PG` (or the local
//! server at 127.0.0.1:5432) answers.

#![allow(clippy::unwrap_used, missing_docs)] // a benchmark: setup failures should stop it loudly

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use floodgate_cases::audit::{entry_hash, GENESIS};
use floodgate_cases::db::{Backend, Postgres, Sqlite, Val};
use floodgate_cases::model::*;
use floodgate_cases::{CaseStore, Cases};
use sha2::{Digest, Sha256};

const BATCH: usize = 1000;

fn alerts(round: u64) -> Vec<NewAlert> {
    (0..BATCH)
        .map(|i| NewAlert {
            source: AlertSource::Monitor,
            rule: "structuring".into(),
            severity: Severity::Medium,
            subject: format!("cust-{}", (round as usize * 7 + i) % 200),
            reasons: vec!["three deposits under the threshold within 24h".into()],
            evidence: serde_json::json!({"transfer_ids": [format!("t-{round}-{i}")], "sum_vnd": 390_000_000}).into(),
            dedup_key: format!("monitor:t-{round}-{i}"),
            event_time: UnixTime(1_750_000_000 + i as i64),
        })
        .collect()
}

fn actor() -> Actor {
    Actor::new(TenantId::new("vasp-a").unwrap(), UserId::new("monitor").unwrap(), Role::Admin)
}

const PLAIN: &str = "CREATE TABLE IF NOT EXISTS plain (tenant TEXT NOT NULL, id BIGINT NOT NULL, dedup_key TEXT NOT NULL, subject TEXT NOT NULL, reasons TEXT NOT NULL, evidence TEXT NOT NULL, PRIMARY KEY (tenant, id))";

fn plain_insert<B: Backend>(db: &mut B, round: u64, batch: &[NewAlert]) {
    db.with_tx(&mut |tx| {
        for (i, a) in batch.iter().enumerate() {
            tx.exec(
                "INSERT INTO plain (tenant, id, dedup_key, subject, reasons, evidence) VALUES (?, ?, ?, ?, ?, ?)",
                &[
                    Val::from("vasp-a"),
                    Val::Int(round as i64 * BATCH as i64 + i as i64),
                    Val::from(a.dedup_key.as_str()),
                    Val::from(a.subject.as_str()),
                    Val::from(serde_json::to_string(&a.reasons).unwrap()),
                    Val::from(serde_json::to_string(&a.evidence).unwrap()),
                ],
            )?;
        }
        Ok(())
    })
    .unwrap();
}

fn pg_url() -> Option<(String, String)> {
    let admin = std::env::var("FLOODGATE_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let loud = |what: &str, e: postgres::Error| {
        let msg = format!("\n*** PostgreSQL benchmarks skipped: {what} at {admin}: {e} ***\n");
        let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    };
    let mut c = postgres::Client::connect(&admin, postgres::NoTls)
        .map_err(|e| loud("cannot connect", e))
        .ok()?;
    let name = format!("floodgate_cases_bench_{}", std::process::id());
    // Two statements: CREATE DATABASE cannot run in the implicit transaction of a batch.
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .map_err(|e| loud("cannot drop the old database", e))
        .ok()?;
    c.batch_execute(&format!("CREATE DATABASE {name}"))
        .map_err(|e| loud("cannot create the database", e))
        .ok()?;
    let (base, _) = admin.rsplit_once('/')?;
    Some((admin.clone(), format!("{base}/{name}")))
}

fn bench_ingest(c: &mut Criterion) {
    let mut g = c.benchmark_group("alerts_into_cases");
    g.sample_size(10);
    g.throughput(Throughput::Elements(BATCH as u64));
    let dir = tempfile::tempdir().unwrap();
    let mut s = Cases::new(Sqlite::open(&dir.path().join("cases.db")).unwrap());
    s.backend_mut().raw(PLAIN).unwrap();
    let a = actor();
    let mut round = 0u64;
    g.bench_function("sqlite/alerts+cases+audit", |b| {
        b.iter_batched(
            || {
                round += 1;
                alerts(round)
            },
            |batch| s.ingest_alerts(&a, &batch, None).unwrap(),
            BatchSize::LargeInput,
        )
    });
    let mut round = 0u64;
    g.bench_function("sqlite/plain_insert", |b| {
        b.iter_batched(
            || {
                round += 1;
                (round, alerts(round))
            },
            |(r, batch)| plain_insert(s.backend_mut(), r, &batch),
            BatchSize::LargeInput,
        )
    });
    if let Some((admin, url)) = pg_url() {
        let mut s = Cases::new(Postgres::connect(&url).unwrap());
        s.backend_mut().raw(PLAIN).unwrap();
        let mut round = 0u64;
        g.bench_function("postgres/alerts+cases+audit", |b| {
            b.iter_batched(
                || {
                    round += 1;
                    alerts(round)
                },
                |batch| s.ingest_alerts(&a, &batch, None).unwrap(),
                BatchSize::LargeInput,
            )
        });
        let mut round = 0u64;
        g.bench_function("postgres/plain_insert", |b| {
            b.iter_batched(
                || {
                    round += 1;
                    (round, alerts(round))
                },
                |(r, batch)| plain_insert(s.backend_mut(), r, &batch),
                BatchSize::LargeInput,
            )
        });
        drop(s);
        let name = url.rsplit_once('/').unwrap().1.to_owned();
        if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
    g.finish();
}

/// Entries in the verify benchmark (`FLOODGATE_BENCH_AUDIT` overrides).
fn audit_entries() -> i64 {
    std::env::var("FLOODGATE_BENCH_AUDIT").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000)
}

fn bench_verify(c: &mut Criterion) {
    let n = audit_entries();
    let dir = tempfile::tempdir().unwrap();
    let mut s = Cases::new(Sqlite::open(&dir.path().join("cases.db")).unwrap());
    let a = actor();
    // One note makes the tenant and its head exist; then a chain of n entries written directly.
    let case = s.open_case(&a, "cust-1", "bench").unwrap();
    let mut prev = s.verify_audit(&a).unwrap().head_hash;
    let start = s.verify_audit(&a).unwrap().head_seq;
    s.backend_mut()
        .with_tx(&mut |tx| {
            for seq in start + 1..=start + n {
                let after = format!("{{\"case\":{{\"id\":{},\"note\":\"note {seq}\",\"state\":\"open\"}}}}", case.id.0);
                let h = entry_hash(&prev, seq, "vasp-a", "lan:analyst", 1_750_000_000 + seq, "case.note", "case:1", "null", &after);
                tx.exec(
                    "INSERT INTO audit (tenant, seq, prev_hash, time, actor, action, object, before, after, hash) VALUES ('vasp-a', ?, ?, ?, 'lan:analyst', 'case.note', 'case:1', 'null', ?, ?)",
                    &[Val::Int(seq), Val::from(prev.as_str()), Val::Int(1_750_000_000 + seq), Val::from(after), Val::from(h.as_str())],
                )?;
                prev = h;
            }
            tx.exec("UPDATE audit_head SET seq = ?, hash = ? WHERE tenant = 'vasp-a'", &[Val::Int(start + n), Val::from(prev.as_str())])?;
            Ok(())
        })
        .unwrap();
    let _ = GENESIS;
    let mut g = c.benchmark_group("audit_verify");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function(format!("sqlite/verify_{n}"), |b| {
        b.iter(|| assert!(s.verify_audit(&a).unwrap().is_intact()))
    });
    g.bench_function(format!("sqlite/plain_sha256_{n}"), |b| {
        b.iter(|| {
            s.backend_mut()
                .with_tx(&mut |tx| {
                    let mut x = 0u8;
                    for r in tx.query("SELECT tenant, seq, prev_hash, time, actor, action, object, before, after, hash FROM audit ORDER BY tenant, seq", &[])? {
                        let mut h = Sha256::new();
                        for v in &r {
                            match v {
                                Val::Text(t) => h.update(t.as_bytes()),
                                Val::Int(i) => h.update(i.to_be_bytes()),
                                Val::Null => {}
                            }
                        }
                        x ^= h.finalize()[0];
                    }
                    Ok(x)
                })
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_ingest, bench_verify);
criterion_main!(benches);
