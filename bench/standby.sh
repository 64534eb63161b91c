#!/usr/bin/env bash
# The warm standby (aura-agent restore --follow / --promote) through a local target:
#
#   1. lag: one writer committing as fast as it can (aura-fleet-writer, ~1,000 commits/s) to a
#      64 MiB Aura database shipped by `aura-agent replicate` (default upload interval), a
#      follower polling every 250 ms; for every batch the follower applies, the lag of its
#      oldest transaction (applied time - the source's observed commit time), p50/p99/max.
#      Target: p99 < 2 s.
#   2. promotion of a SIZE_MB standby (default 1024): stop, verify every page, hand over.
#      Target: < 1 s at 1 GiB.
#
#   bench/standby.sh [SIZE_MB (default 1024)] [SECONDS (default 30)]
#
# Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default ./build).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
size_mb="${1:-1024}"
seconds="${2:-30}"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}/standby"
agent="$build/agent/aura-agent"
tools="$build/tests/tools"

"$root/scripts/install-deps" jq python3
[ -x "$agent" ] && [ -x "$tools/aura-fleet-writer" ] || "$root/scripts/build"
rm -rf "$work"
mkdir -p "$work"
cd "$work"
"$agent" key generate --out k >/dev/null

echo "== $(date -u +%FT%TZ) $(nproc) cores; standby lag, writer flat out, ${seconds} s"
"$tools/aura-make-db" lag.db 64 --seed 4 >/dev/null
"$agent" replicate --db lag.db --to repo --key-file k --name lag --status-file st.json \
  2>replicate.log &
repl=$!
until [ -s st.json ]; do sleep 0.1; done
"$agent" restore --follow --once --from repo --to standby.db --key-file k --name lag \
  --check none >/dev/null 2>follow.log
"$tools/aura-fleet-writer" --interval-ms 0 --seconds "$seconds" lag.db >/dev/null &
writer=$!
"$agent" restore --follow --json --from repo --to standby.db --key-file k --name lag \
  --poll-interval 250ms >events.jsonl 2>>follow.log &
follower=$!
wait "$writer"
want=$(jq .spooled_txid st.json)
until [ "$(jq .uploaded_txid st.json)" -ge "$want" ]; do sleep 0.2; done
until [ "$(jq .txid standby.db.aura-standby)" -ge "$want" ]; do
  sleep 0.2
done
kill -TERM "$follower"
wait "$follower" || true
kill -TERM "$repl"
wait "$repl" || true
python3 - events.jsonl "$seconds" <<'EOF'
import json, sys
text, ev, i, dec = open(sys.argv[1]).read(), [], 0, json.JSONDecoder()
while True:  # one JSON object per catch-up, pretty-printed
    i = text.find("{", i)
    if i < 0: break
    obj, i = dec.raw_decode(text, i)
    ev.append(obj)
ap = [e for e in ev if e.get("event") == "applied" and e.get("first_commit_us")]
lags = sorted((e["applied_us"] - e["first_commit_us"]) / 1e6 for e in ap)
txns = (ap[-1]["txid"] - ap[0]["from_txid"]) if ap else 0
q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))] if lags else float("nan")
print(f"applied {len(ap)} batches, {txns} transactions ({txns / float(sys.argv[2]):.0f}/s)")
print(f"lag of the oldest transaction of each batch: p50 {q(0.5):.3f} s, p99 {q(0.99):.3f} s, "
      f"max {lags[-1] if lags else float('nan'):.3f} s")
EOF
t0=$(date +%s.%N)
"$agent" restore --promote --to standby.db --json >promote-lag.json
t1=$(date +%s.%N)
echo "promotion (64 MiB): $(python3 -c "print(f'{$t1 - $t0:.3f}')") s wall, $(jq .duration_ms promote-lag.json) ms inside"

echo "== promotion of a ${size_mb} MiB standby"
"$tools/aura-make-db" big.db "$size_mb" --seed 1 >/dev/null
"$agent" replicate --db big.db --to big-repo --key-file k --name big --status-file big.json \
  --run-seconds 5 2>/dev/null
"$agent" restore --follow --once --from big-repo --to big-standby.db --key-file k --name big \
  --check none >/dev/null 2>&1
sync
t0=$(date +%s.%N)
"$agent" restore --promote --to big-standby.db --json >promote-big.json
t1=$(date +%s.%N)
echo "promotion (${size_mb} MiB, warm page cache): $(python3 -c "print(f'{$t1 - $t0:.3f}')") s wall, $(jq .duration_ms promote-big.json) ms inside"
