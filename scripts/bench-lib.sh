# Shared by scripts/benchmarks and scripts/sweep: a release build, a fresh database per server,
# and loadgen appending its --json runs to $RESULTS. Sourced, not run.
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/boxoffice-target}
OUT=${OUT:-docs/benchmarks}
DB=postgres://postgres@127.0.0.1:5432/boxoffice_bench
BIN=$CARGO_TARGET_DIR/release
export BOXOFFICE__DATABASE__URL=$DB BOXOFFICE__LOG__LEVEL=${BOXOFFICE__LOG__LEVEL:-warn}
mkdir -p "$OUT"
cargo build --release --bins

SERVER=
fresh_database() {
    psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS boxoffice_bench" 2>/dev/null
}
# Starts the release server on a fresh database; `env KEY=VALUE ...` style arguments become its
# environment (configuration overrides such as BOXOFFICE__BOOKING__BATCH_MAX=256).
start_server() {
    fresh_database
    env "$@" "$BIN/boxoffice" serve > "$OUT/server.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 300); do
        curl -sf http://127.0.0.1:8080/readyz > /dev/null && return
        sleep 0.1
    done
    echo "the server did not start; see $OUT/server.log" >&2
    exit 1
}
stop_server() {
    kill -TERM "$SERVER" 2> /dev/null && wait "$SERVER" || true
}
trap stop_server EXIT
loadgen() {
    echo "loadgen $*" >&2
    "$BIN/loadgen" --json "$@" --database-url "$DB" | tee -a "$RESULTS"
}
