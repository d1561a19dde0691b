# shellcheck shell=bash
# Schema registry engine (sourced by up.sh): Apicurio Registry, which serves the Confluent Schema
# Registry API at /apis/ccompat/v7, from Maven Central (io.apicurio:apicurio-registry-app, the `all`
# tar.gz assembly: a runnable Quarkus application). Storage is its default in-memory H2 database, so
# every start is empty, like the Kafka broker beside it.
#
# Version: 3.0.9 is the newest release on Maven Central that runs on Java 17; 3.3.x is compiled for
# Java 21 (class file 65) and fails at boot on 17. Both jar layouts (3.0 legacy `-runner.jar`, 3.3
# fast-jar `quarkus-run.jar`) are handled, so ENGRAM_ENGINES_APICURIO_VERSION=3.3.3 works with
# ENGRAM_ENGINES_JAVA pointing at a Java 21+ runtime.

APICURIO_VERSION="${ENGRAM_ENGINES_APICURIO_VERSION:-3.0.9}"
REGISTRY_PORT="${ENGRAM_ENGINES_REGISTRY_PORT:-18081}"
REGISTRY_HEAP="${ENGRAM_ENGINES_REGISTRY_HEAP:-384m}"
REGISTRY_HOME="$ENGINES_CACHE/apicurio-registry-$APICURIO_VERSION"
REGISTRY_URL="http://$ENGINES_HOST:$REGISTRY_PORT/apis/ccompat/v7"

registry_probe() { node "$ENGINES_SCRIPTS/probe.mjs" http "$REGISTRY_URL/subjects"; }

registry_fetch() {
  [[ -f "$REGISTRY_HOME/.complete" ]] && return 0
  require_maven
  local coords="io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all" download="$ENGINES_CACHE/download-registry"
  log "registry: fetching $coords from Maven Central"
  rm -rf "$REGISTRY_HOME" "$download"
  # dependency:copy 2.8, not 3.x: 3.x also reads the artifact's descriptor, and the 3.0.9 parent
  # POM (io.apicurio:apicurio-registry:3.0.9) is missing from Maven Central, which fails the
  # resolution; 2.8 fetches the one file asked for.
  mvn_run "$ENGINES_LOGS/fetch-registry.log" org.apache.maven.plugins:maven-dependency-plugin:2.8:copy \
    -Dartifact="$coords" -DoutputDirectory="$download"
  mkdir -p "$REGISTRY_HOME"
  tar -xzf "$download/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz" -C "$REGISTRY_HOME"
  rm -rf "$download" # the Maven repository keeps the archive; no second copy
  registry_jar >/dev/null || die "registry: no runnable jar in $coords"
  touch "$REGISTRY_HOME/.complete"
}

# The launcher jar of either Quarkus layout.
registry_jar() {
  local jar
  for jar in "$REGISTRY_HOME/quarkus-run.jar" "$REGISTRY_HOME/apicurio-registry-app-$APICURIO_VERSION-runner.jar"; do
    [[ -f "$jar" ]] && { echo "$jar"; return 0; }
  done
  return 1
}

registry_up() {
  local pid
  if pid="$(engine_pid registry)"; then
    wait_ready registry registry_probe
    log "registry: already running (pid $pid) at $REGISTRY_URL"
  else
    registry_fetch
    require_free_port registry "$REGISTRY_PORT"
    mkdir -p "$ENGINES_RUN/registry"
    log "registry: starting Apicurio $APICURIO_VERSION at $REGISTRY_URL (heap $REGISTRY_HEAP)"
    # Behave like a Confluent registry out of the box: BACKWARD compatibility unless a subject says
    # otherwise; the same schema text in another layout gets the same id (canonical hash); deletes
    # allowed (tests clean up); no per-request access log (noise).
    start_daemon registry "$ENGINES_RUN/registry" \
      "$ENGINES_JAVA" -Dengram.engine=registry -Dengram.engines.dir="$ENGINES_DIR" \
      -Xms64m -Xmx"$REGISTRY_HEAP" -Djava.awt.headless=true \
      -Dquarkus.http.host="$ENGINES_HOST" -Dquarkus.http.port="$REGISTRY_PORT" \
      -Dquarkus.http.access-log.enabled=false \
      -Dapicurio.rules.global.compatibility=BACKWARD \
      -Dapicurio.ccompat.use-canonical-hash=true \
      -Dapicurio.ccompat.max-subjects=100000 \
      -Dapicurio.rest.deletion.group.enabled=true \
      -Dapicurio.rest.deletion.artifact.enabled=true \
      -Dapicurio.rest.deletion.artifact-version.enabled=true \
      -jar "$(registry_jar)"
    wait_ready registry registry_probe
    log "registry: ready (pid $(cat "$ENGINES_RUN/registry.pid"), $(rss_mb "$(cat "$ENGINES_RUN/registry.pid")") resident)"
  fi
  echo "export ENGRAM_SCHEMA_REGISTRY_URL=$REGISTRY_URL" >"$ENGINES_RUN/registry.env"
}
