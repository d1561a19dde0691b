/**
 * Topic provisioning and the topic shapes the adapter validates appends against. `ensureTopic`
 * creates a topic with the configs DESIGN.md names (cleanup.policy=compact for compacted topics,
 * partitions and replication from the spec) or checks an existing one and fails loudly when its
 * partition count or cleanup policy differs: silently using a topic with the wrong policy would
 * lose history (delete) or break per-entity order (partitions).
 */
import kafkajs, { type Admin } from 'kafkajs';
import { ConflictError, NotFoundError } from '@engram/core';
import { checkName, checkTopicSpec, specDifferences, type TopicShape, type TopicSpec } from '@engram/ports';
import { fromKafkaError, retryingKafka } from './kafka-errors.js';

// kafkajs is CommonJS: Node sees only its default export, so values come from there.
const { ConfigResourceTypes } = kafkajs;

/** `topic_not_found` for a topic that was just created: retriable for a few seconds. */
class NotListedYet extends Error {
  readonly retriable = true;
  constructor(readonly notFound: unknown) {
    super('the topic is not listed yet');
  }
}

export class TopicCatalog {
  /** Partition counts are fixed per deployment, so a shape, once read, is kept. */
  private readonly shapes = new Map<string, Promise<TopicShape>>();

  constructor(private readonly admin: Admin) {}

  async ensure(spec: TopicSpec): Promise<void> {
    const wanted = checkTopicSpec(spec);
    let created: boolean;
    try {
      created = await retryingKafka(() => this.admin.createTopics({
        waitForLeaders: true,
        topics: [
          {
            topic: spec.name,
            numPartitions: wanted.partitions,
            replicationFactor: wanted.replicationFactor,
            configEntries: [{ name: 'cleanup.policy', value: wanted.compacted ? 'compact' : 'delete' }],
          },
        ],
      }), 5_000);
    } catch (error) {
      // Another process may create it between our check and our create: then compare below.
      if ((error as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw fromKafkaError(error, `create topic ${spec.name}`);
      created = false;
    }
    if (created) {
      this.shapes.set(spec.name, Promise.resolve(wanted));
      return;
    }
    this.shapes.delete(spec.name);
    // A topic created a moment ago (by us in a retried create, or by another process) may not be
    // listed by every broker yet: give its metadata a few seconds to arrive.
    const existing = await retryingKafka(async () => {
      try {
        return await this.shape(spec.name);
      } catch (error) {
        if ((error as { code?: string }).code === 'topic_not_found') throw new NotListedYet(error);
        throw error;
      }
    }, 5_000).catch((error: unknown) => {
      throw error instanceof NotListedYet ? error.notFound : error;
    });
    const diffs = specDifferences(existing, spec);
    if (diffs.length > 0) {
      throw new ConflictError('topic_config_mismatch', `topic ${spec.name} exists with ${diffs.join(', ')}`, { topic: spec.name, existing, requested: wanted });
    }
  }

  /** The topic's partitions and cleanup policy as the broker reports them (cached). */
  shape(topic: string): Promise<TopicShape> {
    checkName('topic', topic);
    let shape = this.shapes.get(topic);
    if (shape === undefined) {
      shape = this.describe(topic);
      this.shapes.set(topic, shape);
      shape.catch(() => this.shapes.delete(topic));
    }
    return shape;
  }

  private async describe(topic: string): Promise<TopicShape> {
    try {
      return await retryingKafka(() => this.describeOnce(topic), 5_000);
    } catch (error) {
      throw fromKafkaError(error, `describe topic ${topic}`, topic);
    }
  }

  private async describeOnce(topic: string): Promise<TopicShape> {
    const listed = await this.admin.listTopics();
    if (!listed.includes(topic)) throw new NotFoundError('topic_not_found', `topic ${topic} does not exist`, { topic });
    const [{ topics }, configs] = await Promise.all([
      this.admin.fetchTopicMetadata({ topics: [topic] }),
      this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }] }),
    ]);
    const partitions = topics[0]?.partitions ?? [];
    const policy = configs.resources[0]?.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue ?? 'delete';
    return {
      partitions: partitions.length,
      compacted: policy.split(',').includes('compact'),
      replicationFactor: partitions[0]?.replicas.length ?? 1,
    };
  }
}
