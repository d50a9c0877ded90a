#!/bin/sh
# Creates every Baton topic (baton_schemas.topics) that does not exist yet; safe to run
# again. Runs in the apache/kafka image: the compose file's `kafka-topics` job mounts this
# file and the Kubernetes `baton-kafka-topics` Job gets it from a ConfigMap. A test holds the
# list below equal to `Topics().all_for()`.
#
#   KAFKA_BOOTSTRAP      bootstrap servers (default kafka:9092)
#   BATON_TOPIC_PREFIX   the deployment's topic prefix (default empty)
#   PARTITIONS           partitions per topic (default 3: the replicas that can share a
#                        consumer group's work on a topic; KEDA's maxReplicaCount matches)
#   REPLICATION_FACTOR   default 1 (one broker); 3 on a production cluster
#   MIN_INSYNC_REPLICAS  default 1; 2 with replication factor 3 (producers use acks=all)
set -eu

BOOTSTRAP="${KAFKA_BOOTSTRAP:-kafka:9092}"
PREFIX="${BATON_TOPIC_PREFIX:-}"
PARTITIONS="${PARTITIONS:-3}"
REPLICATION_FACTOR="${REPLICATION_FACTOR:-1}"
MIN_INSYNC_REPLICAS="${MIN_INSYNC_REPLICAS:-1}"
KAFKA_TOPICS="${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}"

WEEK_MS=604800000
MONTH_MS=2592000000

create() {
  topic="${PREFIX}$1"
  retention="$2"
  "$KAFKA_TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
    --topic "$topic" --partitions "$PARTITIONS" --replication-factor "$REPLICATION_FACTOR" \
    --config "retention.ms=$retention" --config "min.insync.replicas=$MIN_INSYNC_REPLICAS"
  echo "topic $topic: $PARTITIONS partitions, retention.ms=$retention"
}

# Lead events, keyed by lead key (one lead's events stay in order on one partition).
create leads.captured "$WEEK_MS"
create leads.assigned "$WEEK_MS"
create sla.events "$WEEK_MS"
create feedback.traceable "$WEEK_MS"
create feedback.closed-deals "$WEEK_MS"
create crm.activity "$WEEK_MS"
# Every activated policy version, all under the one key `routing-policy`, kept forever: the
# SLA monitor judges each assignment by the version stamped on it, and a compacted topic
# would keep only the latest version of the one key.
create policy.events -1
# One dead-letter topic per service, kept long enough to investigate and replay.
create deadletter.router "$MONTH_MS"
create deadletter.sla-monitor "$MONTH_MS"
create deadletter.feedback "$MONTH_MS"
