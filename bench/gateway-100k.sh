#!/usr/bin/env bash
# 100,000 players on one machine: six `veltrix gateway` processes, one
# `veltrix engine`, a local Apache Kafka (scripts/kafka.sh, on its own ports
# and state dir), and six `veltrix bench conns` processes of 16,667 players
# each (a process may open at most 20,000 files here). Every player follows
# the harbour hunt; the sixth load process then has a player discover a
# beacon ROUNDS times, and every load process reports when each of its
# players got each leaderboard. Finally gateway 1 is stopped with SIGTERM
# while its players are connected: the drain time is printed.
#
#   bench/gateway-100k.sh          (about 5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
GATEWAYS=6
PER=${PER:-16667}
ROUNDS=${ROUNDS:-3}
HOLD=${HOLD:-240s}
BIN=${BIN:-bin/veltrix}
OUT=${OUT:-$(mktemp -d)}
export KAFKA_PORT=${KAFKA_PORT:-19092} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-19093}
export KAFKA_DIR=${KAFKA_DIR:-$OUT/kafka}
go build -o "$BIN" ./cmd/veltrix
scripts/kafka.sh up
BROKER=127.0.0.1:$KAFKA_PORT

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	scripts/kafka.sh down || true
}
trap cleanup EXIT
wait_ready() { for _ in $(seq 1 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "not ready: $1" >&2; return 1; }

"$BIN" engine --config configs/kafka.yaml --set broker.brokers="$BROKER" --set data_dir="$OUT/engine" \
	--set admin.listen=127.0.0.1:19100 --set log_level=warn >"$OUT/engine.log" 2>&1 &
pids+=($!)
wait_ready http://127.0.0.1:19100/readyz
gw_pids=()
for i in $(seq 1 $GATEWAYS); do
	"$BIN" gateway --config configs/kafka.yaml --set broker.brokers="$BROKER" --set data_dir="$OUT/gw$i" \
		--set gateway.client_id=gw$i --set gateway.listen=127.0.0.1:1808$i --set admin.listen=127.0.0.1:1910$i \
		--set gateway.max_conns_per_ip=-1 --set gateway.handshake_rate=-1 --set log_level=warn >"$OUT/gw$i.log" 2>&1 &
	pids+=($!)
	gw_pids+=($!)
done
for i in $(seq 1 $GATEWAYS); do wait_ready http://127.0.0.1:1910$i/readyz; done

load=()
for i in $(seq 1 $((GATEWAYS - 1))); do
	"$BIN" bench conns --url ws://127.0.0.1:1808$i/ws --n "$PER" --admin 127.0.0.1:1910$i --settle 20s \
		--hunt harbour --hold "$HOLD" --prefix g$i >"$OUT/load$i.out" 2>"$OUT/load$i.err" &
	pids+=($!)
	load+=($!)
done
until [ "$(grep -l "goroutines per" "$OUT"/load*.out 2>/dev/null | wc -l)" -ge $((GATEWAYS - 1)) ]; do sleep 2; done
"$BIN" bench conns --url ws://127.0.0.1:1808$GATEWAYS/ws --n "$PER" --admin 127.0.0.1:1910$GATEWAYS --settle 20s \
	--hunt harbour --fanout "$ROUNDS" --hold "$HOLD" --prefix g$GATEWAYS >"$OUT/load$GATEWAYS.out" 2>"$OUT/load$GATEWAYS.err" &
pids+=($!)
load+=($!)
until grep -q "fan-out: until" "$OUT/load$GATEWAYS.out" 2>/dev/null; do sleep 2; done

echo "== players connected, per gateway"
for i in $(seq 1 $GATEWAYS); do
	printf "gateway %d: " "$i"
	curl -s http://127.0.0.1:1910$i/metrics | awk '/^veltrix_gateway_connections /{c=$2} /^process_resident_memory_bytes /{r=$2} END{printf "%d players, RSS %.1f MB\n", c, r/1048576}'
done
echo "== drain: SIGTERM to gateway 1 with its players connected"
start=$(date +%s.%N)
kill -TERM "${gw_pids[0]}"
wait "${gw_pids[0]}" || true
echo "gateway 1 exited after $(echo "$(date +%s.%N) - $start" | bc) s"

for p in "${load[@]}"; do kill -INT "$p" 2>/dev/null || true; done
wait "${load[@]}" 2>/dev/null || true
for i in $(seq 1 $GATEWAYS); do echo "== load process $i (gateway $i)"; cat "$OUT/load$i.out"; done
echo "== every broadcast, over the $GATEWAYS load processes (players that got it; the last one's delay)"
awk '/^  [0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]+ / { split($2, g, "/"); got[$1] += g[1]; n[$1] += g[2];
	for (i = 3; i <= NF; i++) if ($i == "last") { v = $(i+1) + 0; if (v > last[$1]) last[$1] = v } }
	END { for (t in got) printf "  %s  %d/%d players, the last after %.0f ms\n", t, got[t], n[t], last[t] }' \
	"$OUT"/load*.out | sort
echo "outputs in $OUT"
