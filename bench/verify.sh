#!/usr/bin/env bash
# Repository verification, side by side with restic, in one invocation:
#
#   aura-agent verify of a repository holding a SIZE_MB snapshot and TXNS transactions of WAL
#   (shipped by `aura-agent replicate` while a writer commits them: half UPDATEs of random rows
#   across the database, half 200-byte INSERTs, as in bench/replication.sh)
#   vs  restic check --read-data of a restic repository holding the same data: the database file
#   as the agent's snapshot saw it, plus the real -wal file of the same TXNS transactions
#   committed to a second copy with checkpoints off (so the WAL keeps every frame).
#
# Both tools read every byte back, authenticate and checksum it. Prints medians (hyperfine, warm
# page cache), the ratio, and peak RSS (GNU time). Usage:
#
#   bench/verify.sh [SIZE_MB (default 1024)] [TXNS (default 100000)] [RUNS (default 3)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build). The
# repositories are kept (marker verify-ready-SIZE-TXNS) and reused by the next run.
set -euo pipefail
size_mb="${1:-1024}"
txns="${2:-100000}"
runs="${3:-3}"
source "$(dirname "$0")/common.sh"

# The writer's transactions, one per line (sqlite3 autocommits each statement).
writes() {
  local scenes
  scenes=$(sqlite3 "$1" 'SELECT max(rowid) FROM SceneStates')
  echo "PRAGMA synchronous=NORMAL;"
  echo "CREATE TABLE IF NOT EXISTS BenchRows(k INTEGER PRIMARY KEY, v BLOB);"
  awk -v n="$txns" -v m="$scenes" 'BEGIN { srand(7); for (i = 0; i < n; i++) {
    if (i % 2) printf "UPDATE SceneStates SET IsCompleted = 1 - IsCompleted WHERE rowid = %d;\n", 1 + int(rand() * m);
    else printf "INSERT INTO BenchRows(v) VALUES(randomblob(200));\n" } }'
}

prepare_aura() {
  rm -rf vfy.db* verify-repo vfy-status.json .vfy.db.aura-spool
  cp "$db" vfy.db
  "$agent" replicate --db vfy.db --to verify-repo --key-file bench.key \
    --status-file vfy-status.json >/dev/null &
  local pid=$! base
  until [ -s vfy-status.json ]; do sleep 0.2; done
  base=$(jq .spooled_txid vfy-status.json)
  writes vfy.db | sqlite3 vfy.db
  until [ "$(jq .uploaded_txid vfy-status.json)" -ge $((base + txns + 1)) ]; do sleep 0.5; done
  kill -TERM "$pid"; wait "$pid" || true
}

prepare_restic() {
  rm -rf restic-verify vfy-wal vfy2.db*
  mkdir vfy-wal
  cp "$db" vfy-wal/"$db"
  cp "$db" vfy2.db
  # Checkpoints off: the -wal file keeps every frame of every transaction. Copied before the
  # connection closes (closing checkpoints it into the database and deletes it).
  { echo "PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;"; writes vfy2.db
    echo ".shell cp vfy2.db-wal vfy-wal/$db-wal"; } | sqlite3 vfy2.db >/dev/null
  rm -f vfy2.db*
  restic init -q -r restic-verify && restic -q -r restic-verify backup vfy-wal
}

ready="verify-ready-$size_mb-$txns"
if [ ! -f "$ready" ]; then
  rm -f verify-ready-*
  prepare_aura
  prepare_restic
  touch "$ready"
fi
ours_json=$("$agent" verify --from verify-repo --key-file bench.key --json)
echo "== $(date -u +%FT%TZ) $(nproc) cores; $db: $(du -m "$db" | cut -f1) MiB + $txns transactions"
echo "$ours_json" | jq -r '"   aura repository: \(.snapshots) snapshot(s), \(.segments) WAL segments, \(.objects) objects, \(.bytes / 1048576 | floor) MiB decoded, ok=\(.ok)"'
echo "   aura repository on disk: $(du -sm verify-repo | cut -f1) MiB; restic repository: $(du -sm restic-verify | cut -f1) MiB"
echo "   restic holds: $db $(du -m vfy-wal/"$db" | cut -f1) MiB + $db-wal $(du -m vfy-wal/"$db-wal" | cut -f1) MiB"
cat "$db" >/dev/null; cat verify-repo/*/*/* restic-verify/data/*/* >/dev/null 2>&1 || true

hyperfine --style basic --runs "$runs" --export-json verify.json \
  -n 'aura-agent verify' "$agent verify --from verify-repo --key-file bench.key" \
  -n 'restic check --read-data' "restic -q -r restic-verify check --read-data"

median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' verify.json; }
ours=$(median 'aura-agent verify')
peer=$(median 'restic check --read-data')
echo
awk -v a="$ours" -v b="$peer" 'BEGIN {
  printf "== verify (median seconds)\n  aura-agent verify %.2f s vs restic check --read-data %.2f s: %.2fx\n", a, b, a / b }'
echo "== peak RSS (GNU time, one run each)"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
printf '  aura-agent verify:        %s KiB\n' "$(rss "$agent" verify --from verify-repo --key-file bench.key)"
printf '  restic check --read-data: %s KiB\n' "$(rss restic -q -r restic-verify check --read-data)"
