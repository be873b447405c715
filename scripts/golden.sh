#!/usr/bin/env bash
# Behaviour check across two floodgate binaries: runs the same CLI commands with each on its own
# fresh `floodgate demo --no-serve` data directory, masks what legitimately differs between runs
# (wall-clock times and durations, rates, temporary paths, the OS user, load and case times), and
# diffs the two transcripts. An empty diff means the commands print the same bytes.
#
#   scripts/golden.sh OLD_BINARY NEW_BINARY [OUT_DIR]
#
# e.g. scripts/golden.sh /work/baseline/floodgate target/release/floodgate
# Each transcript is OUT_DIR/{old,new}.txt (default: a temporary directory); the diff is printed
# and the exit status is 1 when the transcripts differ. Every command's exit code is recorded
# in the transcript, so a changed exit code shows as a difference too. No network is used; the
# inputs are the demo's own sample (written to DATA/sample/) and a few small files the script
# writes. Documented in ARCHITECTURE.md ("Cross-cutting", behaviour checks).
set -uo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,14p' "$0" >&2
    exit 2
fi
old=$(realpath "$1")
new=$(realpath "$2")
out=${3:-$(mktemp -d)}
mkdir -p "$out"

# One transcript: every command with its exit code, stdout and stderr (logs off), then masked.
transcript() {
    local bin=$1 work
    work=$(mktemp -d)
    local d="$work/data" d2="$work/data2" in="$work/in"
    mkdir -p "$in"
    export FLOODGATE_LOG=off NO_COLOR=1 USER=golden
    unset FLOODGATE_DATA FLOODGATE_CONFIG FLOODGATE_DATABASE_URL FLOODGATE_TENANT FLOODGATE_USER FLOODGATE_ROLE
    run() {
        printf '\n$ floodgate %s\n' "$*"
        "$bin" -q "$@" 2>&1
        printf '[exit %s]\n' "$?"
    }
    # Inputs: a small custom list, a batch, name pairs, a JSON Lines ledger, monitor input.
    cat >"$in/custom-list.csv" <<'EOF'
# list: golden-list
# version: 2026-01-01
id,name,aliases,type,dob,country,id_number,wallet,chain,program,source_url
g-1,Ivan Petrovich Sidorov,,person,1970-01-02,RU,,,,SDGT,
g-2,Acme Shell Trading LLC,,organization,,AE,,,,SDGT,
g-3,Nguyễn Văn Đài,,person,1969-04-06,VN,,,,TEST,
EOF
    cat >"$in/batch.csv" <<'EOF'
id,name,type,dob,country,chain,address
c-1,Ivan Petrovich Sidorov,person,1970,RU,,
c-2,No Such Person Here,,,,,
,Acme Shell Trading L.L.C.,organization,,,,
w-1,,,,,tron,TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM
EOF
    cat >"$in/pairs.csv" <<'EOF'
name1,name2,type
王岐山,Wang Qishan,person
Nguyen Van Thang,Nguyễn Văn Thành,person
ZTE Corp.,ZTE Corporation,organization
EOF
    cat >"$in/ledger.jsonl" <<'EOF'
{"id":"j-1","time":"2025-11-04T10:00:00Z","customer_id":"cust-2001","direction":"deposit","asset":"BTC","amount":"0.5","counterparty_address":"12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"}
{"id":"j-2","time":"2025-11-04T11:00:00Z","customer_id":"cust-2001","direction":"withdrawal","asset":"BTC","amount":"0.49","counterparty_address":"1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"}
EOF
    cat >"$in/monitor.jsonl" <<'EOF'
{"id":"m-1","time":"2025-11-05T08:00:00Z","customer_id":"cust-3001","direction":"deposit","asset":"USDT-TRC20","amount":"9500","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}
{"id":"m-2","time":"2025-11-05T08:05:00Z","customer_id":"cust-3001","direction":"deposit","asset":"USDT-TRC20","amount":"9600","counterparty_address":"TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM"}
{"id":"m-3","time":"2025-11-05T09:00:00Z","customer_id":"cust-3001","direction":"withdrawal","asset":"USDT-TRC20","amount":"19000","counterparty_address":"TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"}
EOF
    printf 'extends = "vn"\n\n[typology.structuring]\nmin_count = 2\n' >"$in/rules.toml"
    printf '[[rule]]\nid = "broken"\nwhen = "amount_usd >"\n' >"$in/bad-rules.toml"
    {
        run --data-dir "$d" demo --no-serve
        run --data-dir "$d" status
        run --data-dir "$d" status --format json
        run --data-dir "$d" transfers --limit 15
        run --data-dir "$d" transfers --chain tron --limit 5 --format json
        run --data-dir "$d" transfers --chain ledger --format csv
        run --data-dir "$d" transfers --address 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --format jsonl
        run --data-dir "$d" lists load "$in/custom-list.csv" --by golden --format json
        run --data-dir "$d" lists show
        run --data-dir "$d" lists show --format json
        run --data-dir "$d" lists history
        run --data-dir "$d" lists history --list golden-list --format json
        run --data-dir "$d" screen name "Ivan Petrovich Sidorov" --dob 1970-01-02
        run --data-dir "$d" screen name "Nguyen Van Dai" --format json
        run --data-dir "$d" screen name "Acme Shell Trading" --type organization --mode ofac
        run --data-dir "$d" screen name "Nobody At All"
        run --data-dir "$d" screen address tron TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM
        run --data-dir "$d" screen address ethereum 0x08723392ed15743cc38513c4925f5e6be5c17243 --format json
        run --data-dir "$d" screen batch "$in/batch.csv"
        run --data-dir "$d" screen batch "$in/batch.csv" --format json
        run --data-dir "$d" screen pairs "$in/pairs.csv"
        run --data-dir "$d" screen suppressions
        run --data-dir "$d2" ingest bitcoin "$d/sample/bitcoin/mainnet_blocks_0-438.blk.dat" --format json
        run --data-dir "$d2" ingest bitcoin "$d/sample/bitcoin/mainnet_block_227835.raw" --height 227835
        run --data-dir "$d2" ingest ethereum "$d/sample/ethereum/blocks.jsonl" "$d/sample/ethereum/transactions.jsonl" "$d/sample/ethereum/logs.jsonl" "$d/sample/ethereum/traces.jsonl"
        run --data-dir "$d2" ingest tron "$d/sample/tron/blocks.jsonl" "$d/sample/tron/transactions.jsonl" "$d/sample/tron/logs.jsonl" "$d/sample/tron/traces.jsonl"
        run --data-dir "$d2" ingest ledger "$d/sample/ledger/exchange-ledger.csv"
        run --data-dir "$d2" ingest ledger "$in/ledger.jsonl" --format json
        run --data-dir "$d2" ingest auto "$d/sample/bitcoin/mainnet_block_227836.raw"
        run --data-dir "$d2" status
        run --data-dir "$d" trace build
        run --data-dir "$d" trace exposure 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --hops 3
        run --data-dir "$d" trace exposure TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM --format json
        run --data-dir "$d" trace path 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3
        run --data-dir "$d" trace path 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3 --format json
        run --data-dir "$d" trace why 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S 1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3
        run --data-dir "$d" trace entity 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S
        run --data-dir "$d" trace tags
        run --data-dir "$d" trace tags TAYhjpL8pPs8T84FSM329nffQpc6jD8GBM --format json
        run rules default
        run rules check "$in/rules.toml"
        run rules check "$in/bad-rules.toml"
        run rules eval --seed 7
        run --data-dir "$d" monitor --from-store --format table
        run --data-dir "$d" monitor "$in/monitor.jsonl"
        run --data-dir "$d" alerts
        run --data-dir "$d" alerts --format json
        run --data-dir "$d" cases list
        run --data-dir "$d" report due
        run --data-dir "$d" audit verify
    } >"$work/raw.txt"
    # Masks: the work directory, times and durations, rates, the per-run keys and hashes of
    # files that embed a path or a time.
    sed -E \
        -e "s#$work#WORK#g" \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?/TIME/g' \
        -e 's/(TIME +)[0-9]+\.[0-9]+( )/\1SECONDS\2/g' \
        -e 's/"(created|event_time|updated|decided_at)": ?[0-9]+/"\1": T/g' \
        -e 's/"(seconds|load_seconds|elapsed_seconds|build_seconds|micros|ms|per_second|rate)": ?[0-9.e+-]+/"\1": N/g' \
        -e 's/[0-9]+(\.[0-9]+)? ?(s|ms|µs|us|MB\/s|MiB\/s|blocks\/s|rows\/s|tx\/s|transfers\/s)\b/DUR/g' \
        "$work/raw.txt"
    rm -rf "$work"
}

transcript "$old" >"$out/old.txt"
transcript "$new" >"$out/new.txt"
printf 'commands: %s; transcripts: %s/old.txt (%s lines), %s/new.txt (%s lines)\n' \
    "$(grep -c '^\$ floodgate' "$out/new.txt")" "$out" "$(wc -l <"$out/old.txt")" "$out" "$(wc -l <"$out/new.txt")"
if diff -u "$out/old.txt" "$out/new.txt"; then
    echo "golden: no difference"
else
    exit 1
fi
