import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseUuid, UuidMap } from '../../src/admission/uuid-map.ts';

/** A deterministic stream of 32-bit numbers (mulberry32), so a failure replays exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0').slice(-digits);
function uuid(next: () => number): string {
  const h = hex(next(), 8) + hex(next(), 8) + hex(next(), 8) + hex(next(), 8);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

describe('UuidMap', () => {
  it('reads a canonical lowercase UUID into its four words, and nothing else', () => {
    const w = new Int32Array(4);
    assert.equal(parseUuid('0123abcd-4567-89ef-fedc-ba9876543210', w), true);
    assert.deepEqual(
      [...w].map((x) => hex(x >>> 0, 8)),
      ['0123abcd', '456789ef', 'fedcba98', '76543210'],
    );
    for (const other of [
      '0123ABCD-4567-89ef-fedc-ba9876543210', // capitals: kept apart, as a Map of strings would
      '0123abcd-4567-89ef-fedc-ba987654321', // short
      '0123abcd-4567-89ef-fedc-ba98765432100', // long
      '0123abcd+4567-89ef-fedc-ba9876543210', // a dash missing
      '0123abcg-4567-89ef-fedc-ba9876543210', // not hex
      '',
    ]) {
      assert.equal(parseUuid(other, w), false, other);
    }
  });

  it('answers as a Map of strings does, through growth, collisions and overwrites', () => {
    const next = prng(7);
    const map = new UuidMap(16);
    const reference = new Map<string, number>();
    const keys: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Mostly new UUIDs; some overwrites; some keys the typed table does not take.
      const roll = next() % 10;
      const key = roll < 7 || keys.length === 0 ? uuid(next) : roll < 9 ? keys[next() % keys.length]! : `user-${next() % 500}`;
      const value = 1 + (next() % 2 ** 31) * 2 ** 21 + (next() % 2 ** 21); // up to 2^52: user ids past 32 bits
      map.set(key, value);
      reference.set(key, value);
      keys.push(key);
    }
    assert.equal(map.size, reference.size);
    for (const [key, value] of reference) assert.equal(map.get(key), value, key);
    for (let i = 0; i < 5_000; i++) assert.equal(map.get(uuid(next)), undefined);
    assert.equal(map.get(keys[0]!.toUpperCase()), reference.get(keys[0]!.toUpperCase()));
  });

  it('keeps UUIDs that share all but one word apart', () => {
    const map = new UuidMap(16);
    const base = '00000000-0000-0000-0000-0000000000';
    for (let i = 0; i < 256; i++) map.set(`${base}${hex(i, 2)}`, i + 1);
    for (let i = 0; i < 256; i++) assert.equal(map.get(`${base}${hex(i, 2)}`), i + 1);
    assert.equal(map.size, 256);
  });

  it('refuses a value that is not a user id', () => {
    const map = new UuidMap();
    for (const bad of [0, -1, 1.5, Number.NaN, 2 ** 53])
      assert.throws(() => map.set('0123abcd-4567-89ef-fedc-ba9876543210', bad), RangeError);
    assert.equal(map.size, 0);
  });
});
