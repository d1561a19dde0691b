#!/usr/bin/env bash
# Stops the engines that engines:up started (only processes recorded in .engines/run/ whose command
# line marks them as this checkout's engines) and rewrites .engines/env without them. The download
# cache stays, so the next engines:up starts offline; `rm -rf .engines` forgets everything.
# Usage: down.sh [engine...] (default: all).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR/../..
cd "$(dirname "$0")/../.."
source scripts/engines/lib.sh

ALL_ENGINES=(registry kafka) # reverse start order: clients of the broker go first
engines=("$@")
[[ ${#engines[@]} -gt 0 ]] || engines=("${ALL_ENGINES[@]}")

if [[ ! -d "$ENGINES_DIR" ]]; then
  echo "engines:down: nothing to stop (no .engines/)"
  exit 0
fi
ensure_dirs
take_lock
for engine in "${engines[@]}"; do stop_engine "$engine"; done
write_env_file
log "down"
