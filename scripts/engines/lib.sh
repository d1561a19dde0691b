# shellcheck shell=bash
# Shared helpers for scripts/engines/*.sh (sourced, not run). Layout under the repo root:
#   .engines/cache/  downloads (Maven local repository, resolved classpaths, unpacked apps); kept
#   .engines/data/   engine state; wiped on every cold start, so each `up` begins empty
#   .engines/logs/   one log per engine and per download
#   .engines/run/    <engine>.pid, <engine>.env (its connection settings), generated configs, lock
#   .engines/env     the `export` lines of every running engine, rebuilt by up.sh and down.sh
# Every path and port can be moved with an ENGRAM_ENGINES_* variable (see scripts/engines/README.md).

ENGINES_ROOT="$(pwd)"
ENGINES_DIR="$ENGINES_ROOT/.engines"
ENGINES_CACHE="$ENGINES_DIR/cache"
ENGINES_DATA="$ENGINES_DIR/data"
ENGINES_LOGS="$ENGINES_DIR/logs"
ENGINES_RUN="$ENGINES_DIR/run"
ENGINES_HOST="${ENGRAM_ENGINES_HOST:-127.0.0.1}"
ENGINES_TIMEOUT="${ENGRAM_ENGINES_TIMEOUT:-240}"
ENGINES_M2="${ENGRAM_ENGINES_M2_REPO:-$ENGINES_CACHE/m2}"
ENGINES_JAVA="${ENGRAM_ENGINES_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
ENGINES_SCRIPTS="$ENGINES_ROOT/scripts/engines"
# Pinned so every machine resolves the same plugin rather than whatever Maven defaults to.
ENGINES_DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

log() { printf '[engines %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[engines] ERROR: %s\n' "$*" >&2; exit 1; }

ensure_dirs() { mkdir -p "$ENGINES_CACHE" "$ENGINES_DATA" "$ENGINES_LOGS" "$ENGINES_RUN"; }

# Serialises concurrent up/down calls (two test shells, CI retries) on one file lock.
take_lock() {
  exec 9>"$ENGINES_RUN/lock"
  flock -w 600 9 || die "another engines:up/down still holds $ENGINES_RUN/lock after 600 s"
}

require_java() {
  command -v "$ENGINES_JAVA" >/dev/null 2>&1 || die "java not found (set JAVA_HOME or ENGRAM_ENGINES_JAVA)"
  local major
  major="$("$ENGINES_JAVA" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
  [[ "${major%%.*}" -ge 17 ]] 2>/dev/null || die "Java 17 or newer is needed; $ENGINES_JAVA is ${major:-unknown}"
}

require_maven() { command -v mvn >/dev/null 2>&1 || die "mvn not found: the engines are fetched from Maven Central with Maven"; }

# mvn_run <log-file> <args...>: Maven against the engines' own local repository, retried because a
# fresh CI machine downloads ~300 MB and one dropped connection should not fail the run.
mvn_run() {
  local logfile="$1"; shift
  local attempt
  for attempt in 1 2 3; do
    if mvn -B -q -Dmaven.repo.local="$ENGINES_M2" "$@" >"$logfile" 2>&1; then return 0; fi
    log "mvn attempt $attempt failed (log: ${logfile#"$ENGINES_ROOT"/}); retrying"
    sleep $((attempt * 5))
  done
  tail -n 40 "$logfile" >&2
  die "Maven could not fetch $*"
}

# The pid recorded for <engine>, if that process is still alive and is really ours: pids get
# reused, so the command line must carry `-Dengram.engine=<engine> -Dengram.engines.dir=<.engines>`
# (in that order, not last), which every engine's start command puts first.
engine_pid() {
  local name="$1" pidfile="$ENGINES_RUN/$1.pid" pid
  [[ -f "$pidfile" ]] || return 1
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] && [[ -r "/proc/$pid/cmdline" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "-Dengram.engine=$name -Dengram.engines.dir=$ENGINES_DIR " || return 1
  echo "$pid"
}

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Fails early, and says who to blame, when a port the engine needs is taken by a stranger.
require_free_port() {
  local name="$1" port="$2"
  if port_open "$ENGINES_HOST" "$port"; then
    die "$name: port $ENGINES_HOST:$port is already in use by another process; stop it or set the ENGRAM_ENGINES_*_PORT variable"
  fi
}

# start_daemon <engine> <workdir> <command...>: detached in its own session (setsid, no stdin) so it
# outlives `npm run engines:up`; output goes to .engines/logs/<engine>.log. The child writes its own
# pid before exec'ing the engine, so the pid file names the engine itself, whatever setsid forks.
start_daemon() {
  local name="$1" workdir="$2"; shift 2
  local logfile="$ENGINES_LOGS/$name.log" pidfile="$ENGINES_RUN/$name.pid" i
  : >"$logfile"
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # expanded by the child shell, on purpose
  setsid -f bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && cd "$1" && shift && exec "$@"' \
    "$pidfile" "$workdir" "$@" >>"$logfile" 2>&1 </dev/null 9>&- # fd 9 is the lock: not the daemon's
  for ((i = 0; i < 100; i++)); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "$name did not start (no pid file after 10 s; log: ${logfile#"$ENGINES_ROOT"/})"
}

# wait_ready <engine> <probe command...>: polls the probe once a second until it succeeds, the
# process dies, or ENGRAM_ENGINES_TIMEOUT passes; on failure prints the log tail and stops it.
wait_ready() {
  local name="$1"; shift
  local deadline=$((SECONDS + ENGINES_TIMEOUT)) logfile="$ENGINES_LOGS/$name.log" pid probe_said=""
  pid="$(cat "$ENGINES_RUN/$name.pid")"
  while true; do
    if [[ ! -d "/proc/$pid" ]]; then
      tail -n 60 "$logfile" >&2 || true
      die "$name exited while starting (log: ${logfile#"$ENGINES_ROOT"/})"
    fi
    if probe_said="$("$@" 2>&1)"; then return 0; fi
    if ((SECONDS >= deadline)); then
      tail -n 60 "$logfile" >&2 || true
      stop_engine "$name"
      die "$name was not ready after ${ENGINES_TIMEOUT} s; last probe: ${probe_said:-no output} (log: ${logfile#"$ENGINES_ROOT"/})"
    fi
    sleep 1
  done
}

# stop_engine <engine>: SIGTERM (Kafka then shuts down cleanly), SIGKILL after 30 s.
stop_engine() {
  local name="$1" pid i
  if pid="$(engine_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
      [[ -d "/proc/$pid" ]] || break
      sleep 0.1
    done
    if [[ -d "/proc/$pid" ]]; then
      log "$name (pid $pid) ignored SIGTERM for 30 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "$name stopped (pid $pid)"
  fi
  rm -f "$ENGINES_RUN/$name.pid" "$ENGINES_RUN/$name.env"
}

# Rebuilds .engines/env from the fragments of the engines that are running, atomically, so a
# reader never sees half a file.
write_env_file() {
  local tmp="$ENGINES_DIR/env.tmp.$$" fragment name
  {
    echo "# Written by scripts/engines (engines:up / engines:down); source it before the tests."
    for fragment in "$ENGINES_RUN"/*.env; do
      [[ -f "$fragment" ]] || continue
      name="$(basename "$fragment" .env)"
      if engine_pid "$name" >/dev/null; then cat "$fragment"; fi
    done
    # The embedding model is files, not a process: listed while npm run model:fetch's copy is there.
    if [[ -f "$PWD/.cache/models/Xenova/all-MiniLM-L6-v2/onnx/model_quantized.onnx" ]]; then
      echo "export ENGRAM_MODEL_DIR=$PWD/.cache/models"
    fi
    # So is python.sh's venv (confluent-kafka for read-topic.py), listed once it is complete.
    if [[ -f "$ENGINES_CACHE/python-venv/.complete" ]]; then
      echo "export ENGRAM_ENGINES_PYTHON=$ENGINES_CACHE/python-venv/bin/python"
    fi
  } >"$tmp"
  mv -f "$tmp" "$ENGINES_DIR/env"
}

# Resident memory of a pid, for the summary line.
rss_mb() { awk '/^VmRSS:/ { printf "%d MB", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }
