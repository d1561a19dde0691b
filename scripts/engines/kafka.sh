# shellcheck shell=bash
# Kafka engine (sourced by up.sh): Apache Kafka from Maven Central as a single-node KRaft
# broker+controller on 127.0.0.1. There is no Kafka tarball on Maven Central, so the broker's
# runtime classpath is resolved from org.apache.kafka:kafka_2.13 plus an slf4j binding and run with
# `java -cp 'lib/*'`, exactly what bin/kafka-server-start.sh does with the tarball's libs/.

KAFKA_VERSION="${ENGRAM_ENGINES_KAFKA_VERSION:-3.9.2}"
KAFKA_PORT="${ENGRAM_ENGINES_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${ENGRAM_ENGINES_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_HEAP="${ENGRAM_ENGINES_KAFKA_HEAP:-512m}"
KAFKA_HOME="$ENGINES_CACHE/kafka-$KAFKA_VERSION"

kafka_probe() { node "$ENGINES_SCRIPTS/probe.mjs" kafka "$ENGINES_HOST" "$KAFKA_PORT"; }

# Resolves the classpath into .engines/cache/kafka-<version>/lib once; the .complete marker makes
# every later call (and every call after engines:down) skip Maven entirely.
kafka_fetch() {
  [[ -f "$KAFKA_HOME/.complete" ]] && return 0
  require_maven
  log "kafka: resolving org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
  rm -rf "$KAFKA_HOME"
  mkdir -p "$KAFKA_HOME"
  cat >"$KAFKA_HOME/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>engram.engines</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <!-- Kafka 3.9 logs through slf4j 1.7 + reload4j (log4j 1.x API), as its own distribution does. -->
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
EOF
  mvn_run "$ENGINES_LOGS/fetch-kafka.log" -f "$KAFKA_HOME/pom.xml" \
    "$ENGINES_DEPENDENCY_PLUGIN:copy-dependencies" -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME/lib"
  [[ -f "$KAFKA_HOME/lib/kafka_2.13-$KAFKA_VERSION.jar" ]] || die "kafka: kafka_2.13-$KAFKA_VERSION.jar missing after Maven"
  touch "$KAFKA_HOME/.complete"
}

kafka_configure() {
  local conf="$ENGINES_RUN/kafka"
  mkdir -p "$conf"
  # Small-machine, single-node test settings: replication factors of 1 (there is one broker), no
  # rebalance delay (tests join groups constantly), fewer internal partitions (faster first group).
  cat >"$conf/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$ENGINES_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$ENGINES_HOST:$KAFKA_PORT,CONTROLLER://$ENGINES_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$ENGINES_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$ENGINES_DATA/kafka
num.partitions=1
num.network.threads=2
num.io.threads=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
EOF
  cat >"$conf/log4j.properties" <<'EOF'
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
EOF
  sed 's/^log4j.rootLogger=INFO/log4j.rootLogger=WARN/' "$conf/log4j.properties" >"$conf/tools-log4j.properties"
}

# Formats a fresh KRaft log directory (new cluster id each cold start: the data is throwaway).
kafka_format() {
  local conf="$ENGINES_RUN/kafka" cluster_id
  rm -rf "$ENGINES_DATA/kafka"
  mkdir -p "$ENGINES_DATA/kafka"
  cluster_id="$("$ENGINES_JAVA" -Dlog4j.configuration="file:$conf/tools-log4j.properties" \
    -cp "$KAFKA_HOME/lib/*" kafka.tools.StorageTool random-uuid)"
  "$ENGINES_JAVA" -Dlog4j.configuration="file:$conf/tools-log4j.properties" -cp "$KAFKA_HOME/lib/*" \
    kafka.tools.StorageTool format -t "$cluster_id" -c "$conf/server.properties" \
    >"$ENGINES_LOGS/kafka-format.log" 2>&1 || { cat "$ENGINES_LOGS/kafka-format.log" >&2; die "kafka: storage format failed"; }
}

kafka_up() {
  local pid
  if pid="$(engine_pid kafka)"; then
    wait_ready kafka kafka_probe
    log "kafka: already running (pid $pid) on $ENGINES_HOST:$KAFKA_PORT"
  else
    kafka_fetch
    require_free_port kafka "$KAFKA_PORT"
    require_free_port kafka "$KAFKA_CONTROLLER_PORT"
    kafka_configure
    kafka_format
    log "kafka: starting $KAFKA_VERSION on $ENGINES_HOST:$KAFKA_PORT (heap $KAFKA_HEAP)"
    start_daemon kafka "$ENGINES_RUN/kafka" \
      "$ENGINES_JAVA" -Dengram.engine=kafka -Dengram.engines.dir="$ENGINES_DIR" \
      -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$ENGINES_RUN/kafka/log4j.properties" \
      -cp "$KAFKA_HOME/lib/*" kafka.Kafka "$ENGINES_RUN/kafka/server.properties"
    wait_ready kafka kafka_probe
    log "kafka: ready (pid $(cat "$ENGINES_RUN/kafka.pid"), $(rss_mb "$(cat "$ENGINES_RUN/kafka.pid")") resident)"
  fi
  echo "export ENGRAM_KAFKA_BROKERS=$ENGINES_HOST:$KAFKA_PORT" >"$ENGINES_RUN/kafka.env"
}
