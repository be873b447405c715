//! Monitor throughput and latency: the default VN pack (≥ 20 rules incl. windows) against a
//! pass-through baseline (parse each line and write a decision, no rules), on the same
//! seeded synthetic stream, in the same run. Also prints p50/p99 per-decision latency.
// Benchmarks unwrap freely and print their measurements.
#![allow(clippy::unwrap_used, clippy::print_stderr, missing_docs)]

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, Criterion, Throughput};
use floodgate_monitor::decision::Decision;
use floodgate_monitor::engine::Engine;
use floodgate_monitor::fiat::RateTable;
use floodgate_monitor::input::parse_event;
use floodgate_monitor::monitor::{Monitor, Processed};
use floodgate_monitor::pack::{Action, Pack};
use floodgate_monitor::synth::{generate, to_input_line, SynthConfig, SynthWorld};
use floodgate_types::AssetRegistry;

/// The allocator the `floodgate` binary runs with (`floodgate_alloc`), so that the
/// in-process figures are of the code `floodgate monitor` runs (before 2026-12-06 this bench
/// ran on glibc's malloc: malloc and free were ~15 % of a perf profile of its two passes).
#[global_allocator]
static ALLOCATOR: floodgate_alloc::MiMalloc = floodgate_alloc::MiMalloc;

fn world() -> (SynthWorld, Vec<String>) {
    let w =
        generate(SynthConfig { seed: 1, background_customers: 2000, per_typology: 20, days: 20 });
    let lines = w.events.iter().map(to_input_line).collect();
    (w, lines)
}

fn engine(w: &SynthWorld) -> Engine {
    Engine::new(
        Pack::builtin_vn(),
        AssetRegistry::builtin(),
        RateTable::builtin(),
        w.customers.clone(),
        w.facts(),
    )
}

/// Parse + (rules | nothing) + serialize one decision per line.
fn run(
    lines: &[String],
    mut m: Option<&mut Monitor>,
    reg: &AssetRegistry,
    lat: Option<&mut Vec<u64>>,
) -> usize {
    let mut out = String::with_capacity(1 << 20);
    let mut lat = lat;
    for (i, l) in lines.iter().enumerate() {
        let t = Instant::now();
        let ev = parse_event(Path::new("bench"), i as u64 + 1, l, reg, None).unwrap();
        let d = match m.as_deref_mut() {
            Some(m) => match m.process(&ev).unwrap() {
                Processed::Decided(d) => *d,
                Processed::Duplicate => continue,
            },
            None => Decision {
                transfer_id: ev.entry.id.clone(),
                customer_id: ev.entry.customer_id.clone(),
                time: ev.entry.time,
                direction: ev.entry.direction,
                asset: ev.entry.asset.0.clone(),
                rail: ev.entry.rail,
                amount: ev.entry.amount.to_string(),
                amount_vnd: None,
                amount_usd_cents: None,
                action: Action::Allow,
                score: 0,
                hits: Vec::new(),
                reports_due: Vec::new(),
                notes: Vec::new(),
                rule_errors: Vec::new(),
                group_alerts: Vec::new(),
                pack: String::new(),
            },
        };
        // As `floodgate monitor` writes a decision (`sink::jsonl`; before 2026-12-06 this was
        // `serde_json::to_string`, which `sink::jsonl` then was).
        floodgate_monitor::sink::jsonl(&d, &mut out);
        if let Some(l) = lat.as_deref_mut() {
            l.push(t.elapsed().as_nanos() as u64);
        }
        if out.len() > (1 << 20) {
            black_box(&out);
            out.clear();
        }
    }
    black_box(out.len())
}

/// CPU seconds (user + system) this process used so far, from `/proc/self/stat` (Linux;
/// `None` elsewhere): on a machine shared with other work the wall time follows the load.
fn cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Writes the decision of every line (VN pack in memory, no customer file, no lists) to
/// `out` as JSON Lines, untimed: `FLOODGATE_BENCH_DECISIONS=FILE` keeps them so two builds'
/// decisions can be compared byte for byte.
fn dump_decisions(lines: &[String], mut m: Monitor, reg: &AssetRegistry, out: &str) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for (i, l) in lines.iter().enumerate() {
        let ev = parse_event(Path::new("bench"), i as u64 + 1, l, reg, None).unwrap();
        if let Processed::Decided(d) = m.process(&ev).unwrap() {
            serde_json::to_writer(&mut f, &*d).unwrap();
            f.write_all(b"\n").unwrap();
        }
    }
    f.flush().unwrap();
    eprintln!("decisions of {} lines written to {out}", lines.len());
}

/// With `FLOODGATE_BENCH_LEDGER=FILE` (JSON Lines, `docs/formats/monitor.md`): one pass each
/// over that file, in this process, of the pass-through baseline, the VN pack in memory and
/// the VN pack with state (`monitor.db` and `monitor.log` group commits of 512, each group's
/// stored decision JSON written out as lines after its commit, as the CLI does), printed for `scripts/monitor-bench.sh`; criterion is skipped.
/// `FLOODGATE_BENCH_LINES=N` reads only the first N lines; `FLOODGATE_BENCH_PASSES=K` repeats
/// the two in-memory passes K times (alternating); `FLOODGATE_BENCH_SKIP_DB=1` skips the pass
/// with `monitor.db`.
fn ledger_figures(path: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    let limit = std::env::var("FLOODGATE_BENCH_LINES").ok().and_then(|n| n.parse().ok());
    let lines: Vec<String> =
        text.lines().take(limit.unwrap_or(usize::MAX)).map(str::to_owned).collect();
    drop(text);
    let reg = AssetRegistry::builtin();
    let plain = || {
        Engine::new(
            Pack::builtin_vn(),
            AssetRegistry::builtin(),
            RateTable::builtin(),
            floodgate_monitor::customer::CustomerBook::default(),
            std::sync::Arc::new(floodgate_monitor::facts::AddressLists::default()),
        )
    };
    if let Ok(out) = std::env::var("FLOODGATE_BENCH_DECISIONS") {
        dump_decisions(&lines, Monitor::in_memory(plain()), &reg, &out);
    }
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("{} lines; load average {}", lines.len(), load().trim());
    let rate = |name: &str, t: Instant, cpu0: Option<f64>| {
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs().zip(cpu0).map(|(b, a)| b - a);
        eprintln!(
            "{name}: {} transfers in {secs:.2} s = {:.0}/s; CPU {} = {} per CPU second",
            lines.len(),
            lines.len() as f64 / secs,
            cpu.map_or_else(|| "?".into(), |c| format!("{c:.2} s")),
            cpu.map_or_else(|| "?".into(), |c| format!("{:.0}", lines.len() as f64 / c)),
        );
    };
    let passes = std::env::var("FLOODGATE_BENCH_PASSES").ok().and_then(|n| n.parse().ok());
    for _ in 0..passes.unwrap_or(1) {
        let (t, c) = (Instant::now(), cpu_secs());
        run(&lines, None, &reg, None);
        rate("in-process pass-through (parse, write a decision, no rules)", t, c);
        let mut m = Monitor::in_memory(plain());
        let (t, c) = (Instant::now(), cpu_secs());
        run(&lines, Some(&mut m), &reg, None);
        rate("in-process VN pack, in memory", t, c);
    }
    eprintln!("load average {}", load().trim());
    if std::env::var_os("FLOODGATE_BENCH_SKIP_DB").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(plain(), dir.path()).unwrap();
    let (t, c) = (Instant::now(), cpu_secs());
    // As `floodgate monitor` writes its output: after each commit, the JSON the commit stored
    // (`Monitor::committed_json`), not each decision serialized a second time (before
    // 2026-12-06 this pass did that, which put a second serialization of every decision in
    // the figure of the store).
    let mut held = 0;
    for (i, l) in lines.iter().enumerate() {
        let ev = parse_event(Path::new("bench"), i as u64 + 1, l, &reg, None).unwrap();
        if let Processed::Decided(d) = m.process(&ev).unwrap() {
            black_box(&d);
            held += 1;
        }
        if held == 512 {
            m.commit().unwrap();
            black_box(floodgate_monitor::sink::lines_text(m.committed_json()));
            held = 0;
        }
    }
    m.commit().unwrap();
    black_box(floodgate_monitor::sink::lines_text(m.committed_json()));
    rate("in-process VN pack, state in monitor.db (output: the stored JSON)", t, c);
}

fn bench(c: &mut Criterion) {
    if let Ok(path) = std::env::var("FLOODGATE_BENCH_LEDGER") {
        ledger_figures(&path);
        return;
    }
    let (w, lines) = world();
    let reg = AssetRegistry::builtin();
    if let Ok(out) = std::env::var("FLOODGATE_BENCH_DECISIONS") {
        dump_decisions(&lines, Monitor::in_memory(engine(&w)), &reg, &out);
        return;
    }
    let mut g = c.benchmark_group("monitor");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.sample_size(10);
    g.bench_function("baseline_parse_write", |b| b.iter(|| run(&lines, None, &reg, None)));
    g.bench_function("vn_pack_in_memory", |b| {
        b.iter(|| {
            let mut m = Monitor::in_memory(engine(&w));
            run(&lines, Some(&mut m), &reg, None)
        })
    });
    g.finish();

    // Latency percentiles, one pass each (not a criterion statistic: printed for the report).
    for (name, with_rules) in [("baseline", false), ("vn_pack", true)] {
        let mut lat = Vec::with_capacity(lines.len());
        let mut m = Monitor::in_memory(engine(&w));
        let t = Instant::now();
        run(&lines, with_rules.then_some(&mut m), &reg, Some(&mut lat));
        let secs = t.elapsed().as_secs_f64();
        lat.sort_unstable();
        let p = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
        eprintln!(
            "{name}: {} transfers, {:.0}/s, p50 {} ns, p99 {} ns, max {} ns",
            lines.len(),
            lines.len() as f64 / secs,
            p(0.50),
            p(0.99),
            lat[lat.len() - 1]
        );
    }
    // With persistence (SQLite group commits of 512) for reference.
    let dir = tempfile::tempdir().unwrap();
    let mut m = Monitor::open(engine(&w), dir.path()).unwrap();
    let t = Instant::now();
    for (i, l) in lines.iter().enumerate() {
        let ev = parse_event(Path::new("bench"), i as u64 + 1, l, &reg, None).unwrap();
        black_box(m.process(&ev).unwrap());
        if i % 512 == 511 {
            m.commit().unwrap();
        }
    }
    m.commit().unwrap();
    eprintln!("vn_pack_persisted: {:.0}/s", lines.len() as f64 / t.elapsed().as_secs_f64());
}

criterion_group!(benches, bench);

/// `criterion_main!`, with the allocator tuned first as the binary tunes it.
fn main() {
    floodgate_alloc::tune();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
}
