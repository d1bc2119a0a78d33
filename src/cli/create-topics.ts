/**
 * Creates the Kafka topics the app needs, if missing: `node src/cli/create-topics.ts`.
 * Run by infra/kafka.sh after every start; it is also the readiness check there, because a broker
 * whose port is open can still be electing its controller, and only an answered admin request
 * proves it serves clients. Safe to re-run: existing topics are left as they are.
 */
import { Kafka, logLevel } from 'kafkajs';
import { loadConfig } from '../config.ts';

const CONNECT_DEADLINE_MS = 60_000;
const DEAD_LETTER_PARTITIONS = 3;

const config = loadConfig();
const { brokers, clientId, topic, deadLetterTopic, partitions, replicationFactor, minInsyncReplicas } = config.kafka;

const kafka = new Kafka({
  clientId: `${clientId}-create-topics`,
  brokers,
  // kafkajs logs every refused connection of the retry loop below as an error; the loop's own
  // error (printed on failure, with its cause) is the one that matters.
  logLevel: logLevel.NOTHING,
  retry: { retries: 3 },
});
const admin = kafka.admin();

/** A freshly started broker refuses connections or has no controller yet; keep trying until it answers. */
async function connectWithRetries(): Promise<string[]> {
  const deadline = Date.now() + CONNECT_DEADLINE_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.connect();
      return await admin.listTopics();
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`Kafka at ${brokers.join(',')} did not answer within ${CONNECT_DEADLINE_MS / 1000}s`, {
          cause: error,
        });
      }
      await admin.disconnect().catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2000)));
    }
  }
}

async function main(): Promise<void> {
  const existing = new Set(await connectWithRetries());
  // min.insync.replicas on the topic itself: with acks=all it is what makes an acknowledged event
  // survive the loss of a broker, whatever the brokers' defaults say.
  const configEntries = [{ name: 'min.insync.replicas', value: String(minInsyncReplicas) }];
  const wanted = [
    { topic, numPartitions: partitions, replicationFactor, configEntries },
    { topic: deadLetterTopic, numPartitions: DEAD_LETTER_PARTITIONS, replicationFactor, configEntries },
  ];

  // Partitions decide how far the consumer scales, and Kafka cannot shrink them: a mismatch is
  // worth a warning, but deleting a topic full of requests is not this script's call.
  if (existing.has(topic)) {
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    const actual = topics[0]?.partitions.length;
    if (actual !== partitions) {
      console.warn(`warning: topic ${topic} has ${actual} partitions, config expects ${partitions}`);
    }
  }

  const missing = wanted.filter((t) => !existing.has(t.topic));
  for (const t of wanted.filter((w) => existing.has(w.topic))) console.log(`topic ${t.topic} exists`);
  if (missing.length > 0) {
    // waitForLeaders: once this returns, producers can write to every partition right away.
    await admin.createTopics({ topics: missing, waitForLeaders: true });
    for (const t of missing) {
      console.log(
        `created topic ${t.topic} (${t.numPartitions} partitions, ${replicationFactor} replicas, min.insync.replicas ${minInsyncReplicas})`,
      );
    }
  }
}

try {
  await main();
} catch (error) {
  console.error('create-topics failed:', error);
  process.exitCode = 1;
} finally {
  await admin.disconnect().catch(() => {});
}
