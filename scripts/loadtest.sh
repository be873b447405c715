#!/usr/bin/env bash
# Load test of `floodgate serve` on loopback (run by hand, not in CI; docs/api.md):
#   1. KYT decisions over HTTP            (target: >= 5,000 req/s, p99 <= 10 ms, no errors)
#   2. the same with 1 % malformed bodies (target: exactly those answered 4xx)
#   3. KYT where every transfer alerts    (an OFAC-listed counterparty: each decision also
#      stores an alert in the case store before it is answered; no target, shown apart)
#   4. name screening over HTTP           (target: >= 2,000 req/s, p99 <= 20 ms)
# Each phase prints wrk's req/s, latency percentiles (p50 … p99) and non-2xx count, and the
# server's RSS before and after; at the end the server's own count of answers by status.
# and beside them the in-process figures of the same run (`floodgate monitor --no-state` on the
# same kind of events; `floodgate screen batch` on the same names).
# Needs: wrk (Debian package `wrk`), a release build (cargo build --release -p floodgate),
# ../shared/data (or FLOODGATE_TEST_DATA) for the OFAC SDN list.
# Usage: scripts/loadtest.sh [DURATION (default 300s, every phase)] ; CONNS=64 THREADS=2 to change
# the load; MALFORMED_DUR, ALERTING_DUR, SCREEN_DUR override the duration of phases 2-4, and
# SCREEN_CONNS the connections of phase 4 (wrk is closed-loop: with more connections than the
# server has cores, latency is queueing, ~connections / throughput).
set -euo pipefail
cd "$(dirname "$0")/.."
dur=${1:-300s}
conns=${CONNS:-64}
threads=${THREADS:-2}
bin=${FLOODGATE_BIN:-target/release/floodgate}
data=${FLOODGATE_TEST_DATA:-$(cd .. && pwd)/shared/data}
port=${PORT:-18089}
command -v wrk >/dev/null || { echo "loadtest: wrk is missing (apt-get install wrk)" >&2; exit 2; }
[ -x "$bin" ] || { echo "loadtest: $bin missing (cargo build --release -p floodgate)" >&2; exit 2; }
work=$(mktemp -d)
# The KYT phases share one clock (scripts/loadtest/kyt.lua).
export CLOCK_FILE="$work/clock" WRK_THREADS="$threads"
trap 'kill "${pid:-0}" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" -q --data-dir "$work" lists load "$data/sanctions/ofac-sdn/sdn_advanced.xml.bz2" >/dev/null
export FG_KEY
FG_KEY=$("$bin" --data-dir "$work" serve keys create --tenant load --user load --role admin |
    sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')
FLOODGATE_LOG=warn "$bin" --data-dir "$work" serve --addr "127.0.0.1:$port" --rate-limit 0 2>"$work/serve.log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.2; done
rss() { awk '/VmRSS/ {print $2 " kB"}' "/proc/$pid/status"; }
run() {
    local d=$1; shift
    echo; echo "== $1 ($d, $conns connections, $threads threads); server RSS before: $(rss); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    shift
    # The server's RSS every 30 s while the phase runs, to show whether memory stays flat.
    local t0=$SECONDS
    (while sleep 30; do echo "  server RSS at +$((SECONDS - t0)) s: $(rss)"; done) &
    local sampler=$!
    wrk -t"$threads" -c"$conns" -d"$d" --latency "$@" "http://127.0.0.1:$port"
    kill "$sampler" 2>/dev/null || true
    echo "server RSS after: $(rss)"
}
run "$dur" "KYT decisions over HTTP" -s scripts/loadtest/kyt.lua
MALFORMED_EVERY=100 run "${MALFORMED_DUR:-$dur}" "KYT decisions, 1 % malformed" -s scripts/loadtest/kyt.lua
KYT_COUNTERPARTY=TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM run "${ALERTING_DUR:-$dur}" "KYT decisions, every one alerting (OFAC-listed counterparty)" -s scripts/loadtest/kyt.lua
conns=${SCREEN_CONNS:-$conns} run "${SCREEN_DUR:-$dur}" "name screening over HTTP (OFAC SDN)" -s scripts/loadtest/screen.lua
echo; echo "== server's answers by route and status"
curl -s "http://127.0.0.1:$port/metrics" | grep -E '^floodgate_(kyt_decisions_total|http_requests_total\{method="POST")' || true
kill "$pid"; wait "$pid" 2>/dev/null || true

echo; echo "== in-process, same machine, same run"
python3 - "$work/events.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for n in range(200000):
        f.write('{"id":"p-%d","time":"2025-11-02T11:%02d:00Z","customer_id":"c%d","direction":"deposit","asset":"USDT-TRC20","amount":"%d","counterparty_address":"TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"}\n' % (n, n % 60, n % 5000, 10 + n % 500))
PY
s=$(date +%s.%N)
"$bin" -q --data-dir "$work" monitor --no-state "$work/events.jsonl" >/dev/null
e=$(date +%s.%N)
python3 -c "print('KYT in-process: 200000 decisions in %.2f s = %.0f decisions/s' % ($e-$s, 200000/($e-$s)))"
python3 - "$work/names.csv" <<'PY'
import sys
names = ["Vladimir Putin", "Nguyen Van An", "Ivan Petrovich Sidorov", "Acme Trading LLC", "Ali Hassan",
         "Maria Garcia", "Kim Jong Un", "John Smith", "Tran Thi Binh", "Huione Group"]
with open(sys.argv[1], "w") as f:
    f.write("name\n")
    for n in range(20000):
        f.write("%s\n" % names[n % len(names)])
PY
s=$(date +%s.%N)
"$bin" -q --data-dir "$work" screen batch "$work/names.csv" --format json >/dev/null || true
e=$(date +%s.%N)
python3 -c "print('screening in-process: 20000 names in %.2f s = %.0f names/s' % ($e-$s, 20000/($e-$s)))"
echo "machine after: load average $(cut -d' ' -f1-3 /proc/loadavg)"
