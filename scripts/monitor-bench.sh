#!/usr/bin/env bash
# Durable monitor speed and snapshot restart (issue 14 item 6; docs/benchmarks.md), by hand:
#   1. a ledger of N transfers (default 1,000,000): `floodgate gen`'s exchange ledgers merged
#      in time order as JSON Lines (customers prefixed with their exchange);
#   2. in one run: `floodgate monitor` with state (each decision committed to monitor.db
#      before it is written out), the same with --no-state, and the in-process figures of the
#      same ledger (pass-through, VN pack in memory, VN pack with monitor.db:
#      `FLOODGATE_BENCH_LEDGER=… cargo bench -p floodgate-monitor --bench monitor`);
#   3. resume time at growing numbers of stored decisions: a start with the snapshot of the
#      clean end beside the same start with the snapshot removed (a replay of every stored
#      decision, as before snapshots).
# Needs a release build (cargo build --release -p floodgate) and python3.
# Usage: scripts/monitor-bench.sh [N] ; LEDGER=FILE to reuse a ledger; SIZES="250000 500000 1000000" for step 3 (SIZES= for none); SKIP_BENCH=1
# skips the in-process figures (they build the bench); SKIP_OUT=1 skips the --out run, SKIP_TR=1
# the travel-rule runs.
# COPIES=K (step 4): resume after K x N stored decisions, from the stateful run's monitor.db
# copied K times over (see the step); with STATE=DIR, from the monitor.db of DIR, a data
# directory an earlier stateful run left, and steps 2 and 3 are skipped. BASE_BIN=FILE runs
# each end-to-end run of step 2 with that binary too (another build, first, then this one:
# CPU, wall, the decisions' SHA-256, bytes per decision), and each start from the snapshot of
# step 4 (alternating, same run; on a copy of the store with its own snapshot).
# Each run prints wall time and the CPU time it used (user + sys): on a shared machine the
# wall time follows the load, the CPU time less so (not load-proof either: shared caches).
# gen's ledgers carry no travel-rule data, so every transfer of USD 1,000 or more is held by
# travel_rule_missing (about two decisions in three raise an alert): the stateful run is
# repeated on the same ledger with travel-rule names on every line, the alert rate of an
# exchange that collects them.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
bin=${FLOODGATE_BIN:-target/release/floodgate}
[ -x "$bin" ] || { echo "monitor-bench: $bin missing (cargo build --release -p floodgate)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
rate() { python3 -c "import sys; s,e,n=map(float,sys.argv[1:]); print('%.2f s = %.0f transfers/s' % (e-s, n/(e-s)))" "$@"; }
# timed LABEL CMD...: wall and CPU seconds of CMD (stdout to /dev/null) and the rates of each.
timed() {
    local label=$1; shift
    /usr/bin/time -f "%e %U %S" -o "$work/time" "$@" >/dev/null
    report "$label"
}
# report LABEL: the rates of the run /usr/bin/time wrote to $work/time.
report() {
    python3 - "$1" "$n" $(cat "$work/time") <<'PY'
import sys
label, n = sys.argv[1], float(sys.argv[2])
wall, user, sys_ = map(float, sys.argv[3:6])
cpu = user + sys_
print("%s: %.2f s wall = %.0f transfers/s; CPU %.2f s (user %.2f, sys %.2f) = %.0f transfers per CPU second"
      % (label, wall, n / wall, cpu, user, sys_, n / cpu))
PY
}
echo "machine: $(nproc) cores, load average $(load)"

# gen writes about one exchange ledger entry per 7.8 legs (8,000,000 legs of seed 1: 1,029,064
# entries), so 8 N legs give N. LEDGER=FILE reuses a ledger this script wrote before.
if [ -n "${LEDGER:-}" ]; then head -n "$n" "$LEDGER" > "$work/ledger.jsonl"; else
"$bin" -q gen --transfers $((n * 8)) --seed 1 --out "$work/world" >/dev/null
python3 - "$work/world/ledger" "$work/ledger.jsonl" "$n" <<'PY'
import csv, glob, heapq, json, os, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rows(path):
    x = os.path.basename(path).split("-")[1].split(".")[0]
    with open(path) as f:
        for r in csv.DictReader(f):
            r["customer_id"] = "x%s-%s" % (x, r["customer_id"])
            yield r["time"], r
with open(dst, "w") as out:
    k = 0
    for _, r in heapq.merge(*(rows(p) for p in sorted(glob.glob(src + "/*.csv"))), key=lambda t: t[0]):
        if k == n:
            break
        out.write(json.dumps({c: v for c, v in r.items() if v}) + "\n")
        k += 1
print("ledger: %d transfers" % k, file=sys.stderr)
PY
fi
n=$(wc -l < "$work/ledger.jsonl")

python3 - "$work/ledger.jsonl" "$work/ledger-tr.jsonl" <<'PY'
import sys
tr = ', "travel_rule": {"originator_name": "Originator", "beneficiary_name": "Beneficiary"}}'
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        out.write(line.rstrip().removesuffix("}") + tr + "\n")
PY

if [ -z "${STATE:-}" ]; then
# e2e LABEL INPUT KEEP [ARGS...]: one `floodgate monitor` run by each build (BASE_BIN first,
# then this one), fresh data directory each: wall and CPU time, the SHA-256 of the decisions
# it wrote and, with state, the alerts stored and the bytes of monitor.db and cases.db per
# decision. This build's data directory is kept as $work/KEEP (none: "-").
e2e() {
    local label=$1 input=$2 keep=$3; shift 3
    for b in ${BASE_BIN:-} "$bin"; do
        rm -rf "$work/e2e"
        /usr/bin/time -f "%e %U %S" -o "$work/time" "$b" -q --data-dir "$work/e2e" monitor "$@" "$input" |
            sha256sum | cut -c1-16 > "$work/sha"
        report "$label ($b)"
        echo "  decisions SHA-256 $(cat "$work/sha")…"
        if [ -f "$work/e2e/cases.db" ]; then
            python3 - "$work/e2e" "$n" <<'PY2'
import os, sqlite3, sys
d, n = sys.argv[1], int(sys.argv[2])
alerts = sqlite3.connect(d + "/cases.db").execute("select count(*) from alerts").fetchone()[0]
m, c = (os.path.getsize(os.path.join(d, f)) for f in ("monitor.db", "cases.db"))
print("  alerts stored: %d (%.0f %%); monitor.db %.0f B, cases.db %.0f B, both %.0f B per decision"
      % (alerts, 100.0 * alerts / n, m / n, c / n, (m + c) / n))
PY2
        fi
    done
    if [ "$keep" != - ]; then rm -rf "${work:?}/$keep"; mv "$work/e2e" "$work/$keep"; fi
    rm -rf "$work/e2e"
}
echo; echo "== end to end, $n transfers (load average $(load))"
e2e "floodgate monitor --no-state" "$work/ledger.jsonl" - --no-state
e2e "floodgate monitor (state in monitor.db, alerts in cases.db, durable before written)" "$work/ledger.jsonl" state
if [ -z "${SKIP_TR:-}" ]; then
e2e "floodgate monitor --no-state, travel-rule data on every line" "$work/ledger-tr.jsonl" - --no-state
e2e "floodgate monitor (state), travel-rule data on every line" "$work/ledger-tr.jsonl" -
fi
if [ -z "${SKIP_OUT:-}" ]; then
    timed "floodgate monitor --out FILE (state)" "$bin" -q --data-dir "$work/state2" monitor --out "$work/out.jsonl" "$work/ledger.jsonl"
    rm -rf "$work/state2" "$work/out.jsonl"
fi
if [ -z "${SKIP_BENCH:-}" ]; then
    FLOODGATE_BENCH_LEDGER="$work/ledger.jsonl" cargo bench -q -p floodgate-monitor --bench monitor 2>&1 |
        grep -E '^in-process' || true
fi
echo "load average after: $(load)"

echo; echo "== resume: a start on no input after SIZE stored decisions (load average $(load))"
for size in ${SIZES-250000 500000 1000000}; do
    [ "$size" -le "$n" ] || continue
    d="$work/resume-$size"
    head -n "$size" "$work/ledger.jsonl" > "$work/part.jsonl"
    "$bin" -q --data-dir "$d" monitor "$work/part.jsonl" >/dev/null
    # The monitor logs how long loading its state took (snapshot + replay after it).
    resumed() { sed 's/\x1b\[[0-9;]*m//g' | grep -o 'from_snapshot=[0-9]* replayed=[0-9]* elapsed_ms=[0-9]*'; }
    s=$(now); with=$(FLOODGATE_LOG=floodgate::monitor=debug "$bin" -q --data-dir "$d" monitor /dev/null 2>&1 >/dev/null | resumed); e=$(now)
    with_wall=$(python3 -c "print('%.3f' % ($e - $s))")
    snap=$(ls "$d"/monitor-*.snapshot)
    snap_bytes=$(stat -c %s "$snap")
    rm "$snap"
    without=$(FLOODGATE_LOG=floodgate::monitor=debug "$bin" -q --data-dir "$d" monitor /dev/null 2>&1 >/dev/null | resumed)
    echo "$size stored: with the snapshot ($snap_bytes bytes): $with (whole command ${with_wall} s); without it: $without"
done
echo "load average after: $(load)"
fi

# 4. Resume after K x N stored decisions without deciding K x N transfers (the stateful run is
#    far too slow for 10 million in a session): the N decided transfers of step 2 are stored
#    K times, copy k with ids suffixed "-c<k>" and times moved k ledger spans (plus a day)
#    later, so the windows move on as they would on a longer ledger; a copy's decision column
#    holds "{}" (nothing here reads it: the alert feed's cursor is set past the copies, as if
#    their alerts were stored). The first start, without a snapshot, replays every stored
#    decision and writes the snapshot at its clean end; the second loads it.
if [ -n "${COPIES:-}" ]; then
    src=${STATE:-$work/state}
    d="$work/copies"
    mkdir -p "$d"
    "$bin" -q --data-dir "$d" monitor /dev/null >/dev/null 2>&1  # an empty cases.db
    cp "$src/monitor.db" "$d/monitor.db"
    cp "$src/monitor.log" "$d/monitor.log" 2>/dev/null || true
    python3 - "$d" "$COPIES" <<'PY'
import os, sqlite3, struct, sys, time
d, k = sys.argv[1], int(sys.argv[2])
db = sqlite3.connect(d + "/monitor.db")
# The stored decisions with their event and fiat inline: a row of schema 3 keeps them in
# monitor.log (docs/formats/monitor.md), its record at offset `rec` being length, CRC-32,
# then the position and four length-prefixed texts (transfer id, event, fiat, decision).
log = open(d + "/monitor.log", "rb").read() if os.path.exists(d + "/monitor.log") else b""
def texts(rec):
    n = struct.unpack_from("<I", log, rec)[0]
    p, at, out = log[rec + 8:rec + 8 + n], 8, []
    for _ in range(4):
        m = struct.unpack_from("<I", p, at)[0]; at += 4
        out.append(None if m == 0xFFFFFFFF else p[at:at + m].decode())
        at += 0 if m == 0xFFFFFFFF else m
    return out
has_rec = any(r[1] == "rec" for r in db.execute("pragma table_info(decided)"))
db.execute("create temp table src (seq integer primary key, tenant, transfer_id, event, fiat)")
db.executemany("insert into temp.src values (?, ?, ?, ?, ?)", (
    (seq, tenant, tid, ev, fiat) if rec is None else (seq, tenant, tid, *texts(rec)[1:3])
    for seq, tenant, tid, ev, fiat, rec in db.execute(
        "select seq, tenant, transfer_id, event, fiat, %s from decided order by seq" % ("rec" if has_rec else "null")).fetchall()))
n, lo, hi = db.execute("select count(*), min(json_extract(event, '$.entry.time')), max(json_extract(event, '$.entry.time')) from temp.src").fetchone()
span = db.execute("select cast(julianday(?) - julianday(?) as integer) + 1", (hi, lo)).fetchone()[0]
t = time.time()
for c in range(1, k):
    db.execute("""insert into decided (tenant, transfer_id, event, fiat, decision)
        select tenant, transfer_id || '-c' || ?1,
               json_set(event, '$.entry.id', transfer_id || '-c' || ?1, '$.entry.time',
                        strftime('%Y-%m-%dT%H:%M:%SZ', json_extract(event, '$.entry.time'), ?2)),
               fiat, '{}'
        from temp.src order by seq""", (c, "+%d days" % (c * span)))
    db.commit()
total = db.execute("select count(*) from decided").fetchone()[0]
tenant = db.execute("select tenant from decided limit 1").fetchone()[0]
db.close()
cases = sqlite3.connect(d + "/cases.db")
cases.execute("insert into feed_cursor (tenant, source, position) values (?, 'monitor', ?) on conflict (tenant, source) do update set position = excluded.position", (tenant, total))
cases.commit()
print("store: %d decided transfers (%d copies of %d, each %d days later), built in %.0f s" % (total, k, n, span, time.time() - t), file=sys.stderr)
PY
    rm -f "$d"/monitor-*.snapshot
    echo "$(du -h "$d/monitor.db" | cut -f1) monitor.db (load average $(load))"
    resumed() { sed 's/\x1b\[[0-9;]*m//g' | grep -o 'from_snapshot=[0-9]* replayed=[0-9]* elapsed_ms=[0-9]*'; }
    # start: one start on no input; its resume log line, then the whole command's wall and CPU.
    start() {
        FLOODGATE_LOG=floodgate::monitor=debug /usr/bin/time -f "%e %U %S" -o "$work/time" \
            "$bin" -q --data-dir "$d" monitor /dev/null 2>&1 >/dev/null | resumed
        read -r w u s < "$work/time"
        echo "(whole command ${w} s wall, CPU ${u} s user + ${s} s sys)"
    }
    # BASE_BIN=FILE: the same starts by another build (the commit before), alternating with
    # this one. Each build starts from a snapshot of its own layout: the full replay is made
    # by the base build (an older build cannot read a newer layout), then the store is copied
    # for this build, whose first start reads the base's snapshot and, at its clean end,
    # rewrites it in its own layout (that start is shown apart).
    first=$bin
    [ -n "${BASE_BIN:-}" ] && first=$BASE_BIN
    echo "no snapshot (full replay, $first): $(bin=$first start | tr '\n' ' ')"
    snap=$(ls "$d"/monitor-*.snapshot)
    if [ -n "${BASE_BIN:-}" ]; then
        based=$d; d="$work/copies-new"
        mkdir -p "$d"
        cp "$based"/*.db* "$snap" "$d"/
        echo "this build's first start, on the base build's snapshot ($(stat -c %s "$snap") bytes): $(start | tr '\n' ' ')"
    fi
    for i in 1 2 3; do
        echo "with the snapshot ($(stat -c %s "$d"/monitor-*.snapshot) bytes), start $i: $(start | tr '\n' ' ')"
        if [ -n "${BASE_BIN:-}" ]; then
            echo "  the same by $BASE_BIN ($(stat -c %s "$snap") bytes): $(bin=$BASE_BIN d=$based start | tr '\n' ' ')"
        fi
    done
    echo "load average after: $(load)"
fi
