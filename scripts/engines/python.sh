# shellcheck shell=bash
# Python "engine" (sourced by up.sh): not a process but a virtualenv with Confluent's Python Kafka
# client and its schema-registry Avro deserializer, so a test can read our topics with a program
# outside the Node ecosystem (scripts/engines/read-topic.py) and prove the wire format is standard.
# Wheels only: confluent-kafka's manylinux wheel bundles librdkafka, so nothing is compiled.

PYTHON_SYSTEM="${ENGRAM_ENGINES_SYSTEM_PYTHON:-python3}"
PYTHON_VENV="$ENGINES_CACHE/python-venv"
# The whole dependency closure of confluent-kafka[avro] on CPython 3.11, pinned so every machine
# installs the same; pip only uses the pins a platform needs (e.g. httpx instead of httpx2 below 3.10).
PYTHON_REQUIREMENT="confluent-kafka[avro]==2.16.1"
PYTHON_PINS=(
  confluent-kafka==2.16.1 fastavro==1.13.1 avro==1.12.2 attrs==26.1.0 cachetools==8.0.2
  certifi==2026.10.19.post1 httpx2==2.16.2 httpcore2==2.16.2 h11==0.16.0 anyio==4.16.0 idna==3.20
  Authlib==1.9.10 joserfc==1.8.0 cryptography==50.0.2 cffi==2.1.1 pycparser==3.12 requests==2.34.2
  urllib3==2.8.0 charset-normalizer==3.5.3 truststore==0.10.5 typing-extensions==4.16.0
)

# True when the venv holds exactly these pins and its interpreter still imports the deserializer
# (a base Python upgraded under the venv breaks it): the cheap check that keeps `up` offline.
python_venv_ok() {
  [[ -f "$PYTHON_VENV/.complete" ]] &&
    [[ "$(cat "$PYTHON_VENV/.complete")" == "$PYTHON_REQUIREMENT ${PYTHON_PINS[*]}" ]] &&
    "$PYTHON_VENV/bin/python" -c 'from confluent_kafka.schema_registry.avro import AvroDeserializer' 2>/dev/null
}

python_up() {
  if python_venv_ok; then
    log "python: venv ready ($PYTHON_VENV/bin/python, $PYTHON_REQUIREMENT)"
    return 0
  fi
  command -v "$PYTHON_SYSTEM" >/dev/null 2>&1 || die "python: $PYTHON_SYSTEM not found (install Python 3.9+ or set ENGRAM_ENGINES_SYSTEM_PYTHON)"
  local logfile="$ENGINES_LOGS/fetch-python.log" attempt
  log "python: creating $PYTHON_VENV with $("$PYTHON_SYSTEM" --version 2>&1) and installing $PYTHON_REQUIREMENT from PyPI"
  rm -rf "$PYTHON_VENV"
  "$PYTHON_SYSTEM" -m venv "$PYTHON_VENV" >"$logfile" 2>&1 || {
    cat "$logfile" >&2
    die "python: '$PYTHON_SYSTEM -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
  }
  printf '%s\n' "${PYTHON_PINS[@]}" >"$PYTHON_VENV/engram-constraints.txt"
  for attempt in 1 2 3; do
    if "$PYTHON_VENV/bin/python" -m pip install --no-input --disable-pip-version-check --only-binary=:all: \
      -c "$PYTHON_VENV/engram-constraints.txt" "$PYTHON_REQUIREMENT" >>"$logfile" 2>&1; then
      break
    fi
    ((attempt < 3)) || { tail -n 40 "$logfile" >&2; die "python: pip could not install $PYTHON_REQUIREMENT (log: ${logfile#"$ENGINES_ROOT"/})"; }
    log "python: pip attempt $attempt failed (log: ${logfile#"$ENGINES_ROOT"/}); retrying"
    sleep $((attempt * 5))
  done
  "$PYTHON_VENV/bin/python" -c 'from confluent_kafka.schema_registry.avro import AvroDeserializer' >>"$logfile" 2>&1 ||
    { tail -n 20 "$logfile" >&2; die "python: the venv cannot import confluent_kafka.schema_registry.avro"; }
  echo "$PYTHON_REQUIREMENT ${PYTHON_PINS[*]}" >"$PYTHON_VENV/.complete"
  log "python: venv ready ($("$PYTHON_VENV/bin/python" -c 'import confluent_kafka as c; print("confluent-kafka", c.__version__, "librdkafka", c.libversion()[0])'))"
}
