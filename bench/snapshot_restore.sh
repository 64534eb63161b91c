#!/usr/bin/env bash
# Snapshot and restore of an Aura-like database, side by side with the peers, in one invocation:
#
#   snapshot: aura-agent backup (zstd + AES-256-GCM + SHA-256) vs sqlite3 .backup, restic backup,
#             and zstd -1 -T2 on the same file (the compression floor)
#   restore:  aura-agent restore (SHA-256 check only, + quick_check, + integrity_check)
#             vs restic restore and sqlite3 .restore
#
# Prints medians (hyperfine, warm page cache), ratios against each peer, and peak RSS
# (GNU time). Usage:
#
#   bench/snapshot_restore.sh [SIZE_MB (default 1024)] [RUNS (default 3)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
size_mb="${1:-1024}"
runs="${2:-3}"
source "$(dirname "$0")/common.sh"
cat "$db" >/dev/null  # warm page cache: every tool reads from memory

echo "== $(date -u +%FT%TZ) $(nproc) cores; $db: $(du -m "$db" | cut -f1) MiB; $runs runs each"

hyperfine --style basic --runs "$runs" --export-json snapshot.json \
  --prepare 'rm -rf aura-repo' -n 'aura-agent backup' \
    "$agent backup --db $db --to aura-repo --key-file bench.key" \
  --prepare 'rm -f plain-copy.db' -n 'sqlite3 .backup' \
    "sqlite3 $db '.backup plain-copy.db'" \
  --prepare 'rm -rf restic-repo && restic init -q -r restic-repo' -n 'restic backup' \
    "restic -q -r restic-repo backup $db" \
  --prepare 'rm -f copy.zst' -n 'zstd -1 -T2' \
    "zstd -q -1 -T2 $db -o copy.zst"

# Leave one backup of each kind in place for the restore runs.
rm -rf aura-repo restic-repo && "$agent" backup --db "$db" --to aura-repo --key-file bench.key >/dev/null
restic init -q -r restic-repo && restic -q -r restic-repo backup "$db"
sqlite3 "$db" '.backup plain-copy.db'

hyperfine --style basic --runs "$runs" --export-json restore.json \
  --prepare 'rm -f r1.db' -n 'aura-agent restore (sha256 only)' \
    "$agent restore --from aura-repo --latest --to r1.db --key-file bench.key --check none" \
  --prepare 'rm -f r2.db' -n 'aura-agent restore (quick_check)' \
    "$agent restore --from aura-repo --latest --to r2.db --key-file bench.key --check quick" \
  --prepare 'rm -f r3.db' -n 'aura-agent restore (integrity_check)' \
    "$agent restore --from aura-repo --latest --to r3.db --key-file bench.key" \
  --prepare 'rm -rf restic-out' -n 'restic restore' \
    "restic -q -r restic-repo restore latest --target restic-out" \
  --prepare 'rm -f r4.db' -n 'sqlite3 .restore' \
    "sqlite3 r4.db '.restore plain-copy.db'"

median() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo
echo "== snapshot (median seconds)"
ours=$(median snapshot.json 'aura-agent backup')
for peer in 'sqlite3 .backup' 'restic backup' 'zstd -1 -T2'; do
  m=$(median snapshot.json "$peer")
  printf '  aura-agent backup %.2f s vs %-16s %.2f s: %s\n' "$ours" "$peer" "$m" "$(ratio "$ours" "$m")"
done
echo "== restore (median seconds)"
restic_m=$(median restore.json 'restic restore')
sqlite_m=$(median restore.json 'sqlite3 .restore')
for mode in 'sha256 only' 'quick_check' 'integrity_check'; do
  m=$(median restore.json "aura-agent restore ($mode)")
  printf '  aura-agent restore (%s) %.2f s: %s of restic restore (%.2f s), %s of sqlite3 .restore (%.2f s)\n' \
    "$mode" "$m" "$(ratio "$m" "$restic_m")" "$restic_m" "$(ratio "$m" "$sqlite_m")" "$sqlite_m"
done

echo "== peak RSS (GNU time, one run each)"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
rm -rf aura-repo2
printf '  aura-agent backup:  %s KiB\n' "$(rss "$agent" backup --db "$db" --to aura-repo2 --key-file bench.key)"
rm -rf restic-repo2 && restic init -q -r restic-repo2
printf '  restic backup:      %s KiB\n' "$(rss restic -q -r restic-repo2 backup "$db")"
rm -f r5.db
printf '  aura-agent restore: %s KiB\n' "$(rss "$agent" restore --from aura-repo --latest --to r5.db --key-file bench.key --check none)"
rm -rf restic-out
printf '  restic restore:     %s KiB\n' "$(rss restic -q -r restic-repo restore latest --target restic-out)"
rm -rf aura-repo2 restic-repo2 r?.db restic-out plain-copy.db copy.zst
