#!/usr/bin/env bash
# Upload of a snapshot of a SIZE_MB Aura database to a local S3-compatible server (moto_server),
# side by side in one invocation: aura-agent backup (zstd + AES-256-GCM + SHA-256, multipart),
# restic backup to the same server (restic's S3 backend), and rclone copy of the database file.
# Prints medians (hyperfine) with ratios, and peak RSS (GNU time).
#
#   bench/s3_upload.sh [SIZE_MB (default 1024)] [RUNS (default 3)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mb="${1:-1024}"
runs="${2:-3}"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}"
agent="$build/agent/aura-agent"

"$root/scripts/install-deps" restic rclone hyperfine time jq
command -v moto_server >/dev/null || { echo "moto_server is needed (pip install 'moto[server]')" >&2; exit 1; }
[ -x "$agent" ] || "$root/scripts/build"
mkdir -p "$work"
cd "$work"
db="aura-$size_mb.db"
[ -f "$db" ] || "$build/tests/tools/aura-make-db" "$db" "$size_mb" --seed 1
[ -f bench.key ] || "$agent" key generate --out bench.key >/dev/null

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
until (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
endpoint="http://127.0.0.1:$port"
curl -s -X PUT "$endpoint/bench" -H "Authorization: AWS4-HMAC-SHA256 Credential=x/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x" >/dev/null

export AWS_ENDPOINT_URL="$endpoint" AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR="$work/restic-cache"
export RCLONE_CONFIG_MOTO_TYPE=s3 RCLONE_CONFIG_MOTO_PROVIDER=Other RCLONE_CONFIG_MOTO_ENDPOINT="$endpoint" \
  RCLONE_CONFIG_MOTO_ACCESS_KEY_ID=bench RCLONE_CONFIG_MOTO_SECRET_ACCESS_KEY=bench \
  RCLONE_CONFIG_MOTO_FORCE_PATH_STYLE=true
unset AWS_CA_BUNDLE
cat "$db" >/dev/null

echo "== $(date -u +%FT%TZ) $(nproc) cores; $db: $(du -m "$db" | cut -f1) MiB to moto_server; $runs runs each"
hyperfine --style basic --runs "$runs" --export-json s3.json \
  --prepare 'rclone purge moto:bench/agent 2>/dev/null || true' -n 'aura-agent backup' \
    "$agent backup --db $db --to s3://bench/agent --key-file bench.key" \
  --prepare 'rclone purge moto:bench/restic 2>/dev/null || true; restic -q -r s3:'"$endpoint"'/bench/restic init' \
    -n 'restic backup' "restic -q -r s3:$endpoint/bench/restic backup $db" \
  --prepare 'rclone purge moto:bench/rclone 2>/dev/null || true' -n 'rclone copy' \
    "rclone copy $db moto:bench/rclone"

median() { jq -r --arg n "$2" '.results[] | select(.command == $n) | .median' "$1"; }
ours=$(median s3.json 'aura-agent backup')
for peer in 'restic backup' 'rclone copy'; do
  m=$(median s3.json "$peer")
  awk -v a="$ours" -v b="$m" -v p="$peer" 'BEGIN { printf "  aura-agent backup %.2f s vs %-14s %.2f s: %.2fx\n", a, p, b, a / b }'
done
echo "== peak RSS (GNU time, one run each)"
rss() { /usr/bin/time -f '%M' "$@" 2>&1 >/dev/null | tail -1; }
rclone purge moto:bench 2>/dev/null || true
curl -s -X PUT "$endpoint/bench" -H "Authorization: AWS4-HMAC-SHA256 Credential=x/20261124/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x" >/dev/null
printf '  aura-agent backup: %s KiB\n' "$(rss "$agent" backup --db "$db" --to s3://bench/agent2 --key-file bench.key)"
restic -q -r "s3:$endpoint/bench/restic2" init
printf '  restic backup:     %s KiB\n' "$(rss restic -q -r "s3:$endpoint/bench/restic2" backup "$db")"
printf '  rclone copy:       %s KiB\n' "$(rss rclone copy "$db" moto:bench/rclone2)"
