#!/usr/bin/env bash
# Provisions and starts the real engines the tests use (DESIGN.md section 9) and writes their
# connection settings to .engines/env. Engines are added by their issues (Kafka + registry, Milvus,
# Redis, GCS emulator, model); until then this only creates the folder and an empty env file.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .engines
: > .engines/env
echo "engines:up: no engines are provisioned yet (embedded defaults only)"
