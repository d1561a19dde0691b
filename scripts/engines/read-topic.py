#!/usr/bin/env python3
"""Reads Engram records from a Kafka topic with Confluent's own Python clients, to prove the wire
format is the standard one: nothing here knows Engram's schemas or code.

  $ENGRAM_ENGINES_PYTHON scripts/engines/read-topic.py --brokers HOST:PORT --registry URL
      --topic NAME [--count N] [--timeout S] [--raw]

Consumes every partition of the topic from the beginning (isolation.level=read_committed, so only
committed transactions, as Engram's own readers see them) and decodes each value with
confluent_kafka.schema_registry.avro.AvroDeserializer: it reads the 5-byte header (magic 0, schema
id), fetches the writer schema by that id from the registry (GET /schemas/ids/{id}?subject=
<topic>-value, cached) and decodes the Avro binary with fastavro. Prints one JSON line per record:

  {"topic", "partition", "offset", "key", "schemaId", "value"}   (+ "raw" with --raw)

JSON mapping of the decoded value: a union branch that is a record comes as {"<full name>": value}
(Avro's JSON encoding of unions; it tells MemoryDeleted from SetElementsAdded), bytes as base64
text, a tombstone as null. The key is UTF-8 text (base64 when it is not); --raw adds the value's
bytes as they came from the broker (base64), so a test can decode the same bytes another way.

Stops after --count records, or without --count once every partition reached its end.
Exit codes: 0 done, 1 a record could not be read or decoded, 2 timed out.

Needs the venv that scripts/engines/python.sh provisions (confluent-kafka with its Avro extras).
"""
import argparse
import base64
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext


def to_json(value):
    """The decoded Avro value as JSON-compatible data (see the module doc for the mapping)."""
    if isinstance(value, tuple):  # (record name, record): return_record_name for a union branch
        return {value[0]: to_json(value[1])}
    if isinstance(value, dict):
        return {name: to_json(item) for name, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode('ascii')
    return value


def text_or_base64(data):
    if data is None:
        return None
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return base64.b64encode(data).decode('ascii')


def parse_args(argv):
    parser = argparse.ArgumentParser(description='Decode Avro records of a topic through the schema registry.')
    parser.add_argument('--brokers', required=True, help='bootstrap servers, host:port[,host:port]')
    parser.add_argument('--registry', required=True, help='Confluent-compatible schema registry base URL')
    parser.add_argument('--topic', required=True)
    parser.add_argument('--count', type=int, help='stop after this many records (default: at the end of every partition)')
    parser.add_argument('--timeout', type=float, default=30.0, help='seconds before giving up (default 30)')
    parser.add_argument('--raw', action='store_true', help="add the value's bytes (base64) to each line")
    return parser.parse_args(argv)


def partitions_of(consumer, topic, timeout):
    metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise KafkaException(metadata.error if metadata is not None and metadata.error else f'topic {topic} not found')
    return sorted(metadata.partitions)


def main(argv):
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    registry = SchemaRegistryClient({'url': args.registry})
    # TOPIC = TopicNameStrategy, subjects `<topic>-value`: the Confluent default, and Engram's.
    deserializer = AvroDeserializer(registry, return_record_name=True, conf={'subject.name.strategy.type': 'TOPIC'})
    consumer = Consumer({
        'bootstrap.servers': args.brokers,
        # Required by the client; nothing is committed, and assign() below joins no group.
        'group.id': f'engram-python-reader-{uuid.uuid4()}',
        'enable.auto.commit': False,
        'isolation.level': 'read_committed',
        'enable.partition.eof': True,
        'auto.offset.reset': 'earliest',
    })
    try:
        partitions = partitions_of(consumer, args.topic, args.timeout)
        consumer.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in partitions])
        at_end = set()
        read = 0
        while (args.count is None and len(at_end) < len(partitions)) or (args.count is not None and read < args.count):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f'read-topic: timed out after {args.timeout} s with {read} record(s) of {args.topic}', file=sys.stderr)
                return 2
            message = consumer.poll(min(remaining, 1.0))
            if message is None:
                continue
            if message.error() is not None:
                if message.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition())
                    continue
                raise KafkaException(message.error())
            at_end.discard(message.partition())
            data = message.value()
            value = deserializer(data, SerializationContext(message.topic(), MessageField.VALUE, message.headers()))
            line = {
                'topic': message.topic(),
                'partition': message.partition(),
                'offset': message.offset(),
                'key': text_or_base64(message.key()),
                'schemaId': int.from_bytes(data[1:5], 'big', signed=True) if data is not None else None,
                'value': to_json(value),
            }
            if args.raw:
                line['raw'] = to_json(data)
            print(json.dumps(line), flush=True)
            read += 1
        return 0
    except Exception as error:  # noqa: BLE001 - a proof tool: any failure is reported and fails the run
        print(f'read-topic: {type(error).__name__}: {error}', file=sys.stderr)
        return 1
    finally:
        consumer.close()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
