/**
 * A map from public ids to user ids that holds hundreds of thousands of users per shard worker.
 *
 * A public id is a UUID: its 128 bits fit in four 32-bit words, so a slot of one typed array holds
 * the key and its user id in 32 bytes (open addressing, linear probing, at most half full), and a
 * lookup reads mostly one cache line. A Map of strings kept every key string alive besides its own
 * table, several hundred bytes a user, and a lookup chased pointers from the table to the string.
 *
 * Only canonical lowercase UUIDs go to the typed table, as the issue route lowercases what it
 * receives. Any other key (a public id made elsewhere, in capitals) is kept in a plain Map, so the
 * map answers exactly as a Map of strings would.
 */
export class UuidMap {
  /**
   * Eight words a slot, so a slot never straddles a cache line: the key's four, then the value's
   * low and high 32 bits (both 0 marks the slot empty, as values are positive), then two unused.
   */
  #slots: Int32Array;
  #mask: number;
  #typed = 0;
  readonly #other = new Map<string, number>();

  constructor(initialCapacity = 1_024) {
    const capacity = 2 ** Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.#slots = new Int32Array(capacity * SLOT);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#typed + this.#other.size;
  }

  get(key: string): number | undefined {
    const w = wordsOf(key);
    if (!w) return this.#other.get(key);
    const at = this.#find(w[0]!, w[1]!, w[2]!, w[3]!);
    return at < 0 ? undefined : valueAt(this.#slots, at);
  }

  /** `value` must be a positive safe integer (a user id). */
  set(key: string, value: number): void {
    if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`not a user id: ${value}`);
    const w = wordsOf(key);
    if (!w) {
      this.#other.set(key, value);
      return;
    }
    const at = this.#find(w[0]!, w[1]!, w[2]!, w[3]!);
    if (at >= 0) {
      putValue(this.#slots, at, value);
      return;
    }
    if ((this.#typed + 1) * 2 > this.#mask + 1) this.#grow();
    this.#insert(w[0]!, w[1]!, w[2]!, w[3]!, value);
    this.#typed++;
  }

  /** Where the key's slot starts in #slots, or -1. */
  #find(w0: number, w1: number, w2: number, w3: number): number {
    const slots = this.#slots;
    for (let i = hashWords(w0, w1, w2, w3) & this.#mask; ; i = (i + 1) & this.#mask) {
      const at = i * SLOT;
      if (slots[at + 4] === 0 && slots[at + 5] === 0) return -1;
      if (slots[at] === w0 && slots[at + 1] === w1 && slots[at + 2] === w2 && slots[at + 3] === w3) return at;
    }
  }

  /** Puts a key known to be absent into the first free slot of its probe sequence. */
  #insert(w0: number, w1: number, w2: number, w3: number, value: number): void {
    const slots = this.#slots;
    let i = hashWords(w0, w1, w2, w3) & this.#mask;
    while (slots[i * SLOT + 4] !== 0 || slots[i * SLOT + 5] !== 0) i = (i + 1) & this.#mask;
    const at = i * SLOT;
    slots[at] = w0;
    slots[at + 1] = w1;
    slots[at + 2] = w2;
    slots[at + 3] = w3;
    putValue(slots, at, value);
  }

  #grow(): void {
    const old = this.#slots;
    this.#slots = new Int32Array(old.length * 2);
    this.#mask = this.#slots.length / SLOT - 1;
    for (let at = 0; at < old.length; at += SLOT) {
      if (old[at + 4] !== 0 || old[at + 5] !== 0) this.#insert(old[at]!, old[at + 1]!, old[at + 2]!, old[at + 3]!, valueAt(old, at));
    }
  }
}

/**
 * The last key read, and its words: a user the newer generation lacks is looked up in the older
 * one, then remembered, or asked of Redis and then remembered: one key read once, not three times.
 */
let lastKey = '';
const lastWords = new Int32Array(4);
let lastIsUuid = false;

/** The key's words if it is a canonical lowercase UUID, else null (valid until the next call). */
function wordsOf(key: string): Int32Array | null {
  if (key !== lastKey) {
    lastIsUuid = parseUuid(key, lastWords);
    lastKey = key;
  }
  return lastIsUuid ? lastWords : null;
}

const SLOT = 8;
const TWO_32 = 0x1_0000_0000;

function valueAt(slots: Int32Array, at: number): number {
  return (slots[at + 5]! >>> 0) * TWO_32 + (slots[at + 4]! >>> 0);
}

function putValue(slots: Int32Array, at: number, value: number): void {
  slots[at + 4] = value % TWO_32;
  slots[at + 5] = Math.floor(value / TWO_32);
}

/** Each ASCII character's value as a lowercase hex digit, or -1. */
const HEX = new Int8Array(128).fill(-1);
for (let d = 0; d < 10; d++) HEX[48 + d] = d;
for (let d = 0; d < 6; d++) HEX[97 + d] = 10 + d;

/** A lowercase hex digit's value, or -1 (which sets the sign bit of whatever it is ORed into). */
function digit(s: string, at: number): number {
  const c = s.charCodeAt(at);
  return c < 128 ? HEX[c]! : -1;
}

/** Four hex digits from `at`; negative if any is not one. */
function hex4(s: string, at: number): number {
  const a = digit(s, at);
  const b = digit(s, at + 1);
  const c = digit(s, at + 2);
  const d = digit(s, at + 3);
  return (a | b | c | d) < 0 ? -1 : (a << 12) | (b << 8) | (c << 4) | d;
}

/**
 * Reads a canonical lowercase UUID (36 characters, dashes at 8, 13, 18 and 23) into four 32-bit
 * words; false for anything else.
 */
export function parseUuid(s: string, out: Int32Array): boolean {
  if (s.length !== 36 || s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) {
    return false;
  }
  const g0 = hex4(s, 0);
  const g1 = hex4(s, 4);
  const g2 = hex4(s, 9);
  const g3 = hex4(s, 14);
  const g4 = hex4(s, 19);
  const g5 = hex4(s, 24);
  const g6 = hex4(s, 28);
  const g7 = hex4(s, 32);
  if ((g0 | g1 | g2 | g3 | g4 | g5 | g6 | g7) < 0) return false;
  out[0] = (g0 << 16) | g1;
  out[1] = (g2 << 16) | g3;
  out[2] = (g4 << 16) | g5;
  out[3] = (g6 << 16) | g7;
  return true;
}

/** Mixes all four words: UUIDs of other versions than 4 have constant or time-ordered parts. */
function hashWords(w0: number, w1: number, w2: number, w3: number): number {
  let h = Math.imul(w0, 0x9e3779b1) ^ Math.imul(w1, 0x85ebca6b) ^ Math.imul(w2, 0xc2b2ae35) ^ Math.imul(w3, 0x27d4eb2f);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
