# Sourced by the restic benchmarks after they set size_mb: the paths, the peers installed, the
# agent built, an Aura-like database of size_mb MiB and a key in BENCH_DIR, which becomes the
# working directory. Environment: BENCH_DIR (default /tmp/aura-bench), AURA_BUILD_DIR (default
# ./build).
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${AURA_BUILD_DIR:-$root/build}"
work="${BENCH_DIR:-/tmp/aura-bench}"
agent="$build/agent/aura-agent"
make_db="$build/tests/tools/aura-make-db"

"$root/scripts/install-deps" restic hyperfine time jq
[ -x "$agent" ] && [ -x "$make_db" ] || "$root/scripts/build"
mkdir -p "$work"
cd "$work"
db="aura-${size_mb}.db"
[ -f "$db" ] || "$make_db" "$db" "$size_mb" --seed 1
[ -f bench.key ] || "$agent" key generate --out bench.key >/dev/null
export RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR="$work/restic-cache"
