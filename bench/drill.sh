#!/usr/bin/env bash
# Restore drill of an Aura-like database from a local-folder repository, side by side with the
# manual drill an operator runs today, in one invocation:
#
#   aura-agent drill --from REPO --key-file K   (restore to a scratch copy, SHA-256 verified,
#                                                fsynced, integrity_check, foreign_key_check)
#   vs  restic restore latest && sqlite3 RESTORED.db 'PRAGMA integrity_check'   (one command)
#
# Prints medians (hyperfine, warm page cache), the ratio, and peak RSS (GNU time). Usage:
#
#   bench/drill.sh [SIZE_MB (default 1024)] [RUNS (default 3)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build). The
# drill's scratch copy goes to TMPDIR (default /tmp), on the same disk as BENCH_DIR here.
set -euo pipefail
size_mb="${1:-1024}"
runs="${2:-3}"
source "$(dirname "$0")/common.sh"

# One backup of the same file in each repository.
rm -rf drill-repo restic-drill drill-out
"$agent" backup --db "$db" --to drill-repo --key-file bench.key >/dev/null
restic init -q -r restic-drill && restic -q -r restic-drill backup "$db"
cat "$db" >/dev/null  # warm page cache

echo "== $(date -u +%FT%TZ) $(nproc) cores; $db: $(du -m "$db" | cut -f1) MiB; $runs runs each"
manual="restic -q -r restic-drill restore latest --target drill-out && \
test \"\$(sqlite3 drill-out/$db 'PRAGMA integrity_check')\" = ok"
hyperfine --style basic --runs "$runs" --export-json drill.json \
  -n 'aura-agent drill' "$agent drill --from drill-repo --key-file bench.key" \
  -n 'aura-agent drill --no-verify' "$agent drill --from drill-repo --key-file bench.key --no-verify" \
  --prepare 'rm -rf drill-out' -n 'restic restore + integrity_check' "$manual"

median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' drill.json; }
ours=$(median 'aura-agent drill')
restore_only=$(median 'aura-agent drill --no-verify')
peer=$(median 'restic restore + integrity_check')
echo
awk -v a="$ours" -v n="$restore_only" -v b="$peer" 'BEGIN {
  printf "== drill (median seconds)\n  aura-agent drill %.2f s vs restic restore + integrity_check %.2f s: %.2fx\n",
    a, b, a / b
  printf "  aura-agent drill --no-verify %.2f s: %.2fx\n", n, n / b }'

echo "== peak RSS (GNU time, one run each)"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
printf '  aura-agent drill:        %s KiB\n' "$(rss "$agent" drill --from drill-repo --key-file bench.key)"
rm -rf drill-out
printf '  restic restore:          %s KiB\n' "$(rss restic -q -r restic-drill restore latest --target drill-out)"
printf '  sqlite3 integrity_check: %s KiB\n' "$(rss sqlite3 "drill-out/$db" 'PRAGMA integrity_check')"
rm -rf drill-out
