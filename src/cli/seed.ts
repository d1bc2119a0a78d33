/**
 * `npm run seed -- --users N --stock S`: creates N users in bulk and one coupon with S units,
 * makes both known to admission (Redis), and writes the users' public ids where load tests read
 * them (SEED_USERS_FILE, or --out). Prints the coupon id.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AdmissionScripts } from '../store/scripts.ts';
import { createCoupon } from '../catalog/coupons.ts';
import { createUsers } from '../catalog/users.ts';
import { loadConfig } from '../config.ts';
import { openOrm } from '../store/database/orm.ts';
import { createLogger } from '../log.ts';
import { connectRedis, createRedis } from '../store/redis.ts';
import { cliArgs, intFlag } from './args.ts';

const args = cliArgs({
  users: { type: 'string', default: '1000' },
  stock: { type: 'string', default: '100' },
  name: { type: 'string', default: 'FCFS coupon' },
  'starts-at': { type: 'string' },
  'ends-at': { type: 'string' },
  out: { type: 'string' },
});
const users = intFlag(args.users, 'users', 0, 10_000_000);
const stock = intFlag(args.stock, 'stock', 1, 10_000_000);
const startsAt = args['starts-at'] ? new Date(args['starts-at']) : null;
const endsAt = args['ends-at'] ? new Date(args['ends-at']) : null;

const config = loadConfig();
const out = args.out ?? config.seedUsersFile;
const orm = await openOrm({ databaseUrl: config.databaseUrl, poolMax: 4 });
const redis = createRedis({
  url: config.redisUrl,
  clusterNodes: config.redisClusterNodes,
  name: 'seed',
  logger: createLogger(config.logLevel, 'seed', config.env),
});
await connectRedis(redis);
const scripts = new AdmissionScripts(redis);

const started = Date.now();
const publicIds: string[] = [];
const CHUNK = 5_000;
for (let done = 0; done < users; done += CHUNK) {
  const n = Math.min(CHUNK, users - done);
  const names = Array.from({ length: n }, (_, i) => `user-${done + i + 1}`);
  for (const u of await createUsers(orm, redis, names)) publicIds.push(u.publicId);
  progress(done + n, users, started);
}
if (users > 0) process.stderr.write('\n');

const coupon = await createCoupon({ orm, redis, scripts }, { name: args.name!, totalQuantity: stock, startsAt, endsAt });
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ couponId: coupon.id, stock, publicIds }));
console.error(
  `seeded ${users} users and coupon ${coupon.id} (${stock} units) in ${((Date.now() - started) / 1000).toFixed(1)} s; public ids in ${out}`,
);
console.log(coupon.id);

redis.disconnect();
await orm.close();

function progress(done: number, total: number, since: number): void {
  const width = 30;
  const filled = Math.round((done / total) * width);
  const rate = done / Math.max(0.001, (Date.now() - since) / 1000);
  process.stderr.write(`\rusers [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.round(rate)}/s`);
}
