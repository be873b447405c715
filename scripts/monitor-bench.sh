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
# Usage: scripts/monitor-bench.sh [N] ; LEDGER=FILE to reuse a ledger; SIZES="250000 500000 1000000" for step 3; SKIP_BENCH=1
# skips the in-process figures (they build the bench).
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
echo "machine: $(nproc) cores, load average $(load)"

# About a quarter of gen's transfers are exchange ledger entries. LEDGER=FILE reuses a ledger
# this script wrote before.
if [ -n "${LEDGER:-}" ]; then head -n "$n" "$LEDGER" > "$work/ledger.jsonl"; else
"$bin" -q gen --transfers $((n * 9 / 2)) --seed 1 --out "$work/world" >/dev/null
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

echo; echo "== end to end, $n transfers (load average $(load))"
s=$(now); "$bin" -q --data-dir "$work/nostate" monitor --no-state "$work/ledger.jsonl" >/dev/null; e=$(now)
echo "floodgate monitor --no-state: $(rate "$s" "$e" "$n")"
s=$(now); "$bin" -q --data-dir "$work/state" monitor "$work/ledger.jsonl" >/dev/null; e=$(now)
echo "floodgate monitor (state in monitor.db, durable before written): $(rate "$s" "$e" "$n")"
s=$(now); "$bin" -q --data-dir "$work/state2" monitor --out "$work/out.jsonl" "$work/ledger.jsonl"; e=$(now)
echo "floodgate monitor --out FILE (state): $(rate "$s" "$e" "$n")"
if [ -z "${SKIP_BENCH:-}" ]; then
    FLOODGATE_BENCH_LEDGER="$work/ledger.jsonl" cargo bench -q -p floodgate-monitor --bench monitor 2>&1 |
        grep -E '^in-process' || true
fi
echo "load average after: $(load)"

echo; echo "== resume: a start on no input after SIZE stored decisions (load average $(load))"
for size in ${SIZES:-250000 500000 1000000}; do
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
