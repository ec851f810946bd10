#!/usr/bin/env bash
# Gateway figures at 19,000 players on one gateway (docs/performance.md,
# "## Gateway"): RSS and Go heap per idle connection, handshakes/s, and the
# fan-out of one event to every player.
#
#   bench/gateway-19k.sh            N=19000 by default; N=5000 bench/gateway-19k.sh for a quick run
#
# Starts `veltrix run` (engine + embedded broker on a fixed port), one
# `veltrix gateway` process with an admin port (the one measured), then
# `veltrix bench conns` (its own process: each process may open at most
# 20,000 files here). Everything stops at the end. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-19000}
ROUNDS=${ROUNDS:-5}
BIN=${BIN:-bin/veltrix}
BROKER_PORT=${BROKER_PORT:-39092}
GW_PORT=${GW_PORT:-18081}
ADMIN_PORT=${ADMIN_PORT:-19101}
DATA=$(mktemp -d)
go build -o "$BIN" ./cmd/veltrix

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT

wait_ready() { # URL
	for _ in $(seq 1 300); do
		curl -sf "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	echo "not ready: $1" >&2
	return 1
}

"$BIN" run --set data_dir="$DATA/run" --set broker.port="$BROKER_PORT" \
	--set gateway.listen=127.0.0.1:0 --set admin.listen=127.0.0.1:0 --set log_level=warn >"$DATA/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do grep -q "press Ctrl-C" "$DATA/run.log" && break; sleep 0.2; done

"$BIN" gateway --config configs/kafka.yaml --set broker.brokers=127.0.0.1:"$BROKER_PORT" --set data_dir="$DATA/gw" \
	--set gateway.listen=127.0.0.1:"$GW_PORT" --set admin.listen=127.0.0.1:"$ADMIN_PORT" \
	--set gateway.max_conns_per_ip=-1 --set gateway.handshake_rate=-1 --set log_level=warn >"$DATA/gw.log" 2>&1 &
pids+=($!)
wait_ready "http://127.0.0.1:$ADMIN_PORT/readyz"

"$BIN" bench conns --url ws://127.0.0.1:"$GW_PORT"/ws --n "$N" --admin 127.0.0.1:"$ADMIN_PORT" \
	--settle 15s --hunt harbour --fanout "$ROUNDS"
