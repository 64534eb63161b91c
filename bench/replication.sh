#!/usr/bin/env bash
# Continuous WAL shipping benchmarks, in one invocation:
#
#  1. replication-bench: lag p50/p99 at RATE small commits/s to a local-folder target, writer
#     commit latency and flat-out throughput with and without the agent, agent CPU when idle.
#  2. Point-in-time restore of a SIZE_MB database plus TXNS transactions (half random updates
#     across the database, half inserts), against a plain restore of the generation snapshot.
#
#   bench/replication.sh [SIZE_MB (default 1024)] [TXNS (default 100000)] [RATE (default 1000)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mb="${1:-1024}"
txns="${2:-100000}"
rate="${3:-1000}"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}"
agent="$build/agent/aura-agent"

"$root/scripts/install-deps" hyperfine jq
[ -x "$build/bench/replication-bench" ] || "$root/scripts/build"
mkdir -p "$work"
cd "$work"
[ -f bench.key ] || "$agent" key generate --out bench.key >/dev/null

echo "== $(date -u +%FT%TZ) $(nproc) cores"
echo "== 1. lag, writer impact and idle CPU (64 MiB database, $rate commits/s, 10 s)"
"$build/tests/tools/aura-make-db" lag.db 64 --seed 4 >/dev/null
"$build/bench/replication-bench" --agent "$agent" --db lag.db --work "$work/lag" --rate "$rate" \
  --seconds 10

echo "== 2. restore of a $size_mb MiB database + $txns transactions"
[ -f "aura-$size_mb.db" ] || "$build/tests/tools/aura-make-db" "aura-$size_mb.db" "$size_mb" --seed 1
rm -rf pitr.db* pitr-repo pitr-status.json .pitr.db.aura-spool
cp "aura-$size_mb.db" pitr.db
"$agent" replicate --db pitr.db --to pitr-repo --key-file bench.key --status-file pitr-status.json &
pid=$!
until [ -s pitr-status.json ]; do sleep 0.2; done
base=$(jq .spooled_txid pitr-status.json)
scenes=$(sqlite3 pitr.db 'SELECT max(rowid) FROM SceneStates')
{
  echo "PRAGMA synchronous=NORMAL;"
  echo "CREATE TABLE IF NOT EXISTS BenchRows(k INTEGER PRIMARY KEY, v BLOB);"
  awk -v n="$txns" -v m="$scenes" 'BEGIN { srand(7); for (i = 0; i < n; i++) {
    if (i % 2) printf "UPDATE SceneStates SET IsCompleted = 1 - IsCompleted WHERE rowid = %d;\n", 1 + int(rand() * m);
    else printf "INSERT INTO BenchRows(v) VALUES(randomblob(200));\n" } }'
} | sqlite3 pitr.db
want=$((base + txns + 1))
until [ "$(jq .uploaded_txid pitr-status.json)" -ge "$want" ]; do sleep 0.5; done
kill -TERM "$pid"; wait "$pid" || true
snapshot=$("$agent" list --from pitr-repo --json | jq -r '.snapshots[0].snapshot')
segments=$(find pitr-repo/pitr/wal -name '*.seg' | wc -l)
echo "   $segments WAL segments, $(du -sm pitr-repo/pitr/wal | cut -f1) MiB of segments"
hyperfine --style basic --runs 3 --export-json pitr.json \
  --prepare 'rm -f p1.db' -n 'restore snapshot only' \
    "$agent restore --from pitr-repo --snapshot $snapshot --to p1.db --key-file bench.key --check none" \
  --prepare 'rm -f p2.db' -n "restore snapshot + $txns transactions" \
    "$agent restore --from pitr-repo --latest --to p2.db --key-file bench.key --check none"
plain=$(jq -r '.results[0].median' pitr.json)
pitr=$(jq -r '.results[1].median' pitr.json)
awk -v a="$pitr" -v b="$plain" 'BEGIN { printf "   point-in-time restore %.2f s vs snapshot restore %.2f s: %.2fx\n", a, b, a / b }'
rm -f p1.db p2.db
