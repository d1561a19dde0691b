#!/usr/bin/env bash
# Provisions and starts the real engines the tests use (DESIGN.md section 9) and writes their
# connection settings to .engines/env as `export` lines. Usage: up.sh [engine...] (default: all).
#   - Downloads by package coordinates from Maven Central into .engines/cache/ (git-ignored), once.
#   - Idempotent: an engine already running is only re-checked; after engines:down it restarts
#     from the cache without touching the network. Each cold start begins with empty data.
#   - Waits until each engine really answers (Kafka: Metadata lists the broker; registry: HTTP 200
#     on a ccompat endpoint); on timeout prints the engine's log tail and exits non-zero.
# Settings (ports, versions, heaps, timeout): see scripts/engines/README.md.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../..
cd "$(dirname "$0")/../.."
source scripts/engines/lib.sh
source scripts/engines/kafka.sh
source scripts/engines/registry.sh
source scripts/engines/python.sh

ALL_ENGINES=(kafka registry model python)
engines=("$@")
[[ ${#engines[@]} -gt 0 ]] || engines=("${ALL_ENGINES[@]}")

ensure_dirs
take_lock
command -v node >/dev/null 2>&1 || die "node not found (the readiness probes run on node)"
require_java
trap write_env_file EXIT # whatever happens, .engines/env lists exactly the engines that run

started=$SECONDS
for engine in "${engines[@]}"; do
  case "$engine" in
    kafka) kafka_up ;;
    registry) registry_up ;;
    model) bash scripts/model-fetch.sh --fp32 ;; # the embedding model (int8 and fp32): files, not a process
    python) python_up ;; # a venv with confluent-kafka for scripts/engines/read-topic.py: files, not a process
    *) die "unknown engine '$engine' (known: ${ALL_ENGINES[*]})" ;;
  esac
done
write_env_file
log "up in $((SECONDS - started)) s; settings in .engines/env:"
grep '^export' .engines/env | sed 's/^/  /'
