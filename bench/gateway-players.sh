#!/usr/bin/env bash
# Players walking real GPX tracks (docs/performance.md, "## Gateway"): the
# latency from each move to its result, through gateway, Kafka, engine and
# back, with N players over H hunts made from the waypoints of the Višnjan
# walk (so the walkers discover beacons and leaderboards are broadcast).
#
#   bench/gateway-players.sh                 N=1000 H=10 SPEED=10 MOVES=60
#   TRACKS=../shared/data N=2000 bench/gateway-players.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
H=${H:-10}
SPEED=${SPEED:-10}
MOVES=${MOVES:-60}
TRACKS=${TRACKS:-../shared/data}
BIN=${BIN:-bin/veltrix}
DATA=$(mktemp -d)
go build -o "$BIN" ./cmd/veltrix
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$DATA"
}
trap cleanup EXIT
mkdir -p "$DATA/hunts" "$DATA/tracks"
hunts=()
for i in $(seq 1 "$H"); do
	"$BIN" hunt import --gpx "$TRACKS/walk_visnjan_with_waypoints.gpx" --id "visnjan$i" --out "$DATA/hunts/visnjan$i.yaml" >/dev/null
	hunts+=("visnjan$i")
done
# The walkers walk the Višnjan track (the one the waypoints were marked on).
cp "$TRACKS/walk_visnjan_with_waypoints.gpx" "$DATA/tracks/"
"$BIN" run --set data_dir="$DATA/run" --set games.treasurehunt.hunts="$DATA/hunts" \
	--set gateway.listen=127.0.0.1:18090 --set admin.listen=127.0.0.1:19190 \
	--set gateway.max_conns_per_ip=-1 --set gateway.handshake_rate=-1 --set log_level=warn >"$DATA/run.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do curl -sf http://127.0.0.1:19190/readyz >/dev/null 2>&1 && break; sleep 0.2; done
"$BIN" bench players --url ws://127.0.0.1:18090/ws --n "$N" --tracks "$DATA/tracks" \
	--hunt "$(IFS=,; echo "${hunts[*]}")" --speed "$SPEED" --moves "$MOVES" --ramp 10s
