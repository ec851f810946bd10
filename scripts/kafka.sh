#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, broker+controller in one JVM) on
# loopback, for development and CI.
#
#   scripts/kafka.sh up        fetch jars if needed, format once, start, wait until it answers
#   scripts/kafka.sh down      stop it (SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT s)
#   scripts/kafka.sh status    print running/stopped; exit 0 if running, 1 if not
#   scripts/kafka.sh logs [-f] last lines of the broker log (-f: follow)
#   scripts/kafka.sh restart   down + up (same data)
#   scripts/kafka.sh fetch     only download the jars into the cache
#   scripts/kafka.sh bootstrap print the bootstrap address (host:port)
#   scripts/kafka.sh topics ARGS...       org.apache.kafka.tools.TopicCommand --bootstrap-server <addr> ARGS
#   scripts/kafka.sh tool CLASS ARGS...   run any Kafka CLI class with the cached classpath
#   scripts/kafka.sh reset     down, then delete the broker state (data, logs, cluster id)
#
# Jars come from Maven Central via scripts/kafka/pom.xml and are cached in
# ${VELTRIX_CACHE:-$HOME/.cache/veltrix}/kafka-<version>/; broker state lives in
# ${KAFKA_DIR:-<repo>/.kafka}. `down` then `up` restarts on the same data (the
# log dir is formatted only once; the cluster id is kept in $KAFKA_DIR/cluster.id).
#
# Environment:
#   KAFKA_VERSION          Kafka version from Maven Central (default 4.4.0; 4.x)
#   KAFKA_PORT             PLAINTEXT client port on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller port on 127.0.0.1 (default 9093)
#   KAFKA_DIR              broker state dir (default <repo>/.kafka)
#   VELTRIX_CACHE          cache root for the jars (default $HOME/.cache/veltrix)
#   KAFKA_HEAP_OPTS        broker heap (default "-Xms256m -Xmx512m")
#   KAFKA_JVM_OPTS         extra JVM options for the broker
#   KAFKA_EXTRA_CONFIG     extra server.properties lines (newline separated), appended last
#   KAFKA_START_TIMEOUT    seconds `up` waits for the broker to answer (default 90)
#   KAFKA_STOP_TIMEOUT     seconds `down` waits after SIGTERM before SIGKILL (default 30)
#   KAFKA_LOG_LINES        lines printed by `logs` (default 100)
#   JAVA_HOME              Java 17+ to use (default: `java` on PATH)
#   MVN                    Maven command (default mvn)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
SUPPORT_DIR="${SCRIPT_DIR}/kafka"

KAFKA_VERSION="${KAFKA_VERSION:-4.4.0}"
KAFKA_HOST="127.0.0.1"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_DIR="${KAFKA_DIR:-${REPO_ROOT}/.kafka}"
VELTRIX_CACHE="${VELTRIX_CACHE:-${HOME}/.cache/veltrix}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_EXTRA_CONFIG="${KAFKA_EXTRA_CONFIG:-}"
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
MVN="${MVN:-mvn}"

LIB_DIR="${VELTRIX_CACHE}/kafka-${KAFKA_VERSION}"
DATA_DIR="${KAFKA_DIR}/data"
LOG_DIR="${KAFKA_DIR}/logs"
PID_FILE="${KAFKA_DIR}/kafka.pid"
PROPS_FILE="${KAFKA_DIR}/server.properties"
CLUSTER_ID_FILE="${KAFKA_DIR}/cluster.id"
OUT_FILE="${LOG_DIR}/kafka.out"
SERVER_LOG="${LOG_DIR}/server.log"
LOCK_FILE="${KAFKA_DIR}/.lock"

log() { printf 'kafka.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo pipefail$/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}" >&2
}

# ---------------------------------------------------------------- prerequisites

JAVA_BIN=""
find_java() {
  [[ -n "${JAVA_BIN}" ]] && return 0
  if [[ -n "${JAVA_HOME:-}" && -x "${JAVA_HOME}/bin/java" ]]; then
    JAVA_BIN="${JAVA_HOME}/bin/java"
  elif command -v java >/dev/null 2>&1; then
    JAVA_BIN="$(command -v java)"
  else
    die "java not found (Kafka ${KAFKA_VERSION} needs Java 17+; set JAVA_HOME)"
  fi
  local spec
  spec="$("${JAVA_BIN}" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = //p' | head -n 1)"
  spec="${spec#1.}"
  if [[ ! "${spec}" =~ ^[0-9]+$ ]] || ((spec < 17)); then
    die "${JAVA_BIN} is Java '${spec:-?}'; the Kafka ${KAFKA_VERSION} broker needs Java 17+ (set JAVA_HOME)"
  fi
}

check_port_vars() {
  local p
  for p in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
    if [[ ! "${p}" =~ ^[1-9][0-9]{0,4}$ ]] || ((p > 65535)); then
      die "bad port '${p}'"
    fi
  done
  [[ "${KAFKA_PORT}" != "${KAFKA_CONTROLLER_PORT}" ]] ||
    die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both ${KAFKA_PORT})"
}

# Locks: fd 8 serialises up/down/reset on $KAFKA_DIR, fd 9 the jar download
# into the shared cache. Both are closed for the broker JVM (see cmd_up), or
# it would hold them for its whole life. No-ops without flock.
lock_state_dir() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 8>"${LOCK_FILE}"
  flock -w $((KAFKA_START_TIMEOUT + KAFKA_STOP_TIMEOUT + 900)) 8 ||
    die "timed out waiting for ${LOCK_FILE} (another kafka.sh up/down running?)"
}
lock_cache() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"${VELTRIX_CACHE}/.kafka-${KAFKA_VERSION}.lock"
  flock -w 900 9 || die "timed out waiting for the jar cache lock in ${VELTRIX_CACHE}"
}
unlock_cache() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>&-
}

pom_hash() {
  { sha256sum "${SUPPORT_DIR}/pom.xml" | cut -d' ' -f1; printf '%s\n' "${KAFKA_VERSION}"; } |
    sha256sum | cut -d' ' -f1
}

# ------------------------------------------------------------------- jar cache

jars_ready() {
  [[ -f "${LIB_DIR}/.complete" && "$(cat "${LIB_DIR}/.complete")" == "$(pom_hash)" ]]
}

fetch_jars() {
  jars_ready && return 0
  mkdir -p "${VELTRIX_CACHE}"
  lock_cache
  if jars_ready; then # someone else fetched while we waited
    unlock_cache
    return 0
  fi
  command -v "${MVN}" >/dev/null 2>&1 || die "maven ('${MVN}') not found; it is needed once to fetch the Kafka jars"
  local tmp="${LIB_DIR}.tmp.$$" start=${SECONDS}
  rm -rf "${tmp}"
  mkdir -p "${tmp}"
  log "fetching Kafka ${KAFKA_VERSION} jars from Maven Central into ${LIB_DIR} ..."
  if ! "${MVN}" -B -q -f "${SUPPORT_DIR}/pom.xml" \
    -Dkafka.version="${KAFKA_VERSION}" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="${tmp}" >"${tmp}.mvn.log" 2>&1; then
    tail -n 40 "${tmp}.mvn.log" >&2 || true
    rm -rf "${tmp}" "${tmp}.mvn.log"
    die "maven could not fetch org.apache.kafka:kafka_2.13:${KAFKA_VERSION} and its dependencies"
  fi
  rm -f "${tmp}.mvn.log"
  [[ -f "${tmp}/kafka_2.13-${KAFKA_VERSION}.jar" ]] || { rm -rf "${tmp}"; die "kafka_2.13-${KAFKA_VERSION}.jar missing after fetch"; }
  pom_hash >"${tmp}/.complete"
  rm -rf "${LIB_DIR}"
  mv "${tmp}" "${LIB_DIR}"
  unlock_cache
  log "fetched $(find "${LIB_DIR}" -maxdepth 1 -name '*.jar' | wc -l) jars ($(du -sh "${LIB_DIR}" | cut -f1)) in $((SECONDS - start))s"
}

# Run a Kafka JVM class on the cached classpath with quiet (stderr, WARN) logging.
run_tool() {
  find_java
  "${JAVA_BIN}" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="${SUPPORT_DIR}/tools-log4j2.xml" \
    -cp "${LIB_DIR}/*" "$@"
}

# ------------------------------------------------------------ process tracking

# Prints the pid of the broker this script started for $KAFKA_DIR, if it is alive.
our_pid() {
  [[ -f "${PID_FILE}" ]] || return 1
  local pid cmd
  pid="$(tr -dc '0-9' <"${PID_FILE}")"
  [[ -n "${pid}" ]] || return 1
  kill -0 "${pid}" 2>/dev/null || return 1
  # Guard against pid reuse: it must be our kafka.Kafka with our server.properties.
  cmd="$(tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null || true)"
  [[ "${cmd}" == *"kafka.Kafka ${PROPS_FILE}"* ]] || return 1
  printf '%s\n' "${pid}"
}

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# The client port the running broker was started with (from its server.properties).
running_port() {
  sed -n 's|^listeners=PLAINTEXT://[^:]*:\([0-9]*\),.*|\1|p' "${PROPS_FILE}" 2>/dev/null | head -n 1
}

describe_port_owner() { # port
  if command -v ss >/dev/null 2>&1; then
    ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/  /' >&2 || true
  fi
}

# A real request: list topics through the Admin client (metadata request).
broker_answers() { # port
  run_tool_with_timeout 25 org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "${KAFKA_HOST}:$1" --list >/dev/null 2>&1
}

run_tool_with_timeout() { # seconds class args...
  local secs="$1"
  shift
  find_java
  timeout --kill-after=5 "${secs}" "${JAVA_BIN}" -Xmx256m -XX:TieredStopAtLevel=1 \
    -Dlog4j2.configurationFile="${SUPPORT_DIR}/tools-log4j2.xml" \
    -cp "${LIB_DIR}/*" "$@"
}

# -------------------------------------------------------------------- config

write_server_properties() {
  cat >"${PROPS_FILE}.tmp" <<EOF
# Generated by scripts/kafka.sh on every start; edits are overwritten.
# Use KAFKA_EXTRA_CONFIG to add or override settings.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT},CONTROLLER://${KAFKA_HOST}:${KAFKA_CONTROLLER_PORT}
advertised.listeners=PLAINTEXT://${KAFKA_HOST}:${KAFKA_PORT}
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${DATA_DIR}

num.partitions=1
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Small footprint for a 2-core dev/CI machine.
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=60000
delete.topic.enable=true
EOF
  if [[ -n "${KAFKA_EXTRA_CONFIG}" ]]; then
    printf '\n# KAFKA_EXTRA_CONFIG\n%s\n' "${KAFKA_EXTRA_CONFIG}" >>"${PROPS_FILE}.tmp"
  fi
  mv "${PROPS_FILE}.tmp" "${PROPS_FILE}"
}

format_once() {
  if [[ -f "${DATA_DIR}/meta.properties" ]]; then
    return 0
  fi
  if [[ ! -s "${CLUSTER_ID_FILE}" ]]; then
    run_tool kafka.tools.StorageTool random-uuid | tr -d '[:space:]' >"${CLUSTER_ID_FILE}.tmp"
    [[ -s "${CLUSTER_ID_FILE}.tmp" ]] || die "could not generate a cluster id"
    mv "${CLUSTER_ID_FILE}.tmp" "${CLUSTER_ID_FILE}"
  fi
  local cid
  cid="$(cat "${CLUSTER_ID_FILE}")"
  log "formatting ${DATA_DIR} (cluster id ${cid})"
  mkdir -p "${DATA_DIR}"
  run_tool kafka.tools.StorageTool format -t "${cid}" -c "${PROPS_FILE}" --ignore-formatted >"${LOG_DIR}/format.log" 2>&1 || {
    cat "${LOG_DIR}/format.log" >&2
    die "kafka-storage format failed"
  }
}

# ------------------------------------------------------------------- commands

print_log_tail() {
  local f
  for f in "${OUT_FILE}" "${SERVER_LOG}"; do
    if [[ -s "${f}" ]]; then
      log "--- last lines of ${f} ---"
      tail -n 40 "${f}" >&2
    fi
  done
}

# server.log is appended to across restarts: only look at what this run wrote.
LOG_START_OFFSET=0
started_logged() {
  local size
  size="$(stat -c %s "${SERVER_LOG}" 2>/dev/null || echo 0)"
  if ((size < LOG_START_OFFSET)); then LOG_START_OFFSET=0; fi # rolled over
  # Not grep -q: it would exit at the first match, tail would die of SIGPIPE
  # and, under pipefail, a large log would never count as started.
  tail -c "+$((LOG_START_OFFSET + 1))" "${SERVER_LOG}" 2>/dev/null | grep 'Kafka Server started' >/dev/null
}

# Wait until pid $1 serves port $2: port open, "Kafka Server started" logged,
# and a metadata request succeeds.
wait_ready() { # pid port
  local pid="$1" port="$2" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      print_log_tail
      die "the Kafka broker (pid ${pid}) exited during startup; see ${LOG_DIR}"
    fi
    if port_open "${KAFKA_HOST}" "${port}" && started_logged; then
      break
    fi
    if ((SECONDS >= deadline)); then
      print_log_tail
      die "the Kafka broker (pid ${pid}) did not start listening on ${KAFKA_HOST}:${port} within ${KAFKA_START_TIMEOUT}s (still running; stop it with: $0 down)"
    fi
    sleep 0.5
  done
  until broker_answers "${port}"; do
    if ! kill -0 "${pid}" 2>/dev/null; then
      print_log_tail
      die "the Kafka broker (pid ${pid}) exited during startup; see ${LOG_DIR}"
    fi
    if ((SECONDS >= deadline)); then
      print_log_tail
      die "the Kafka broker (pid ${pid}) listens on ${KAFKA_HOST}:${port} but did not answer a metadata request within ${KAFKA_START_TIMEOUT}s"
    fi
    sleep 1
  done
}

cmd_up() {
  check_port_vars
  mkdir -p "${KAFKA_DIR}"
  lock_state_dir
  local start=${SECONDS} pid port

  if pid="$(our_pid)"; then
    port="$(running_port)"
    port="${port:-${KAFKA_PORT}}"
    if [[ "${port}" != "${KAFKA_PORT}" ]]; then
      die "our broker (pid ${pid}) is already running on ${KAFKA_HOST}:${port}, not on KAFKA_PORT=${KAFKA_PORT}; run '$0 down' first"
    fi
    fetch_jars
    wait_ready "${pid}" "${port}"
    log "already running (pid ${pid})"
    printf '%s:%s\n' "${KAFKA_HOST}" "${port}"
    return 0
  fi
  rm -f "${PID_FILE}"

  local p
  for p in "${KAFKA_PORT}" "${KAFKA_CONTROLLER_PORT}"; do
    if port_open "${KAFKA_HOST}" "${p}"; then
      log "error: port ${KAFKA_HOST}:${p} is already in use by another process (not the broker of ${KAFKA_DIR}); stop it or set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
      describe_port_owner "${p}"
      exit 1
    fi
  done

  find_java
  fetch_jars
  mkdir -p "${DATA_DIR}" "${LOG_DIR}"
  write_server_properties
  format_once

  # Keep the previous run's output around for post-mortems.
  if [[ -f "${OUT_FILE}" ]]; then mv -f "${OUT_FILE}" "${OUT_FILE}.prev"; fi
  LOG_START_OFFSET="$(stat -c %s "${SERVER_LOG}" 2>/dev/null || echo 0)"
  local -a jvm=()
  read -r -a jvm <<<"${KAFKA_HEAP_OPTS} ${KAFKA_JVM_OPTS}"
  # setsid: own session, so the broker outlives this script and its terminal.
  # The wrapper writes its own pid, then execs java, so the pid file holds the JVM pid.
  # shellcheck disable=SC2016 # $$/$1/$@ are for the inner bash
  setsid bash -c 'printf "%s\n" "$$" >"$1"; shift; exec "$@"' kafka-launcher "${PID_FILE}" \
    "${JAVA_BIN}" -server "${jvm[@]}" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dkafka.logs.dir="${LOG_DIR}" \
    -Dlog4j2.configurationFile="${SUPPORT_DIR}/log4j2.xml" \
    -cp "${LIB_DIR}/*" kafka.Kafka "${PROPS_FILE}" \
    </dev/null >"${OUT_FILE}" 2>&1 8>&- 9>&- &
  disown 2>/dev/null || true

  local i
  for ((i = 0; i < 100; i++)); do
    pid="$(our_pid)" && break
    sleep 0.1
  done
  [[ -n "${pid:-}" ]] || { print_log_tail; die "the Kafka broker did not start; see ${LOG_DIR}"; }
  log "started broker (pid ${pid}), waiting for ${KAFKA_HOST}:${KAFKA_PORT} ..."
  wait_ready "${pid}" "${KAFKA_PORT}"
  log "Kafka ${KAFKA_VERSION} is up in $((SECONDS - start))s (pid ${pid}, state in ${KAFKA_DIR})"
  printf '%s:%s\n' "${KAFKA_HOST}" "${KAFKA_PORT}"
}

cmd_down() {
  [[ -d "${KAFKA_DIR}" ]] || { log "not running"; return 0; }
  lock_state_dir
  local pid
  if ! pid="$(our_pid)"; then
    rm -f "${PID_FILE}"
    log "not running"
    return 0
  fi
  log "stopping broker (pid ${pid}) ..."
  kill -TERM "${pid}" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "${pid}" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "still running after ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "${pid}" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "${PID_FILE}"
  log "stopped"
}

cmd_status() {
  local pid port
  if pid="$(our_pid)"; then
    port="$(running_port)"
    port="${port:-${KAFKA_PORT}}"
    if port_open "${KAFKA_HOST}" "${port}"; then
      printf 'running (pid %s) at %s:%s, state in %s\n' "${pid}" "${KAFKA_HOST}" "${port}" "${KAFKA_DIR}"
    else
      printf 'running (pid %s) but %s:%s is not listening yet, state in %s\n' "${pid}" "${KAFKA_HOST}" "${port}" "${KAFKA_DIR}"
    fi
    return 0
  fi
  printf 'stopped\n'
  return 1
}

cmd_logs() {
  [[ -f "${SERVER_LOG}" ]] || die "no log yet at ${SERVER_LOG}"
  if [[ "${1:-}" == "-f" || "${1:-}" == "--follow" ]]; then
    exec tail -n 100 -F "${SERVER_LOG}"
  fi
  tail -n "${KAFKA_LOG_LINES:-100}" "${SERVER_LOG}"
}

cmd_reset() {
  cmd_down
  log "deleting broker state in ${KAFKA_DIR}"
  rm -rf "${DATA_DIR}" "${LOG_DIR}"
  rm -f "${CLUSTER_ID_FILE}" "${PROPS_FILE}" "${PID_FILE}" "${LOCK_FILE}"
  rmdir "${KAFKA_DIR}" 2>/dev/null || true
}

main() {
  local cmd="${1:-}"
  [[ $# -gt 0 ]] && shift
  case "${cmd}" in
  up | start) cmd_up ;;
  down | stop) cmd_down ;;
  restart)
    cmd_down
    cmd_up
    ;;
  status) cmd_status ;;
  logs | log) cmd_logs "$@" ;;
  fetch)
    fetch_jars
    log "jars in ${LIB_DIR}"
    ;;
  bootstrap) printf '%s:%s\n' "${KAFKA_HOST}" "${KAFKA_PORT}" ;;
  topics)
    fetch_jars
    run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "${KAFKA_HOST}:${KAFKA_PORT}" "$@"
    ;;
  tool)
    [[ $# -ge 1 ]] || die "usage: $0 tool <main-class> [args...]"
    fetch_jars
    run_tool "$@"
    ;;
  reset) cmd_reset ;;
  -h | --help | help) usage ;;
  *)
    usage
    exit 2
    ;;
  esac
}

main "$@"
