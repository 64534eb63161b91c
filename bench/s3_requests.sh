#!/usr/bin/env bash
# S3 requests of continuous WAL shipping, counted by kind from moto_server's own request log
# (one werkzeug line per request on its stderr): the agent runs one database with a writer
# committing RATE times a second for SECONDS, for each upload interval (upload_interval: how long a
# commit may wait in the spool, the RPO knob), then the writer stops and the idle database is
# watched for IDLE seconds. Prints requests per kind, scaled to an hour, and the estimated
# monthly request cost on AWS S3 Standard and Cloudflare R2 (prices below, per 1,000 requests).
#
#   bench/s3_requests.sh [RATE (default 1)] [SECONDS (default 120)] [IDLE (default 60)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build),
# INTERVALS (default "1000 10000 60000", milliseconds).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
rate="${1:-1}"
seconds="${2:-120}"
idle="${3:-60}"
intervals="${INTERVALS:-1000 10000 60000}"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}/s3-requests"
agent="$build/agent/aura-agent"
writer="$build/tests/tools/aura-test-writer"
make_db="$build/tests/tools/aura-make-db"
# USD per 1,000 requests (2026 list prices): AWS S3 Standard class A (PUT, COPY, POST, LIST) and
# class B (GET, HEAD and the rest); R2 class A and B. DELETE is free on both.
aws_a=0.005 aws_b=0.0004 r2_a=0.0045 r2_b=0.00036

command -v moto_server >/dev/null || { echo "moto_server is needed (pip install 'moto[server]')" >&2; exit 1; }
[ -x "$agent" ] && [ -x "$writer" ] && [ -x "$make_db" ] || "$root/scripts/build"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
"$agent" key generate --out bench.key >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" 2> moto.log >/dev/null &
pids+=($!)
until (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
endpoint="http://127.0.0.1:$port"
curl -s -X PUT "$endpoint/bench" >/dev/null
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
unset AWS_CA_BUNDLE

# Requests in moto.log from line $1 on, by kind: LIST is a GET on the bucket with a list query.
count() {
  tail -n +"$1" moto.log | awk '
    /"(GET|PUT|POST|HEAD|DELETE) \// {
      for (i = 1; i <= NF; i++) if ($i ~ /^"(GET|PUT|POST|HEAD|DELETE)$/) { m = substr($i, 2); p = $(i + 1) }
      if (m == "GET" && (p ~ /[?&]list-type=/ || p ~ /^\/bench\/?(\?|$)/)) m = "LIST"
      if (m == "POST" && p ~ /[?&]delete/) m = "DELETE"
      n[m]++
    }
    END { printf "%d %d %d %d %d %d\n", n["PUT"], n["POST"], n["GET"], n["HEAD"], n["LIST"], n["DELETE"] }'
}

printf '== %s, %s cores: 1 database, %s commit(s)/s for %s s, then %s s idle; per hour\n' \
  "$(date -u +%FT%TZ)" "$(nproc)" "$rate" "$seconds" "$idle"
printf '%-9s %7s %6s %6s %6s %6s %7s %8s %9s %8s %8s\n' interval PUT POST GET HEAD LIST DELETE \
  total reads AWS/mo R2/mo
interval_ms=$(awk -v r="$rate" 'BEGIN { printf "%d", 1000 / r }')
for seg in $intervals; do
  dir="$work/seg$seg"
  mkdir -p "$dir"
  "$make_db" "$dir/app.db" 16 --seed 1 >/dev/null
  cat > "$dir/agent.toml" <<EOF
[agent]
state_dir = "$dir/state"
status_socket = "$dir/agent.sock"
log_file = "$dir/agent.log"
upload_interval = "${seg}ms"
[keys]
key_file = "$work/bench.key"
[[target]]
name = "s3"
url = "s3://bench/seg$seg"
endpoint = "$endpoint"
path_style = true
[[database]]
name = "app"
path = "$dir/app.db"
targets = ["s3"]
continuous = true
EOF
  "$agent" run --config "$dir/agent.toml" 2> "$dir/agent.stderr" &
  apid=$!
  pids+=("$apid")
  sleep 10  # start-up (LIST, the generation's first snapshot) is not steady state
  "$writer" --db "$dir/app.db" --seed 1 --forever --interval-ms "$interval_ms" >/dev/null 2>&1 &
  wpid=$!
  pids+=("$wpid")
  sleep 5
  from=$(($(wc -l < moto.log) + 1))
  sleep "$seconds"
  read -r put post get head list del <<<"$(count "$from")"
  kill "$wpid"; wait "$wpid" 2>/dev/null || true
  sleep 5
  idle_from=$(($(wc -l < moto.log) + 1))
  sleep "$idle"
  read -r ip ipo ig ih il id <<<"$(count "$idle_from")"
  kill "$apid"; wait "$apid" 2>/dev/null || true
  awk -v s="$seconds" -v seg="$seg" -v put="$put" -v post="$post" -v get="$get" -v head="$head" \
    -v list="$list" -v del="$del" -v aa="$aws_a" -v ab="$aws_b" -v ra="$r2_a" -v rb="$r2_b" '
    BEGIN {
      k = 3600 / s; a = (put + post + list) * k; b = (get + head) * k
      printf "%-9s %7d %6d %6d %6d %6d %7d %8d %9d %8.2f %8.2f\n", seg / 1000 " s", put * k,
        post * k, get * k, head * k, list * k, del * k, (put + post + get + head + list + del) * k,
        (get + head + list) * k, (a * aa + b * ab) * 730 / 1000, (a * ra + b * rb) * 730 / 1000
    }'
  printf '  idle %s s: %d requests (PUT %d, POST %d, GET %d, HEAD %d, LIST %d, DELETE %d)\n' \
    "$idle" $((ip + ipo + ig + ih + il + id)) "$ip" "$ipo" "$ig" "$ih" "$il" "$id"
done
echo "(targets, issue 13: at 1 commit/s and a 1 s interval <= 4,000 requests/hour in all and"
echo " GET + HEAD + LIST <= 60/hour; an idle database makes no requests)"
