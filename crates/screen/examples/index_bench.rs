//! The persistent index, measured: `cargo run -p floodgate-screen --release --example index_bench`.
//!
//! Loads the SDN and UN lists into a `Screener` in a temporary data directory, then in the same
//! run:
//! * opens it again and answers one query, with the mapped index (after) and with the index
//!   removed so that the matcher is rebuilt from `screening.db` (before: what every process
//!   did until the index existed, plus writing the index again);
//! * answers one query in a new process (this example run again), for a Latin name and for
//!   names that need the reading table ("Nguyen Van Dai", "Vương Kỳ Sơn", "王岐山"), beside
//!   what decoding the compressed Unihan extract costs (what such a first query paid until
//!   the table was built in in binary form);
//! * screens the 100,000 yente negatives (names with date of birth and nationality) on every
//!   core through the index, beside a brute-force scan of every name for a sample of them
//!   (the scan of all 100,000 would take hours; its time is extrapolated and says so);
//!   `INDEX_BENCH_FIRST_ONLY=1` stops before this.
#![allow(clippy::print_stdout, clippy::unwrap_used)] // a report printed for a human

use std::time::{Duration, Instant};

use floodgate_screen::index::INDEX_FILE;
use floodgate_screen::loaders::{ofac_advanced, un_xml};
use floodgate_screen::{eval, NameQuery, ScoreConfig, Screener};

fn first_query(dir: &std::path::Path, q: &str) -> (Duration, bool, usize) {
    let t = Instant::now();
    let s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let hits = s.matcher().screen(NameQuery::name(q)).len();
    (t.elapsed(), s.matcher().is_mapped(), hits)
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 ticks/s),
/// to show how many cores a step kept busy.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    // Fields 14 and 15 of the file; after the ")" the 3rd field is 1st, and the state letter
    // was dropped by the parse, so utime and stime are at 10 and 11.
    f.get(10).zip(f.get(11)).map_or(0.0, |(u, s)| (u + s) / 100.0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The child process of [`first_query_new_process`]: opens the data directory, answers one
/// query and prints the time both took, in microseconds, and the hit count.
fn child(arg: &str) {
    let t = Instant::now();
    let (dir, q) = arg.split_once('\t').unwrap();
    let s = Screener::open(std::path::Path::new(dir), ScoreConfig::default(), None).unwrap();
    let hits = s.matcher().screen(NameQuery::name(q)).len();
    println!("{} {hits} {}", t.elapsed().as_micros(), s.matcher().is_mapped());
}

/// Opens the data directory and answers `q` in a new process: (open + first answer inside
/// it, the whole process from spawn to exit, hits).
fn first_query_new_process(
    exe: &std::path::Path,
    dir: &std::path::Path,
    q: &str,
) -> (Duration, Duration, usize) {
    let t = Instant::now();
    let out = std::process::Command::new(exe)
        .env("INDEX_BENCH_CHILD", format!("{}\t{q}", dir.display()))
        .output()
        .unwrap();
    let whole = t.elapsed();
    let text = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(f.get(2), Some(&"true"), "{text}");
    (Duration::from_micros(f[0].parse().unwrap()), whole, f[1].parse().unwrap())
}

fn main() {
    if let Ok(arg) = std::env::var("INDEX_BENCH_CHILD") {
        return child(&arg);
    }
    let root = floodgate_testdata::root().expect("test data (../shared/data) is required");
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t = Instant::now();
    let sdn = ofac_advanced::load(&root.join("sanctions/ofac-sdn/sdn_advanced.xml.bz2")).unwrap();
    let un = un_xml::load(&root.join("sanctions/un-consolidated/UN_consolidated.xml")).unwrap();
    println!("parsed SDN + UN in {:.1?}", t.elapsed());
    let mut s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let t = Instant::now();
    s.load(sdn).unwrap();
    s.load(un).unwrap();
    println!("stored both, each load rebuilding and writing the index: {:.1?}", t.elapsed());
    println!("(entities, names) = {:?}", s.matcher().len());
    drop(s);
    let idx = dir.join(INDEX_FILE);
    println!("index file: {} bytes", std::fs::metadata(&idx).unwrap().len());

    let q = "Abu Bakr al-Baghdadi";
    let mut after = Vec::new();
    for _ in 0..runs {
        let (d, mapped, hits) = first_query(dir, q);
        assert!(mapped && hits > 0);
        after.push(d);
    }
    let mut before = Vec::new();
    for _ in 0..runs {
        std::fs::remove_file(&idx).unwrap();
        let (d, mapped, hits) = first_query(dir, q);
        assert!(!mapped && hits > 0);
        before.push(d);
    }
    println!(
        "open + first query ({q:?}), median of {runs}: mapped index {:.1?}; rebuilt from screening.db {:.1?}",
        median(after),
        median(before)
    );

    // A new process per answer: the reading table is shared within a process once used.
    // `INDEX_BENCH_BEFORE=EXE`: also with another build of this example (a baseline), its
    // runs interleaved with these.
    let this = std::env::current_exe().unwrap();
    let before = std::env::var_os("INDEX_BENCH_BEFORE").map(std::path::PathBuf::from);
    for q in ["Abu Bakr al-Baghdadi", "Nguyen Van Dai", "Vương Kỳ Sơn", "王岐山"] {
        let mut builds = vec![("this build", this.clone(), Vec::new(), Vec::new(), 0)];
        if let Some(b) = &before {
            builds.push(("INDEX_BENCH_BEFORE", b.clone(), Vec::new(), Vec::new(), 0));
        }
        for _ in 0..runs {
            for (_, exe, inner, whole, hits) in &mut builds {
                let (i, w, h) = first_query_new_process(exe, dir, q);
                inner.push(i);
                whole.push(w);
                *hits = h;
            }
        }
        for (name, _, inner, whole, hits) in builds {
            println!(
                "new process, open + first query ({q:?}, {hits} hits), {name}, median of {runs}: {:.1?} (whole process from spawn to exit {:.1?})",
                median(inner),
                median(whole)
            );
        }
    }
    let extract =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/unihan-readings.txt.bz2");
    let mut decode = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let u = floodgate_screen::unihan::Unihan::load(&extract).unwrap();
        decode.push(t.elapsed());
        assert!(u.readings('王').is_some());
    }
    println!(
        "reading the compressed Unihan extract (decompress, parse, write the binary form), median of {runs}: {:.1?} (about what the first query needing readings paid before the binary form, which skipped the last step)",
        median(decode)
    );
    if std::env::var_os("INDEX_BENCH_FIRST_ONLY").is_some() {
        return;
    }

    let ev = root.join("screening-eval/yente-candidate-generation");
    let mut neg = eval::read_queries(&ev.join("negatives_global.csv")).unwrap();
    neg.extend(eval::read_queries(&ev.join("negatives_us.csv")).unwrap());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let s = Screener::open(dir, ScoreConfig::default(), None).unwrap();
    let m = s.matcher();
    assert!(m.is_mapped());
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let res = m.screen_many(neg.clone(), threads);
    let (batch, cpu) = (t.elapsed(), cpu_seconds() - cpu);
    let with_hit = res.iter().filter(|h| !h.is_empty()).count();
    println!(
        "{} names, indexed, {threads} threads, fresh mapped index: {batch:.1?} ({with_hit} with a hit); CPU {cpu:.1} s = {:.2} cores busy",
        neg.len(),
        cpu / batch.as_secs_f64()
    );
    let t = Instant::now();
    let res2 = m.screen_many(neg.clone(), threads);
    println!("same names again (names already prepared): {:.1?}", t.elapsed());
    assert_eq!(res2.len(), res.len());
    // The brute-force baseline: every name scored for a sample spread over the 100,000 (every
    // 250th), on the same threads; all 100,000 would take hours, so its time for all is
    // extrapolated from the sample and says so.
    let step = 250;
    let sample: Vec<(usize, NameQuery)> = neg.iter().cloned().enumerate().step_by(step).collect();
    let t = Instant::now();
    let per_thread = sample.len().div_ceil(threads);
    let brute: Vec<(usize, Vec<floodgate_screen::Hit>)> = std::thread::scope(|s| {
        let hs: Vec<_> = sample
            .chunks(per_thread)
            .map(|c| {
                s.spawn(move || {
                    c.iter()
                        .map(|(i, q)| (*i, m.screen_brute_force(&m.prepare(q.clone()))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let brute_time = t.elapsed();
    let missed: usize = brute
        .iter()
        .map(|(i, all)| {
            all.iter().filter(|h| !res[*i].iter().any(|x| x.entity_id == h.entity_id)).count()
        })
        .sum();
    let per_name = brute_time.as_secs_f64() / sample.len() as f64;
    println!(
        "brute force, {threads} threads, {} names (every {step}th): {brute_time:.1?} -> {:.1} ms per name, ≈ {:.0} s for all {} (extrapolated); indexed: {:.3} ms per name -> brute/indexed ≈ {:.0}×; hits the index missed in the sample: {missed}",
        sample.len(),
        per_name * 1e3,
        per_name * neg.len() as f64,
        neg.len(),
        batch.as_secs_f64() / neg.len() as f64 * 1e3,
        per_name / (batch.as_secs_f64() / neg.len() as f64),
    );
}
