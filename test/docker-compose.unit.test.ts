/**
 * `docker compose up` cannot run here (no Docker engine), so this checks the compose file, the
 * Dockerfile and the Prometheus/Grafana files against the app's own configuration instead: every
 * variable the containers set is one src/config.ts reads and accepts, and every address in them
 * names a compose service on the port that service really listens on.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.ts';

const root = new URL('../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

type Obj = Record<string, unknown>;

function obj(value: unknown, what: string): Obj {
  assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `${what} must be a mapping`);
  return value as Obj;
}

function list(value: unknown, what: string): unknown[] {
  assert.ok(Array.isArray(value), `${what} must be a list`);
  return value;
}

function text(value: unknown, what: string): string {
  assert.ok(typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean', `${what} must be a scalar`);
  return String(value);
}

/**
 * Compose's variable substitution: $$, $NAME, ${NAME}, ${NAME:-default}, ${NAME-default},
 * ${NAME:?error}, ${NAME?error}, ${NAME:+alt}, ${NAME+alt}. A missing required variable throws, as
 * `docker compose` refuses to start then.
 */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, braced: string | undefined, op: string | undefined, arg: string | undefined, bare: string | undefined) => {
      if (match === '$$') return '$';
      const name = (braced ?? bare)!;
      const raw = env[name];
      const unset = op?.startsWith(':') ? raw === undefined || raw === '' : raw === undefined;
      switch (op) {
        case ':-':
        case '-':
          return unset ? (arg ?? '') : raw!;
        case ':?':
        case '?':
          if (unset) throw new Error(`required variable ${name} is missing a value: ${arg}`);
          return raw!;
        case ':+':
        case '+':
          return unset ? '' : (arg ?? '');
        default:
          return raw ?? '';
      }
    },
  );
}

/** A service's environment (mapping or KEY=VALUE list) with substitutions resolved from `env`. */
function environmentOf(service: Obj, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = service.environment;
  if (raw === undefined) return out;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const line = text(entry, 'environment entry');
      const eq = line.indexOf('=');
      assert.ok(eq > 0, `environment entry "${line}" must be KEY=VALUE`);
      out[line.slice(0, eq)] = interpolate(line.slice(eq + 1), env);
    }
    return out;
  }
  for (const [key, value] of Object.entries(obj(raw, 'environment'))) {
    out[key] = value === null ? '' : interpolate(text(value, `environment ${key}`), env);
  }
  return out;
}

/** Published ports as { published, target } pairs, from the short ("[ip:]host:container[/proto]") or long syntax. */
function portsOf(service: Obj): { published: number; target: number }[] {
  const raw = service.ports;
  if (raw === undefined) return [];
  return list(raw, 'ports').map((entry) => {
    if (typeof entry === 'object' && entry !== null) {
      const long = obj(entry, 'port');
      return { published: Number(long.published), target: Number(long.target) };
    }
    const parts = text(entry, 'port')
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = Number(parts.at(-1));
    const published = parts.length >= 2 ? Number(parts.at(-2)) : Number.NaN;
    return { published, target };
  });
}

function exposedOf(service: Obj): number[] {
  const raw = service.expose;
  if (raw === undefined) return [];
  return list(raw, 'expose').map((p) => Number(text(p, 'expose entry').replace(/\/(tcp|udp)$/, '')));
}

/** Short-syntax bind mounts ("./src:/target[:ro]") and long-syntax ones, as { source, target }. */
function volumesOf(service: Obj): { source: string; target: string }[] {
  const raw = service.volumes;
  if (raw === undefined) return [];
  return list(raw, 'volumes').map((entry) => {
    if (typeof entry === 'object' && entry !== null) {
      const long = obj(entry, 'volume');
      return { source: text(long.source, 'volume source'), target: text(long.target, 'volume target') };
    }
    const [source = '', target = ''] = text(entry, 'volume').split(':');
    return { source, target };
  });
}

/** A command as its words, whether written as a list or as one string. */
function commandOf(service: Obj): string[] {
  const raw = service.command;
  if (raw === undefined) return [];
  if (Array.isArray(raw)) return raw.map((w) => text(w, 'command word'));
  return text(raw, 'command').trim().split(/\s+/);
}

/** "NAME://host:port,NAME2://:port" to a map of listener name to { host, port }. */
function listeners(value: string): Map<string, { host: string; port: number }> {
  const out = new Map<string, { host: string; port: number }>();
  for (const item of value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([A-Z_]+):\/\/([^:]*):(\d+)$/.exec(item);
    assert.ok(m, `listener "${item}" must be NAME://host:port`);
    out.set(m[1]!, { host: m[2]!, port: Number(m[3]) });
  }
  return out;
}

function dependsOn(service: Obj, name: string): string | undefined {
  const raw = service.depends_on;
  if (raw === undefined) return undefined;
  if (Array.isArray(raw)) return raw.includes(name) ? 'service_started' : undefined;
  const entry = obj(raw, 'depends_on')[name];
  if (entry === undefined) return undefined;
  return text(obj(entry, `depends_on ${name}`).condition ?? 'service_started', 'condition');
}

// Compose merges `<<: *anchor` keys (YAML 1.1); YAML 1.2, the parser's default, does not.
const compose = obj(parse(read('docker-compose.yml'), { merge: true }), 'docker-compose.yml');
const services = obj(compose.services, 'services');
const service = (name: string): Obj => obj(services[name], `service ${name}`);

// What the person running `docker compose up` provides. ADMIN_TOKEN is required by the file.
const HOST_ENV = { ADMIN_TOKEN: 'a-secret-admin-token-for-compose' };

/** The variable names src/config.ts reads, taken from its source so a new one is picked up. */
const configNames = new Set(
  [...read('src/config.ts').matchAll(/\b(?:str|int|bool|url|hostPorts)\(\s*env,\s*'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!),
);

const defaults = loadConfig({});

describe('docker-compose.yml', () => {
  it('defines the whole system plus Grafana', () => {
    for (const name of ['mysql', 'redis', 'kafka', 'kafka-init', 'app', 'prometheus', 'grafana']) {
      assert.ok(name in services, `service ${name} is missing`);
    }
  });

  it('reads the config variable names from src/config.ts', () => {
    // Guards the regular expression: if it stopped matching, the checks below would be empty.
    for (const name of ['PORT', 'HOST', 'NODE_ENV', 'ADMIN_TOKEN', 'REDIS_URL', 'DATABASE_URL', 'KAFKA_BROKERS', 'CONSUMER_METRICS_PORT']) {
      assert.ok(configNames.has(name), `expected src/config.ts to read ${name}`);
    }
  });

  for (const name of ['app', 'kafka-init']) {
    it(`${name}: sets only variables the app reads, and loadConfig accepts them`, () => {
      const env = environmentOf(service(name), HOST_ENV);
      assert.ok(Object.keys(env).length > 0, `${name} sets no environment`);
      for (const key of Object.keys(env)) {
        assert.ok(configNames.has(key), `${name} sets ${key}, which src/config.ts does not read`);
      }
      const config = loadConfig(env);
      assert.equal(config.env, 'production');
      assert.equal(config.adminTokenIsDefault, false);
    });

    it(`${name}: cannot start without ADMIN_TOKEN`, () => {
      // Production refuses the development token; compose must refuse before that, with a message.
      assert.throws(() => loadConfig({ ...environmentOf(service(name), HOST_ENV), ADMIN_TOKEN: '' }), /ADMIN_TOKEN/);
      assert.throws(() => environmentOf(service(name), {}), /required variable ADMIN_TOKEN/);
    });

    it(`${name}: topic settings, if set, are the app's defaults`, () => {
      const config = loadConfig(environmentOf(service(name), HOST_ENV));
      assert.equal(config.kafka.topic, defaults.kafka.topic);
      assert.equal(config.kafka.deadLetterTopic, defaults.kafka.deadLetterTopic);
      assert.equal(config.kafka.partitions, defaults.kafka.partitions);
      assert.equal(config.kafka.consumerGroup, defaults.kafka.consumerGroup);
    });

    it(`${name}: runs the image built from the Dockerfile`, () => {
      const svc = service(name);
      assert.ok(svc.build !== undefined, `${name} must build the app image`);
      assert.equal(svc.image, service('app').image, 'app and kafka-init must share one image');
    });
  }

  it('app listens on all interfaces and publishes the API and consumer metrics ports', () => {
    const app = service('app');
    const config = loadConfig(environmentOf(app, HOST_ENV));
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, defaults.port);
    assert.equal(config.port, 8080);
    assert.equal(config.consumerMetricsPort, defaults.consumerMetricsPort);
    assert.equal(config.consumerMetricsPort, 9464);
    const ports = portsOf(app);
    assert.ok(
      ports.some((p) => p.target === config.port && p.published === config.port),
      'app must publish 8080:8080',
    );
    assert.ok(
      ports.some((p) => p.target === config.consumerMetricsPort && p.published === config.consumerMetricsPort),
      'app must publish 9464:9464',
    );
  });

  it('app reaches Redis at the redis service, which runs AOF with fsync every second', () => {
    const app = service('app');
    const redisUrl = new URL(loadConfig(environmentOf(app, HOST_ENV)).redisUrl);
    assert.equal(redisUrl.hostname, 'redis');
    assert.equal(redisUrl.port || '6379', '6379');
    const redis = service('redis');
    assert.ok(exposedOf(redis).includes(6379), 'redis must expose 6379');
    const command = commandOf(redis);
    const portFlag = command.indexOf('--port');
    if (portFlag >= 0) assert.equal(command[portFlag + 1], '6379');
    assert.equal(command[command.indexOf('--appendonly') + 1], 'yes', 'redis must run with --appendonly yes');
    assert.ok(command.includes('--appendonly'));
    assert.equal(command[command.indexOf('--appendfsync') + 1], 'always', 'redis must run with --appendfsync always');
    assert.ok(command.includes('--appendfsync'));
    assert.equal(command[command.indexOf('--save') + 1], '', 'redis must run without RDB snapshots (--save "")');
    assert.ok(command.includes('--save'));
    assert.equal(dependsOn(app, 'redis'), 'service_healthy');
    assert.ok(redis.healthcheck !== undefined, 'redis needs a healthcheck for depends_on');
  });

  it('app reaches MySQL at the mysql service, with the database and user it creates', () => {
    const app = service('app');
    const dbUrl = new URL(loadConfig(environmentOf(app, HOST_ENV)).databaseUrl);
    assert.equal(dbUrl.hostname, 'mysql');
    assert.equal(dbUrl.port || '3306', '3306');
    const mysql = service('mysql');
    assert.ok(exposedOf(mysql).includes(3306), 'mysql must expose 3306');
    const mysqlEnv = environmentOf(mysql, HOST_ENV);
    assert.equal(dbUrl.pathname, `/${mysqlEnv.MYSQL_DATABASE}`);
    assert.equal(decodeURIComponent(dbUrl.username), mysqlEnv.MYSQL_USER);
    assert.equal(decodeURIComponent(dbUrl.password), mysqlEnv.MYSQL_PASSWORD);
    assert.equal(dependsOn(app, 'mysql'), 'service_healthy');
    assert.ok(mysql.healthcheck !== undefined, 'mysql needs a healthcheck for depends_on');
  });

  it('app and kafka-init reach Kafka on its internal listener, after the topics exist', () => {
    const kafkaEnv = environmentOf(service('kafka'), HOST_ENV);
    const bound = listeners(kafkaEnv.KAFKA_LISTENERS ?? '');
    const advertised = listeners(kafkaEnv.KAFKA_ADVERTISED_LISTENERS ?? '');
    for (const name of ['app', 'kafka-init']) {
      const brokers = loadConfig(environmentOf(service(name), HOST_ENV)).kafka.brokers;
      assert.deepEqual(brokers, ['kafka:9092'], `${name} must use the kafka service's internal listener`);
      for (const broker of brokers) {
        const [host, port] = broker.split(':');
        const listener = [...advertised.values()].find((l) => l.host === host && String(l.port) === port);
        assert.ok(listener, `kafka advertises no listener at ${broker}`);
        assert.ok(
          [...bound.values()].some((l) => l.port === listener.port),
          `kafka listens on no port ${port}`,
        );
      }
    }
    assert.ok(exposedOf(service('kafka')).includes(9092), 'kafka must expose 9092');
    assert.equal(dependsOn(service('kafka-init'), 'kafka'), 'service_healthy');
    assert.equal(dependsOn(service('app'), 'kafka-init'), 'service_completed_successfully');
    assert.ok(commandOf(service('kafka-init')).includes('src/cli/create-topics.ts'));
  });

  it('kafka advertises kafka:9092 to containers and localhost:9093 to the host', () => {
    const kafka = service('kafka');
    const env = environmentOf(kafka, HOST_ENV);
    const bound = listeners(env.KAFKA_LISTENERS ?? '');
    const advertised = listeners(env.KAFKA_ADVERTISED_LISTENERS ?? '');
    const hosts = [...advertised.values()].map((l) => `${l.host}:${l.port}`).sort();
    assert.deepEqual(hosts, ['kafka:9092', 'localhost:9093']);
    // Each advertised listener must be a bound one on the same port, with a security protocol.
    const protocols = new Set((env.KAFKA_LISTENER_SECURITY_PROTOCOL_MAP ?? '').split(',').map((p) => p.split(':')[0]));
    for (const [name, l] of advertised) {
      assert.equal(bound.get(name)?.port, l.port, `advertised listener ${name} is not bound on port ${l.port}`);
      assert.ok(protocols.has(name), `listener ${name} has no security protocol`);
    }
    const controller = env.KAFKA_CONTROLLER_LISTENER_NAMES ?? '';
    assert.ok(bound.has(controller), 'the controller listener must be bound');
    assert.ok(!advertised.has(controller), 'the controller listener is not for clients');
    assert.ok(
      portsOf(kafka).some((p) => p.published === 9093 && p.target === 9093),
      'kafka must publish 9093:9093',
    );
    assert.ok(!portsOf(kafka).some((p) => p.target === 9092), 'the internal listener advertises "kafka", useless from the host');
    assert.equal(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
    assert.equal(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '1');
    assert.ok(kafka.healthcheck !== undefined, 'kafka needs a healthcheck for depends_on');
  });

  it('prometheus mounts ./prometheus and its docker config scrapes the app and the consumer', () => {
    const prometheus = service('prometheus');
    const mount = volumesOf(prometheus).find((v) => v.source.replace(/\/$/, '') === './prometheus');
    assert.ok(mount, 'prometheus must mount ./prometheus');
    const configFlag = commandOf(prometheus).find((w) => w.startsWith('--config.file='));
    assert.equal(configFlag, `--config.file=${mount.target.replace(/\/$/, '')}/prometheus.docker.yml`);

    const dockerConfig = obj(parse(read('prometheus/prometheus.docker.yml')), 'prometheus.docker.yml');
    const localConfig = obj(parse(read('prometheus/prometheus.yml')), 'prometheus.yml');
    assert.deepEqual(dockerConfig.rule_files, localConfig.rule_files);
    const targets = (config: Obj, job: string): string[] => {
      const scrape = list(config.scrape_configs, 'scrape_configs').map((s) => obj(s, 'scrape config'));
      const found = scrape.find((s) => s.job_name === job);
      assert.ok(found, `no scrape job ${job}`);
      return list(found.static_configs, 'static_configs').flatMap((s) =>
        list(obj(s, 'static config').targets, 'targets').map((t) => text(t, 'target')),
      );
    };
    const config = loadConfig(environmentOf(service('app'), HOST_ENV));
    assert.deepEqual(targets(dockerConfig, 'coupon-api'), [`app:${config.port}`]);
    assert.deepEqual(targets(dockerConfig, 'coupon-consumer'), [`app:${config.consumerMetricsPort}`]);
    // Same jobs as the local config, so the alert rules (which select by job) apply unchanged.
    const jobs = (c: Obj): string[] =>
      list(c.scrape_configs, 'scrape_configs')
        .map((s) => text(obj(s, 'scrape config').job_name, 'job_name'))
        .sort();
    assert.deepEqual(jobs(dockerConfig), jobs(localConfig));
    assert.ok(
      portsOf(prometheus).some((p) => p.published === 9090 && p.target === 9090),
      'prometheus must publish 9090',
    );
  });

  it('grafana mounts the provisioning and the dashboards the provider loads', () => {
    const grafana = service('grafana');
    const volumes = volumesOf(grafana);
    const provisioning = volumes.find((v) => v.source.replace(/\/$/, '') === './dashboards/provisioning');
    assert.ok(provisioning, 'grafana must mount ./dashboards/provisioning');
    assert.equal(provisioning.target, '/etc/grafana/provisioning');
    const dashboards = volumes.find((v) => v.source.replace(/\/$/, '') === './dashboards');
    assert.ok(dashboards, 'grafana must mount ./dashboards');

    const providers = obj(parse(read('dashboards/provisioning/dashboards/dashboards.yml')), 'dashboards.yml');
    const provider = obj(list(providers.providers, 'providers')[0], 'provider');
    assert.equal(provider.type, 'file');
    assert.equal(obj(provider.options, 'provider options').path, dashboards.target);
    assert.equal(provider.folder, 'FCFS coupons');

    const datasources = obj(parse(read('dashboards/provisioning/datasources/prometheus.yml')), 'datasource file');
    const ds = obj(list(datasources.datasources, 'datasources')[0], 'datasource');
    assert.equal(ds.uid, 'prometheus');
    assert.equal(ds.isDefault, true);
    const dsUrl = new URL(text(ds.url, 'datasource url'));
    assert.ok(dsUrl.hostname in services, `datasource points at ${dsUrl.hostname}, not a compose service`);
    assert.equal(dsUrl.hostname, 'prometheus');
    assert.ok(
      portsOf(service('prometheus')).some((p) => p.target === Number(dsUrl.port)),
      'datasource port is not the one prometheus serves',
    );
    assert.equal(environmentOf(grafana, HOST_ENV).GF_AUTH_ANONYMOUS_ENABLED, 'true');
  });

  it('keeps data in named volumes', () => {
    const named = Object.keys(obj(compose.volumes, 'volumes'));
    for (const [name, dir] of [
      ['mysql', '/var/lib/mysql'],
      ['redis', '/data'],
      ['kafka', undefined],
      ['prometheus', '/prometheus'],
      ['grafana', '/var/lib/grafana'],
    ] as const) {
      const volume = volumesOf(service(name)).find((v) => named.includes(v.source));
      assert.ok(volume, `${name} keeps no data in a named volume`);
      if (dir) assert.equal(volume.target, dir);
    }
    const kafkaData = volumesOf(service('kafka')).find((v) => named.includes(v.source));
    assert.equal(kafkaData?.target, environmentOf(service('kafka'), HOST_ENV).KAFKA_LOG_DIRS);
  });
});

/** What infra/compose.cluster.env sets (`docker compose --env-file infra/compose.cluster.env up`). */
function clusterEnvFile(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read('infra/compose.cluster.env').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('docker-compose.yml, the cluster profile', () => {
  const CLUSTER_ENV: Record<string, string> = { ...HOST_ENV, ...clusterEnvFile() };
  const profiled = Object.entries(services)
    .filter(([, svc]) => {
      const profiles = obj(svc, 'service').profiles;
      return Array.isArray(profiles) && profiles.includes('cluster');
    })
    .map(([name]) => name)
    .sort();

  it('the env file turns the profile on, and only the cluster services are in it', () => {
    assert.equal(CLUSTER_ENV.COMPOSE_PROFILES, 'cluster');
    assert.deepEqual(profiled, [
      'kafka-1',
      'kafka-2',
      'kafka-3',
      'redis-cluster-create',
      'redis-node-1',
      'redis-node-2',
      'redis-node-3',
      'redis-node-4',
      'redis-node-5',
      'redis-node-6',
    ]);
  });

  it('without the env file, the app is the single stack one (no cluster, one replica)', () => {
    const config = loadConfig(environmentOf(service('app'), HOST_ENV));
    assert.deepEqual(config.redisClusterNodes, []);
    assert.deepEqual(config.kafka.brokers, ['kafka:9092']);
  });

  it('app reaches the Redis Cluster at nodes that are cluster-enabled, AOF-fsynced and announce their service name', () => {
    const config = loadConfig(environmentOf(service('app'), CLUSTER_ENV));
    assert.ok(config.redisClusterNodes.length >= 2, 'more than one seed node, so one may be down at start');
    for (const node of config.redisClusterNodes) {
      const [host, port] = node.split(':');
      assert.ok(profiled.includes(host!), `${node} is not a service of the profile`);
      const command = commandOf(service(host!));
      const flag = (name: string) => command[command.indexOf(name) + 1];
      assert.equal(flag('--cluster-enabled'), 'yes');
      assert.equal(flag('--appendfsync'), 'always');
      assert.ok(command.includes('--save') && flag('--save') === '', 'no RDB snapshots');
      assert.equal(flag('--cluster-announce-hostname'), host, 'clients are handed the service name');
      assert.equal(flag('--cluster-preferred-endpoint-type'), 'hostname');
      assert.ok(exposedOf(service(host!)).includes(Number(port)));
    }
    assert.equal(dependsOn(service('app'), 'redis-cluster-create'), 'service_completed_successfully');
  });

  it('redis-cluster-create joins all six nodes as three masters with a replica each', () => {
    const script = commandOf(service('redis-cluster-create')).join(' ');
    const nodes = Array.from({ length: 6 }, (_, i) => `redis-node-${i + 1}`);
    for (const node of nodes) {
      assert.ok(script.includes(`${node}:6379`), `${node} is not joined`);
      assert.equal(dependsOn(service('redis-cluster-create'), node), 'service_healthy');
    }
    assert.match(script, /--cluster-replicas 1/);
    assert.match(script, /cluster_state:ok/, 'it waits until the cluster serves every slot');
  });

  it('app and kafka-init reach three brokers that form one quorum, and create the topics replicated', () => {
    const voters = new Set<string>();
    const ids = new Set<string>();
    for (const name of ['app', 'kafka-init']) {
      const config = loadConfig(environmentOf(service(name), CLUSTER_ENV));
      assert.equal(config.kafka.brokers.length, 3);
      assert.equal(config.kafka.replicationFactor, 3);
      assert.equal(config.kafka.minInsyncReplicas, 2);
      for (const broker of config.kafka.brokers) {
        const [host, port] = broker.split(':');
        assert.ok(profiled.includes(host!), `${broker} is not a service of the profile`);
        const env = environmentOf(service(host!), CLUSTER_ENV);
        const advertised = listeners(env.KAFKA_ADVERTISED_LISTENERS ?? '');
        assert.ok(
          [...advertised.values()].some((l) => l.host === host && String(l.port) === port),
          `${host} does not advertise ${broker}`,
        );
        voters.add(env.KAFKA_CONTROLLER_QUORUM_VOTERS ?? '');
        ids.add(env.KAFKA_NODE_ID ?? '');
        assert.equal(env.KAFKA_MIN_INSYNC_REPLICAS, '2');
        assert.equal(env.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR, '3');
        assert.equal(env.KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE, 'false');
      }
    }
    assert.equal(voters.size, 1, 'every broker names the same quorum');
    assert.equal(ids.size, 3, 'three distinct node ids');
    for (const broker of ['kafka-1', 'kafka-2', 'kafka-3']) assert.equal(dependsOn(service('kafka-init'), broker), 'service_healthy');
  });

  it('a dependency on a cluster service is optional, so the default stack starts without the profile', () => {
    for (const [name, svc] of Object.entries(services)) {
      if (profiled.includes(name)) continue;
      const deps = obj(svc, 'service').depends_on;
      if (deps === undefined || Array.isArray(deps)) continue;
      for (const [dep, entry] of Object.entries(obj(deps, 'depends_on'))) {
        if (profiled.includes(dep)) assert.equal(obj(entry, dep).required, false, `${name} requires ${dep} of the cluster profile`);
      }
    }
  });

  it("keeps every node's data in a named volume", () => {
    const named = Object.keys(obj(compose.volumes, 'volumes'));
    for (const name of profiled.filter((n) => n !== 'redis-cluster-create')) {
      assert.ok(
        volumesOf(service(name)).some((v) => named.includes(v.source)),
        `${name} keeps no data in a named volume`,
      );
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = (keyword: string): string[] =>
    instructions.filter((l) => l.toUpperCase().startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1).trim());

  it('builds on Node 24', () => {
    const froms = args('FROM');
    assert.ok(froms.length >= 2, 'expected a multi-stage build');
    const stages = new Set(froms.map((f) => /\bAS\s+(\S+)/i.exec(f)?.[1]).filter(Boolean));
    for (const from of froms) {
      const image = from.split(/\s+/).find((w) => !w.startsWith('--'))!;
      if (stages.has(image)) continue;
      assert.match(image, /^node:24(?:$|[.-])/, `base image ${image} is not Node 24`);
    }
  });

  it('exposes and serves what the config and compose expect', () => {
    const exposed = args('EXPOSE')
      .flatMap((e) => e.split(/\s+/))
      .map(Number);
    assert.ok(exposed.includes(defaults.port), `EXPOSE lacks ${defaults.port}`);
    assert.ok(exposed.includes(defaults.consumerMetricsPort), `EXPOSE lacks ${defaults.consumerMetricsPort}`);
    assert.deepEqual(args('USER'), ['node']);
    const cmd = JSON.parse(args('CMD').at(-1) ?? 'null') as unknown;
    assert.ok(Array.isArray(cmd) && cmd[0] === 'node' && cmd.at(-1) === 'src/cli/start.ts', 'CMD must run src/cli/start.ts');
    assert.match(args('HEALTHCHECK').join(' '), /\/health\/live/);
    assert.ok(existsSync(new URL('src/cli/start.ts', root)));
    const env = args('ENV').join(' ');
    assert.match(env, /\bNODE_ENV=production\b/);
    assert.match(env, /\bHOST=0\.0\.0\.0\b/);
    // Production dependencies only, kafkajs patched on the way (postinstall applies patches/).
    assert.match(args('RUN').join('\n'), /npm ci\b.*&& npm prune --omit=dev/);
    assert.ok(
      args('COPY').some((c) => /^patches\b/.test(c)),
      'patches/ must be in the deps stage before npm ci',
    );
  });

  it('leaves the tooling, the tests and the docs out of the image', () => {
    const copied = args('COPY')
      .filter((c) => !/^--from\b/.test(c))
      .flatMap((c) =>
        c
          .split(/\s+/)
          .filter((w) => !w.startsWith('--'))
          .slice(0, -1),
      );
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const dir of ['tools', 'bench', 'k6', 'test', 'docs']) {
      assert.ok(!copied.some((p) => p === dir || p.startsWith(`${dir}/`) || p === '.'), `the Dockerfile copies ${dir}/`);
      assert.ok(ignored.includes(dir), `.dockerignore does not leave out ${dir}/`);
    }
    assert.ok(copied.includes('src') && copied.includes('workers'), `the image needs src/ and workers/: ${copied.join(' ')}`);
  });
});
