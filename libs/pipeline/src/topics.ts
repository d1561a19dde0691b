/**
 * Topic names and specs (DESIGN.md section 3). All compacted: the events topics are keyed by the
 * tenant-qualified event id, so compaction only removes repeated deliveries and archival tombstones;
 * the state topic is keyed by entity id, so it keeps the latest state of each entity.
 */
import type { TopicSpec } from '@engram/ports';

export interface Topics {
  events: string;
  enriched: string;
  state: string;
  deadLetter: string;
  partitions: number;
  /** Copies of each partition on the brokers (the embedded log keeps one). */
  replicationFactor: number;
}

export function createTopics(options: { prefix?: string; partitions: number; replicationFactor?: number }): Topics {
  const p = options.prefix ?? '';
  return {
    events: `${p}memory-events`,
    enriched: `${p}memory-enriched`,
    state: `${p}memory-state`,
    deadLetter: `${p}memory-dead-letter`,
    partitions: options.partitions,
    replicationFactor: options.replicationFactor ?? 1,
  };
}

/** The workers' consumer groups: prefixed like the topics, so deployments sharing a broker never share a group. */
export interface ConsumerGroups {
  enrichment: string;
  projection: string;
  vectors: string;
  changelog: string;
  /** The in-process keyword index's follower (ENGRAM_KEYWORD_INDEX=memory). */
  keywords: string;
}

export function createConsumerGroups(prefix = ''): ConsumerGroups {
  return {
    enrichment: `${prefix}engram-enrichment`,
    projection: `${prefix}engram-projection`,
    vectors: `${prefix}engram-vectors`,
    changelog: `${prefix}engram-changelog`,
    keywords: `${prefix}engram-keywords`,
  };
}

export function topicSpecs(topics: Topics): TopicSpec[] {
  return [topics.events, topics.enriched, topics.state, topics.deadLetter].map((name) => ({
    name,
    partitions: topics.partitions,
    replicationFactor: topics.replicationFactor,
    compacted: true,
  }));
}

/** The record key of an event: tenant-qualified, so two tenants' event ids never collide. */
export function eventRecordKey(tenant: string, eventId: string): string {
  return `${tenant}|${eventId}`;
}
