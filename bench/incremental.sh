#!/usr/bin/env bash
# Incremental snapshots side by side with restic, in one invocation: a database of SIZE_MB (default
# 1 GiB) gets a full backup from each tool, then about 0.44% of its pages change (scattered
# single-row updates), then each tool backs it up again. Measured:
#
#   - time of the second backup: `aura-agent backup --policy hourly` (incremental on the chain,
#     encrypted) vs `restic backup` (deduplicating content-defined chunks, encrypted);
#   - bytes each adds to its repository;
#   - restore of that newest backup (aura: full + increment, checked by database checksums;
#     restic: restore latest).
#
# Every timed run starts from the same state: the chain state and repositories are reset to just
# after the full backup. Usage:
#
#   bench/incremental.sh [SIZE_MB (default 1024)] [RUNS (default 5)] [ROWS_CHANGED (default 1150)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mb="${1:-1024}"
runs="${2:-5}"
rows="${3:-1150}"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}/incremental"
agent="$build/agent/aura-agent"
make_db="$build/tests/tools/aura-make-db"

"$root/scripts/install-deps" restic hyperfine time jq sqlite3
[ -x "$agent" ] && [ -x "$make_db" ] || "$root/scripts/build"
rm -rf "$work" && mkdir -p "$work"
cd "$work"
export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR="$work/restic-cache"

"$make_db" inc.db "$size_mb" --seed 1 >/dev/null
sqlite3 inc.db 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null  # restic reads the file alone
"$agent" key generate --out bench.key >/dev/null
cat > agent.toml <<TOML
[agent]
state_dir = "$work/state"
[keys]
key_file = "$work/bench.key"
[[target]]
name = "local"
url = "$work/aura-repo"
[[database]]
name = "inc"
path = "$work/inc.db"
targets = ["local"]
hourly = { keep = 1000, full_every = 1000 }
TOML

# The full backups, then a copy of each tool's state right after them.
"$agent" backup --config agent.toml --policy hourly --json > full.json
restic init -q -r restic-repo && restic -q -r restic-repo backup inc.db
cp -a state state.base && cp -a aura-repo aura-repo.base && cp -a restic-repo restic-repo.base
base_aura=$(du -sb aura-repo | cut -f1)
base_restic=$(du -sb restic-repo | cut -f1)

# Scattered changes: flip a flag on random rows (same record size, so each touches one page).
sqlite3 inc.db "UPDATE SceneStates SET IsCompleted = 1 - IsCompleted WHERE rowid IN
  (SELECT rowid FROM SceneStates ORDER BY random() LIMIT $rows); PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cat inc.db >/dev/null  # warm page cache

reset_aura='rm -rf state aura-repo && cp -a state.base state && cp -a aura-repo.base aura-repo'
reset_restic='rm -rf restic-repo && cp -a restic-repo.base restic-repo'
echo "== $(date -u +%FT%TZ) $(nproc) cores; inc.db $(du -m inc.db | cut -f1) MiB; $runs runs each"
hyperfine --style basic --runs "$runs" --export-json incremental.json \
  --prepare "$reset_aura" -n 'aura-agent backup --policy hourly (incremental)' \
    "$agent backup --config agent.toml --policy hourly" \
  --prepare "$reset_restic" -n 'restic backup (second)' \
    "restic -q -r restic-repo backup inc.db"

# One more of each, measured for size and kept for the restores.
eval "$reset_aura"
"$agent" backup --config agent.toml --policy hourly --json > inc.json
eval "$reset_restic"
restic -r restic-repo backup --json inc.db | tail -1 > restic-inc.json
pages=$(jq '.snapshots[0].pages_changed' inc.json)
total=$(jq '.snapshots[0].size / 4096' inc.json)
inc_id=$(jq -r '.snapshots[0].snapshot' inc.json)
aura_added=$(( $(du -sb aura-repo | cut -f1) - base_aura ))
restic_added=$(( $(du -sb restic-repo | cut -f1) - base_restic ))

hyperfine --style basic --runs "$runs" --export-json inc-restore.json \
  --prepare 'rm -f r.db' -n 'aura-agent restore (full + increment, quick_check)' \
    "$agent restore --config agent.toml --snapshot $inc_id --to r.db --check quick" \
  --prepare 'rm -rf restic-out' -n 'restic restore' \
    "restic -q -r restic-repo restore latest --target restic-out"
rm -f r.db && "$agent" restore --config agent.toml --snapshot "$inc_id" --to r.db --check none >/dev/null
cmp r.db inc.db && echo "restored chain is byte-identical to the source"

median() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median' "$1"; }
ours=$(median incremental.json 'aura-agent backup --policy hourly (incremental)')
theirs=$(median incremental.json 'restic backup (second)')
r_ours=$(median inc-restore.json 'aura-agent restore (full + increment, quick_check)')
r_theirs=$(median inc-restore.json 'restic restore')
echo
echo "== pages changed: $pages of $total ($(awk -v a="$pages" -v b="$total" 'BEGIN { printf "%.2f%%", 100 * a / b }'))"
printf '== second backup (median): aura-agent %.3f s, restic %.3f s: %.2fx\n' "$ours" "$theirs" \
  "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { print a / b }')"
printf '== added to the repository: aura-agent %.1f MB, restic %.1f MB (restic data_added %.1f MB)\n' \
  "$(awk -v a="$aura_added" 'BEGIN { print a / 1e6 }')" "$(awk -v a="$restic_added" 'BEGIN { print a / 1e6 }')" \
  "$(jq '.data_added / 1e6' restic-inc.json)"
printf '== restore of the newest backup (median): aura-agent %.3f s, restic %.3f s: %.2fx\n' \
  "$r_ours" "$r_theirs" "$(awk -v a="$r_ours" -v b="$r_theirs" 'BEGIN { print a / b }')"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
eval "$reset_aura"
printf '== peak RSS of the incremental backup: aura-agent %s KiB, ' "$(rss "$agent" backup --config agent.toml --policy hourly)"
eval "$reset_restic"
printf 'restic %s KiB\n' "$(rss restic -q -r restic-repo backup inc.db)"
