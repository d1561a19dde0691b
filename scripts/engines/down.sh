#!/usr/bin/env bash
# Stops what engines:up started.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "engines:down: nothing to stop"
