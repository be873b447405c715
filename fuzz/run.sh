#!/usr/bin/env bash
# Builds every fuzz target, seeds its corpus from the real test data, runs each for a fixed
# number of inputs (`FLOODGATE_FUZZ_RUNS`, default 20,000, with a fixed seed, so a run is
# repeatable) capped at SECONDS, and prints executions and coverage per target. Exits 1 on any crash (the input is
# kept in fuzz/artifacts/<target>/ and becomes a regression test in the owning crate).
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default 15 s, every target)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`). The machine's stable toolchain
# takes libFuzzer's flags with RUSTC_BOOTSTRAP=1. No sanitizer: the workspace forbids
# unsafe code, so what is hunted is panics, overflows (debug assertions on), aborts,
# runaway memory (-rss_limit_mb) and hangs (-timeout).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-15}"
shift || true
data="${FLOODGATE_TEST_DATA:-$(cd ../.. && pwd)/shared/data}"
export RUSTC_BOOTSTRAP=1

seed() { # seed TARGET FILE... : the first 16 KiB of each file
    local t="$1"; shift
    mkdir -p "corpus/$t"
    for f in "$@"; do
        [ -f "$f" ] || continue
        head -c 16384 "$f" > "corpus/$t/seed-$(basename "$f")"
    done
}
seed_cmd() { # seed_cmd TARGET NAME COMMAND... : the first 16 KiB of a command's output
    local t="$1" n="$2"; shift 2
    mkdir -p "corpus/$t"
    "$@" 2>/dev/null | head -c 16384 > "corpus/$t/seed-$n" || true
}

if [ -d "$data" ]; then
    seed bitcoin "$data"/bitcoin/raw-blocks/*.raw "$data"/bitcoin/raw-blocks/*.blk.dat \
        "$data"/bitcoin/bitcoin-etl-getblock-json/*/*
    seed ethereum "$data"/ethereum/graphsense-block-18000011/*.jsonl \
        $(find "$data"/ethereum/ethereum-etl-fixtures -name '*.json' | head -40)
    seed tron "$data"/tron/graphsense-block-50000011/*.jsonl
    seed list_ofac_csv "$data"/sanctions/ofac-sdn-csv-2021/sdn.csv
    seed list_ofac_addresses "$data"/sanctions/ofac-crypto-addresses/*.txt
    seed_cmd list_ofac_advanced sdn_advanced.xml bzcat "$data"/sanctions/ofac-sdn/sdn_advanced.xml.bz2
    seed list_un_xml "$data"/sanctions/un-consolidated/UN_consolidated.xml
    seed list_us_csl "$data"/sanctions/us-csl/*.csv
    seed list_bis_dpl "$data"/sanctions/us-bis-dpl/dpl.txt
    seed list_ftm "$data"/sanctions/opensanctions-samples/*.jsonl
    seed tagpack $(ls "$data"/attribution/graphsense-tagpacks/packs/*.yaml | head -40)
else
    echo "fuzz: no test data at $data; corpora start empty" >&2
fi
seed list_generic_csv ../crates/screen/tests/data/*.csv
seed ledger ../crates/cli/sample/ledger/*
seed monitor_input ../crates/cli/sample/ledger/*
seed rules ../crates/monitor/packs/*.toml

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none --debug-assertions

failed=0
printf '%-22s %12s %8s %8s %s\n' target executions cov ft result
for t in "${targets[@]}"; do
    log="$(mktemp)"
    if cargo fuzz run -s none --debug-assertions "$t" "corpus/$t" -- \
        -seed=1 -runs="${FLOODGATE_FUZZ_RUNS:-20000}" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH; failed=1
        tail -40 "$log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
    printf '%-22s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
    rm -f "$log"
done
exit "$failed"
