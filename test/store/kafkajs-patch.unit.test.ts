import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

/**
 * kafkajs 2.2.4, the last release, is patched at install (patches/kafkajs+2.2.4.patch, applied by
 * patch-package in postinstall): its encoder wrote every varint through a Buffer made from an
 * array, zero-filled every buffer it allocated, and its producer grouped a send's messages by
 * partition by copying the group so far for each message (quadratic in the batch); it built each
 * record of a send through an Encoder, a Long and several objects of its own, and checksummed a
 * batch one byte at a time. These tests pin
 * what the patch must not change, the bytes on the wire and the grouping, against the protocol's
 * own definition, and that the allocations it removed stay removed. Every integration test sends
 * through it to a real broker, which checks each batch's CRC and parses every record.
 */
const require = createRequire(import.meta.url);
type EncoderInstance = {
  writeVarInt(v: number): EncoderInstance;
  writeVarLong(v: unknown): EncoderInstance;
  writeInt32(v: number): EncoderInstance;
  buffer: Buffer;
};
const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => EncoderInstance;
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | string;
  value: Buffer | string;
}) => EncoderInstance;
const groupMessagesPerPartition = require('kafkajs/src/producer/groupMessagesPerPartition.js') as (args: {
  topic: string;
  partitionMetadata: unknown[];
  messages: { partition: number }[];
  partitioner: (args: { message: { partition: number } }) => number;
}) => Record<string, { partition: number }[]>;
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown; fromInt(n: number): unknown };
interface PlainMessage {
  key: Buffer | string | null;
  value: Buffer | string | null;
  timestamp?: number;
}
const produceRequest = require('kafkajs/src/protocol/requests/produce/v3/request.js') as ((args: {
  acks: number;
  timeout: number;
  producerId: unknown;
  producerEpoch: number;
  topicData: { topic: string; partitions: { partition: number; firstSequence: number; messages: PlainMessage[] }[] }[];
}) => { encode(): Promise<{ buffer: Buffer }> }) & { encodePlainRecords(messages: PlainMessage[]): Buffer };
const crc32C = require('kafkajs/src/protocol/recordBatch/crc32C/crc32C.js') as (b: Buffer) => number;

/** CRC-32C one bit at a time, from the Castagnoli polynomial itself (reflected): the reference. */
function crc32cBitwise(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** Messages of every shape the plain path takes: string, Buffer and null keys and values, multi-byte UTF-8, lengths past one varint byte. */
function plainMessages(count: number): PlainMessage[] {
  return Array.from({ length: count }, (_, i) => ({
    key: i % 3 === 0 ? null : i % 3 === 1 ? String(i) : Buffer.from(`b${i}`),
    value: i % 7 === 0 ? null : i % 5 === 0 ? 'é'.repeat(i) : i % 2 ? Buffer.from('v'.repeat(i * 3)) : 'v'.repeat(i * 3),
  }));
}

/** Kafka's varint (zig-zag, then 7 bits a byte, low first), computed with BigInt. */
function varint(value: bigint, bits: 32 | 64): number[] {
  let v = BigInt.asUintN(bits, (value << 1n) ^ (value >> BigInt(bits - 1)));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

describe('kafkajs, as patched', () => {
  it('writes varints as the protocol defines them', () => {
    for (const v of [0, 1, -1, 63, -64, 64, -65, 300, -300, 8_191, -8_192, 1_048_576, 2 ** 31 - 1, -(2 ** 31)]) {
      assert.deepEqual([...new Encoder().writeVarInt(v).buffer], varint(BigInt(v), 32), `varint ${v}`);
    }
  });

  it('writes varlongs as the protocol defines them', () => {
    for (const v of ['0', '-1', '1099511627776', '-1099511627776', '9223372036854775807', '-9223372036854775808']) {
      assert.deepEqual([...new Encoder().writeVarLong(Long.fromString(v)).buffer], varint(BigInt(v), 64), `varlong ${v}`);
    }
  });

  it('encodes a record byte for byte, with varints between fixed-width fields', () => {
    const key = '17';
    const value = JSON.stringify({ couponId: 17, userId: 42, note: 'é' });
    const body = [
      0, // attributes
      ...varint(5n, 64), // timestamp delta
      ...varint(3n, 32), // offset delta
      ...varint(BigInt(Buffer.byteLength(key)), 32),
      ...Buffer.from(key),
      ...varint(BigInt(Buffer.byteLength(value)), 32),
      ...Buffer.from(value),
      ...varint(0n, 32), // no headers
    ];
    const record = Record({ offsetDelta: 3, timestampDelta: 5, key, value });
    assert.deepEqual([...record.buffer], [...varint(BigInt(body.length), 32), ...body]);
    // Every byte it hands out was written: a fixed-width write after varints lands right after them.
    assert.deepEqual([...new Encoder().writeVarInt(-1).writeInt32(0x01020304).buffer], [1, 1, 2, 3, 4]);
  });

  it('makes no Buffer per varint', () => {
    const from = Buffer.from;
    let made = 0;
    Buffer.from = ((...args: Parameters<typeof Buffer.from>) => {
      made++;
      return from.apply(Buffer, args);
    }) as typeof Buffer.from;
    try {
      Record({ offsetDelta: 300, timestampDelta: 70_000, key: '17', value: '{"couponId":17}' });
    } finally {
      Buffer.from = from;
    }
    assert.equal(made, 0);
  });

  it('encodes plain records as the record encoder does, one after another', () => {
    // 200 records: offset deltas past 63 take two varint bytes, values past 127 bytes too.
    const messages = plainMessages(200);
    const general = Buffer.concat(messages.map((m, i) => Record({ ...m, offsetDelta: i, timestampDelta: 0 } as never).buffer));
    assert.ok(produceRequest.encodePlainRecords(messages).equals(general));
  });

  it('sends plain messages byte for byte as the general path sends the same records', async () => {
    const now = 1_764_892_800_000;
    const request = (messages: PlainMessage[]) =>
      produceRequest({
        acks: -1,
        timeout: 5_000,
        producerId: Long.fromInt(7),
        producerEpoch: 0,
        topicData: [{ topic: 't', partitions: [{ partition: 2, firstSequence: 41, messages }] }],
      }).encode();
    const plain = plainMessages(120);
    const realNow = Date.now;
    Date.now = () => now;
    let fast: Buffer;
    try {
      fast = (await request(plain)).buffer;
    } finally {
      Date.now = realNow;
    }
    // A timestamp on every message takes the general path; all equal to the clock, so every record
    // has the same timestamp delta (0) and the batch the same first and last timestamps.
    const general = (await request(plain.map((m) => ({ ...m, timestamp: now })))).buffer;
    assert.ok(fast.equals(general));
  });

  it('checksums as CRC-32C does, at every length', () => {
    assert.equal(crc32C(Buffer.from('123456789')), 0xe3069283); // the check value of CRC-32C
    let seed = 1;
    const bytes = Buffer.from(Array.from({ length: 300 }, () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) & 0xff));
    for (let length = 0; length <= bytes.length; length++) {
      const part = bytes.subarray(3, 3 + length);
      assert.equal(crc32C(part), crc32cBitwise(part), `length ${part.length}`);
    }
  });

  it('groups a send by partition, each group in the order given', () => {
    const messages = [0, 1, 0, 2, 1, 0].map((partition, i) => ({ partition, i }));
    const groups = groupMessagesPerPartition({
      topic: 't',
      partitionMetadata: [{}, {}, {}],
      messages,
      partitioner: ({ message }) => message.partition,
    });
    assert.deepEqual(groups, { 0: [messages[0], messages[2], messages[5]], 1: [messages[1], messages[4]], 2: [messages[3]] });
    assert.deepEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages, partitioner: () => 0 }), {});
  });
});
