import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

/**
 * kafkajs 2.2.4, the last release, is patched at install (patches/kafkajs+2.2.4.patch, applied by
 * patch-package in postinstall): its encoder wrote every varint through a Buffer made from an
 * array, zero-filled every buffer it allocated, and its producer grouped a send's messages by
 * partition by copying the group so far for each message (quadratic in the batch). These tests pin
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
const Long = require('kafkajs/src/utils/long.js') as { fromString(s: string): unknown };

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
