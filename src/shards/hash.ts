/**
 * Which shard owns a coupon. A stable hash (the same answer in every process and after every
 * restart), so that with N API processes a coupon is still owned by one thread in each of them,
 * and spread evenly even when coupon ids are sequential.
 */
export function shardOf(couponId: number, shards: number): number {
  // 32-bit finalizer of MurmurHash3: cheap, well mixed for consecutive integers.
  let h = couponId >>> 0;
  h ^= Math.floor(couponId / 0x1_0000_0000) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85eb_ca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2_ae35);
  h ^= h >>> 16;
  return (h >>> 0) % shards;
}
