#!/usr/bin/env bash
# Schema migration of an Aura-like database, side by side with the manual procedure an operator
# runs today, in one invocation:
#
#   aura-agent migrate apply --db DB --dir bench/migrations --backup-to REPO --key-file K
#     (lock, pre-migration snapshot compressed + encrypted + fsynced, rehearsal on a scratch
#      copy with row counts, one transaction with foreign_key_check and quick_check/
#      integrity_check, health check)
#   vs  sqlite3 DB '.backup pre.db' && sqlite3 DB '.read m1.sql' '.read m2.sql'  (both with
#       .timeout 120000: without it the shell fails on the writer's lock, half-migrated)
#     (a plain copy, then the SQL with no checks)
#
# The migrations (bench/migrations): a column with a default and an index on the largest table
# (SceneStates), then EF Core's rebuild of that table. Prints medians (hyperfine; each run starts
# from a fresh copy of the database, warm page cache), the ratio, peak RSS, and the longest time
# a concurrent writer (one INSERT every 10 ms, busy timeout 120 s) waited for a commit during
# each. Usage:
#
#   bench/migrate.sh [SIZE_MB (default 1024)] [RUNS (default 3)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
size_mb="${1:-1024}"
runs="${2:-3}"
source "$(dirname "$0")/common.sh"
# The agent's folder: the database's first migration (already applied) and the two benchmarked.
mig="$work/bench-migrations"
rm -rf "$mig" && mkdir -p "$mig"
cp "$root/examples/migrations/20251110000000_InitialCreate.sql" "$root"/bench/migrations/*.sql "$mig/"
m1="$mig/20261201000000_AddSceneRenderState.sql"
m2="$mig/20261201000100_RebuildSceneStates.sql"
fresh="rm -rf mig-repo pre.db work.db* work.db.* .work.db.*; cp $db work.db"

echo "== $(date -u +%FT%TZ) $(nproc) cores; $db: $(du -m "$db" | cut -f1) MiB; $runs runs each"
ours="$agent migrate apply --db work.db --dir $mig --backup-to mig-repo --key-file bench.key"
manual="sqlite3 work.db '.timeout 120000' '.backup pre.db' && sqlite3 work.db '.timeout 120000' '.read $m1' '.read $m2'"
hyperfine --style basic --runs "$runs" --export-json migrate.json --prepare "$fresh" \
  -n 'aura-agent migrate apply' "$ours" -n 'sqlite3 .backup + sqlite3 .read' "$manual"

median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' migrate.json; }
a=$(median 'aura-agent migrate apply')
b=$(median 'sqlite3 .backup + sqlite3 .read')
echo
awk -v a="$a" -v b="$b" 'BEGIN {
  printf "== migration (median seconds)\n  aura-agent migrate apply %.2f s vs sqlite3 .backup + .read %.2f s: %.2fx\n", a, b, a / b }'

# The longest commit wait of a writer running alongside, for each.
writer() {
  python3 - "$1" <<'PY'
import sqlite3, sys, time, os
db = sqlite3.connect(sys.argv[1], timeout=120, isolation_level=None)
db.execute("CREATE TABLE IF NOT EXISTS BenchWrites (Id INTEGER PRIMARY KEY, At REAL)")
worst = 0.0
while not os.path.exists("writer.stop"):
    t0 = time.monotonic()
    db.execute("INSERT INTO BenchWrites (At) VALUES (?)", (time.time(),))
    worst = max(worst, time.monotonic() - t0)
    time.sleep(0.01)
n = db.execute("SELECT count(*) FROM BenchWrites").fetchone()[0]
print(f"{worst:.3f} {n}")
PY
}
with_writer() {
  eval "$fresh"
  rm -f writer.stop
  writer work.db > writer.out &
  local pid=$!
  sleep 1
  /usr/bin/time -f '%M' -o rss.out bash -c "$1" >/dev/null
  touch writer.stop
  wait "$pid"
  read -r worst n < writer.out
  printf '  %-34s peak RSS %6s KiB; writer: longest commit wait %s s, %s commits, none lost: %s\n' \
    "$2" "$(tail -1 rss.out)" "$worst" "$n" \
    "$([ "$(sqlite3 work.db 'SELECT count(*) FROM BenchWrites')" = "$n" ] && echo yes || echo NO)"
}
echo "== with a concurrent writer (one run each)"
with_writer "$ours" "aura-agent migrate apply"
with_writer "$manual" "sqlite3 .backup + sqlite3 .read"
