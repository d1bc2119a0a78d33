/**
 * No Kubernetes runs here, so this checks deploy/k8s the two ways that can be done offline:
 * every object against the Kubernetes API schemas, strictly (an unknown field fails, as the API
 * server's strict field validation would), with kubernetes-validate (PyPI, pinned in
 * infra/install.sh, in .data/venv/kubernetes-validate; it ships the schemas of each Kubernetes
 * version inside the package); and the objects against the app itself: the probes hit the paths
 * and ports the processes serve, the stop fits the shutdown bounds, every variable is one
 * src/config.ts reads and accepts, every command is a script that exists.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { loadConfig, VARIABLES } from '../../src/config.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DIR = join(ROOT, 'deploy/k8s');
const VALIDATOR = join(ROOT, '.data/venv/kubernetes-validate/bin/kubernetes-validate');
/**
 * The oldest version the manifests are for (the preStop `sleep` action is on by default from
 * 1.30) and the newest whose schemas the pinned kubernetes-validate ships.
 */
const KUBERNETES_VERSIONS = ['1.30', '1.37'];

/** start.ts gives the API's shutdown this long before it exits anyway (s). */
const API_SHUTDOWN_BOUND_S = 25;
/** consumer.ts gives its shutdown this long (s). */
const CONSUMER_SHUTDOWN_BOUND_S = 20;

/**
 * What the manifests already use and other parts of issue 17 add to the app: variables
 * src/config.ts does not read yet, and scripts not written yet. The last test fails once one of
 * them lands, so that it is then checked like the rest: remove it from here.
 */
const PENDING_VARIABLES = new Set<string>([]);
const PENDING_SCRIPTS = new Set<string>([]);

// --- the manifests ------------------------------------------------------------------------------

interface Probe {
  httpGet?: { path?: string; port: number | string };
  tcpSocket?: { port: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { sleep?: { seconds: number }; exec?: { command: string[] } } };
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean };
}

interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    restartPolicy?: string;
    terminationGracePeriodSeconds?: number;
    securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  };
}

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  resources?: string[];
}

interface Workload extends Resource {
  spec: { replicas?: number; selector?: { matchLabels: Record<string, string> }; template: PodTemplate; backoffLimit?: number };
}

interface Loaded {
  file: string;
  resource: Resource;
}

function loadFile(file: string): Resource[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  assert.ok(Array.isArray(docs), `${file}: no YAML documents`);
  return docs.map((doc, i) => {
    assert.deepEqual(doc.errors, [], `${file}, document ${i + 1}: YAML errors`);
    const value = doc.toJS() as Resource;
    assert.ok(value && typeof value === 'object', `${file}, document ${i + 1} is empty`);
    return value;
  });
}

const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
  .sort();
const loaded: Loaded[] = files.flatMap((file) => loadFile(file).map((resource) => ({ file, resource })));
const kustomization = loaded.find((l) => l.resource.kind === 'Kustomization');
/** Every Kubernetes object in the folder, the example Secret included. */
const objects = loaded.filter((l) => l.resource.kind !== 'Kustomization');
/** What `kubectl apply -k deploy/k8s` applies. */
const applied = objects.filter((l) => kustomization?.resource.resources?.includes(l.file));

function find<T extends Resource = Resource>(kind: string, name: string, from: Loaded[] = applied): T {
  const hit = from.find((l) => l.resource.kind === kind && l.resource.metadata.name === name);
  assert.ok(hit, `${kind} ${name} is missing`);
  return hit.resource as T;
}

const api = find<Workload>('Deployment', 'fcfs-coupons-api');
const consumer = find<Workload>('Deployment', 'fcfs-coupons-consumer');
const setup = find<Workload>('Job', 'fcfs-coupons-setup');
const workloads = [api, consumer, setup];
const exampleSecret = find('Secret', 'fcfs-coupons', objects);

const containersOf = (w: Workload): Container[] => [...(w.spec.template.spec.initContainers ?? []), ...w.spec.template.spec.containers];
const only = (w: Workload): Container => {
  assert.equal(w.spec.template.spec.containers.length, 1, `${w.metadata.name} must run one container`);
  return w.spec.template.spec.containers[0]!;
};

/** The variables a container gets: its ConfigMaps', then its own, Secrets filled from the example. */
function environmentOf(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of container.envFrom ?? []) {
    assert.ok(source.configMapRef, `${container.name}: only ConfigMaps may be imported whole`);
    Object.assign(env, find('ConfigMap', source.configMapRef.name).data ?? {});
  }
  for (const variable of container.env ?? []) {
    const secret = variable.valueFrom?.secretKeyRef;
    if (secret) {
      assert.equal(secret.name, exampleSecret.metadata.name, `${container.name}: ${variable.name} names an unknown Secret`);
      const value = exampleSecret.stringData?.[secret.key];
      assert.ok(value !== undefined, `${container.name}: ${variable.name} reads key ${secret.key}, which secret.example.yaml lacks`);
      env[variable.name] = value;
    } else {
      assert.ok(variable.value !== undefined, `${container.name}: ${variable.name} must have a value or a Secret key`);
      env[variable.name] = variable.value;
    }
  }
  return env;
}

const envVar = (container: Container, name: string): EnvVar | undefined => container.env?.find((e) => e.name === name);

function portOf(container: Container, port: number | string | undefined): number {
  if (typeof port === 'number') return port;
  const named = container.ports?.find((p) => p.name === port);
  assert.ok(named, `${container.name}: no container port named ${port}`);
  return named.containerPort;
}

const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

/** The script a container runs with node, as a path from the repository root. */
function scriptOf(container: Container): string {
  const argv = [...(container.command ?? []), ...(container.args ?? [])];
  assert.equal(argv[0], 'node', `${container.name} must run node`);
  const script = argv.slice(1).find((a) => !a.startsWith('-'));
  assert.ok(script, `${container.name} names no script`);
  return script;
}

/** CPUs in a Kubernetes quantity ("2", "500m"). */
function cpus(quantity: string | undefined): number {
  assert.ok(quantity, 'CPU quantity missing');
  return quantity.endsWith('m') ? Number(quantity.slice(0, -1)) / 1000 : Number(quantity);
}

/** The variable names src/config.ts reads, taken from its source so a new one is picked up. */
const configNames = new Set<string>(Object.keys(VARIABLES));

interface Relabel {
  source_labels?: string[];
  separator?: string;
  regex?: string;
  target_label?: string;
  replacement?: string;
  action?: string;
}

/** The labels Prometheus's Kubernetes pod discovery gives a pod made from this template (the ones used here). */
function podDiscoveryLabels(template: PodTemplate): Record<string, string> {
  const sanitize = (name: string) => name.replace(/[^a-zA-Z0-9_]/g, '_');
  const labels: Record<string, string> = {
    __metrics_path__: '/metrics',
    __meta_kubernetes_namespace: 'coupons',
    __meta_kubernetes_pod_name: 'pod-0',
  };
  for (const [k, v] of Object.entries(template.metadata.labels)) labels[`__meta_kubernetes_pod_label_${sanitize(k)}`] = v;
  for (const [k, v] of Object.entries(template.metadata.annotations ?? {})) labels[`__meta_kubernetes_pod_annotation_${sanitize(k)}`] = v;
  return labels;
}

/** Prometheus's relabelling, the keep, drop and replace actions: the target's labels, or undefined when dropped. */
function relabel(input: Record<string, string>, rules: Relabel[]): Record<string, string> | undefined {
  const labels = { ...input };
  for (const rule of rules) {
    const value = (rule.source_labels ?? []).map((l) => labels[l] ?? '').join(rule.separator ?? ';');
    const match = new RegExp(`^(?:${rule.regex ?? '(.*)'})$`).exec(value);
    const action = rule.action ?? 'replace';
    if (action === 'keep' && !match) return undefined;
    if (action === 'drop' && match) return undefined;
    if (action === 'replace' && match && rule.target_label) {
      labels[rule.target_label] = (rule.replacement ?? '$1').replace(/\$(\d+)/g, (_, i: string) => match[Number(i)] ?? '');
    }
    assert.ok(['keep', 'drop', 'replace'].includes(action), `relabel action ${action} is not modelled here`);
  }
  return labels;
}

// --- the validator ------------------------------------------------------------------------------

interface Validation {
  ok: boolean;
  /** "kind/name" of every object that passed. */
  passed: string[];
  /** The validator's ERROR and WARN lines, or why it did not run. */
  problems: string[];
}

/**
 * Strict validation of the files against one Kubernetes version. The tool only warns (and exits
 * 0) about a kind it has no schema for, a misspelt kind or apiVersion included: here that fails.
 */
function validate(paths: string[], version: string): Validation {
  assert.ok(existsSync(VALIDATOR), `${VALIDATOR} is missing: run infra/install.sh (it installs kubernetes-validate into .data/venv)`);
  const run = spawnSync(VALIDATOR, ['--strict', '--kubernetes-version', version, ...paths], { encoding: 'utf8', timeout: 120_000 });
  const lines = `${run.stdout ?? ''}\n${run.stderr ?? ''}`
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const passed = lines.flatMap((l) => /^INFO .* passed for resource (\S+) against version/.exec(l)?.[1] ?? []);
  const problems = lines.filter((l) => !l.startsWith('INFO'));
  if (run.error) problems.push(String(run.error));
  if (run.status !== 0 && problems.length === 0) problems.push(`exit status ${run.status}, signal ${run.signal}`);
  return { ok: run.status === 0 && problems.length === 0, passed, problems };
}

const scratch = mkdtempSync(join(tmpdir(), 'k8s-manifests-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeScratch(name: string, resource: unknown): string {
  const path = join(scratch, name);
  writeFileSync(path, stringify(resource));
  return path;
}

// --- the tests ----------------------------------------------------------------------------------

describe('deploy/k8s', () => {
  it('the kustomization applies every manifest as it is, the example Secret excepted', () => {
    assert.ok(kustomization, 'kustomization.yaml is missing');
    assert.equal(kustomization.file, 'kustomization.yaml');
    // Nothing but a list of files: then what kubectl applies is exactly what is validated here.
    assert.deepEqual(Object.keys(kustomization.resource).sort(), ['apiVersion', 'kind', 'resources']);
    const expected = files.filter((f) => f !== 'kustomization.yaml' && !f.includes('.example.'));
    assert.deepEqual([...(kustomization.resource.resources ?? [])].sort(), expected);
    assert.ok(!kustomization.resource.resources?.includes('secret.example.yaml'), 'applying the base must never overwrite the real Secret');
    assert.ok(!applied.some((l) => l.resource.kind === 'Secret'), 'no Secret may be applied by the base');
  });

  for (const version of KUBERNETES_VERSIONS) {
    it(`every object passes strict schema validation for Kubernetes ${version}`, () => {
      const result = validate([...new Set(objects.map((l) => join(DIR, l.file)))], version);
      assert.deepEqual(result.problems, []);
      assert.ok(result.ok);
      const expected = objects.map((l) => `${l.resource.kind.toLowerCase()}/${l.resource.metadata.name}`);
      assert.deepEqual(result.passed.sort(), expected.sort(), 'every object must have been validated');
    });
  }

  it('the validation fails on a broken manifest: an unknown field, a wrong type, a misspelt kind', () => {
    const version = KUBERNETES_VERSIONS.at(-1)!;
    const broken = structuredClone(api);
    const probe = broken.spec.template.spec.containers[0]!.readinessProbe!;
    delete probe.httpGet!.path;
    (probe.httpGet as Record<string, unknown>).pth = '/health/ready';
    const unknownField = validate([writeScratch('unknown-field.yaml', broken)], version);
    assert.equal(unknownField.ok, false);
    assert.match(
      unknownField.problems.join('\n'),
      /readinessProbe\.httpGet: Additional properties are not allowed \('pth' was unexpected\)/,
    );

    const wrongType = structuredClone(api) as unknown as { spec: { template: { spec: Record<string, unknown> } } };
    wrongType.spec.template.spec.terminationGracePeriodSeconds = '45s';
    const typed = validate([writeScratch('wrong-type.yaml', wrongType)], version);
    assert.equal(typed.ok, false);
    assert.match(typed.problems.join('\n'), /terminationGracePeriodSeconds: '45s' is not of type 'integer'/);

    const misspelt = validate([writeScratch('misspelt-kind.yaml', { ...api, kind: 'Deploymnet' })], version);
    assert.equal(misspelt.ok, false);
    assert.match(misspelt.problems.join('\n'), /Deploymnet/);
  });

  describe('API', () => {
    const container = only(api);
    const env = environmentOf(container);
    const config = loadConfig(env);

    it('runs the API alone, in production, with its token and database from the Secret', () => {
      assert.equal(scriptOf(container), 'src/cli/start.ts');
      assert.equal(envVar(container, 'START_CONSUMER')?.value, 'false', 'the consumers run as their own Deployment');
      assert.equal(config.startConsumer, false);
      assert.equal(envVar(container, 'NODE_ENV')?.value, 'production');
      assert.equal(config.env, 'production');
      for (const name of ['ADMIN_TOKEN', 'DATABASE_URL']) {
        assert.ok(envVar(container, name)?.valueFrom?.secretKeyRef, `${name} must come from the Secret`);
      }
      assert.ok(
        container.envFrom?.some((s) => s.configMapRef?.name === 'fcfs-coupons'),
        'the rest comes from the ConfigMap',
      );
      assert.equal(config.host, '0.0.0.0', 'on loopback neither the probes nor the Service reach it');
    });

    it('probes /health/live and /health/ready on the port the API listens on, 8080', () => {
      assert.equal(config.port, 8080);
      assert.deepEqual(
        container.ports?.map((p) => p.containerPort),
        [8080],
      );
      for (const [probe, path] of [
        [container.livenessProbe, '/health/live'],
        [container.startupProbe, '/health/live'],
        [container.readinessProbe, '/health/ready'],
      ] as const) {
        assert.ok(probe?.httpGet, `an HTTP probe on ${path} is missing`);
        assert.equal(probe.httpGet.path, path);
        assert.equal(portOf(container, probe.httpGet.port), config.port);
      }
    });

    it('a Service on 8080 sends to the API pods, and only to them', () => {
      const service = find('Service', 'fcfs-coupons-api') as Resource & {
        spec: { selector: Record<string, string>; ports: { port: number; targetPort: number | string }[] };
      };
      assert.ok(selects(service.spec.selector, api.spec.template.metadata.labels));
      assert.ok(!selects(service.spec.selector, consumer.spec.template.metadata.labels));
      assert.ok(!selects(service.spec.selector, setup.spec.template.metadata.labels));
      assert.deepEqual(
        service.spec.ports.map((p) => [p.port, portOf(container, p.targetPort)]),
        [[8080, 8080]],
      );
    });

    it('stops gracefully: a preStop pause, then more than the 25 s shutdown bound before SIGKILL', () => {
      const pause = container.lifecycle?.preStop?.sleep?.seconds;
      assert.ok(pause !== undefined && pause >= 5, 'a preStop pause of some seconds lets the endpoints go first');
      const grace = api.spec.template.spec.terminationGracePeriodSeconds;
      assert.ok(grace !== undefined && grace > API_SHUTDOWN_BOUND_S, 'terminationGracePeriodSeconds must exceed 25');
      // The pause counts against the grace period: the shutdown gets what is left after it.
      assert.ok(
        grace > pause + API_SHUTDOWN_BOUND_S,
        `${grace} s must cover the ${pause} s pause and the ${API_SHUTDOWN_BOUND_S} s shutdown`,
      );
    });

    it('asks for CPU and memory with limits, and runs one shard worker per CPU it gets', () => {
      const { requests, limits } = container.resources ?? {};
      for (const r of ['cpu', 'memory']) {
        assert.ok(requests?.[r], `requests.${r} missing`);
        assert.ok(limits?.[r], `limits.${r} missing`);
      }
      // Without SHARDS the app counts the node's cores, not the container's.
      assert.equal(config.shards, cpus(limits?.cpu));
    });

    it('a disruption budget and a CPU autoscaler that owns the replica count', () => {
      const pdb = find('PodDisruptionBudget', 'fcfs-coupons-api') as Resource & {
        spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number; minAvailable?: number };
      };
      assert.ok(selects(pdb.spec.selector.matchLabels, api.spec.template.metadata.labels));
      assert.ok(!selects(pdb.spec.selector.matchLabels, consumer.spec.template.metadata.labels));
      assert.equal(pdb.spec.maxUnavailable, 1);
      const hpa = find('HorizontalPodAutoscaler', 'fcfs-coupons-api') as Resource & {
        spec: {
          scaleTargetRef: { kind: string; name: string };
          minReplicas: number;
          maxReplicas: number;
          metrics: { type: string; resource?: { name: string; target: { type: string } } }[];
        };
      };
      assert.deepEqual([hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name], ['Deployment', api.metadata.name]);
      assert.ok(
        hpa.spec.metrics.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu' && m.resource.target.type === 'Utilization'),
      );
      assert.ok(hpa.spec.minReplicas > (pdb.spec.maxUnavailable ?? 0), 'the budget must leave pods serving');
      assert.ok(hpa.spec.maxReplicas > hpa.spec.minReplicas);
      assert.equal(api.spec.replicas, undefined, 'a replica count in the Deployment would reset the autoscaler on every apply');
    });
  });

  describe('consumer', () => {
    const container = only(consumer);
    const config = loadConfig(environmentOf(container));

    it('runs two consumers of one group', () => {
      assert.equal(scriptOf(container), 'src/cli/consumer.ts');
      assert.equal(consumer.spec.replicas, 2);
      assert.equal(config.env, 'production');
      assert.ok(config.kafka.partitions >= consumer.spec.replicas!, 'a consumer beyond the partition count sits idle');
    });

    it('probes its metrics endpoint on CONSUMER_METRICS_PORT, 9464', () => {
      assert.equal(config.consumerMetricsPort, 9464);
      assert.equal(config.host, '0.0.0.0');
      assert.deepEqual(
        container.ports?.map((p) => p.containerPort),
        [9464],
      );
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
        assert.ok(probe, 'startup, liveness and readiness probes are all needed');
        const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
        assert.equal(portOf(container, port), config.consumerMetricsPort);
        if (probe.httpGet) assert.equal(probe.httpGet.path, '/health/live');
      }
    });

    it('a disruption budget, resource requests, and time to leave the group on SIGTERM', () => {
      const pdb = find('PodDisruptionBudget', 'fcfs-coupons-consumer') as Resource & {
        spec: { selector: { matchLabels: Record<string, string> }; maxUnavailable?: number };
      };
      assert.ok(selects(pdb.spec.selector.matchLabels, consumer.spec.template.metadata.labels));
      assert.ok(!selects(pdb.spec.selector.matchLabels, api.spec.template.metadata.labels));
      assert.ok((pdb.spec.maxUnavailable ?? 0) < consumer.spec.replicas!, 'the budget must leave a consumer running');
      assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory);
      const grace = consumer.spec.template.spec.terminationGracePeriodSeconds;
      assert.ok(grace !== undefined && grace > CONSUMER_SHUTDOWN_BOUND_S);
    });
  });

  it('the setup Job migrates the database, then creates the topics, once', () => {
    const pod = setup.spec.template.spec;
    assert.deepEqual(pod.initContainers?.map(scriptOf), ['src/cli/migrate.ts']);
    assert.deepEqual(pod.containers.map(scriptOf), ['src/cli/create-topics.ts']);
    assert.ok(pod.restartPolicy === 'Never' || pod.restartPolicy === 'OnFailure');
    assert.ok(setup.spec.backoffLimit !== undefined && setup.spec.backoffLimit > 0);
  });

  describe('every container', () => {
    for (const workload of workloads) {
      for (const container of containersOf(workload)) {
        const where = `${workload.metadata.name}/${container.name}`;

        it(`${where}: sets only variables the app reads, and loadConfig accepts them`, () => {
          const env = environmentOf(container);
          for (const name of Object.keys(env)) {
            if (PENDING_VARIABLES.has(name)) continue;
            assert.ok(configNames.has(name), `${where} sets ${name}, which src/config.ts does not read`);
          }
          // Production refuses to load without a real token: every process needs it.
          const config = loadConfig(env);
          assert.equal(config.env, 'production');
          assert.equal(config.adminTokenIsDefault, false);
          assert.throws(() => loadConfig({ ...env, ADMIN_TOKEN: '' }), /ADMIN_TOKEN/);
          assert.ok(!config.kafka.brokers.some((b) => b.startsWith('127.')), 'Kafka must be the one the user brings');
        });

        it(`${where}: runs a script of the app, from the one image, as a non-root user`, () => {
          const script = scriptOf(container);
          assert.match(script, /^src\/cli\/[a-z-]+\.ts$/);
          if (!PENDING_SCRIPTS.has(script)) assert.ok(existsSync(join(ROOT, script)), `${script} does not exist`);
          assert.equal(container.image, only(api).image);
          assert.ok(!container.image.endsWith(':latest') && container.image.includes(':'), 'a pinned tag, never latest');
          const pod = workload.spec.template.spec.securityContext;
          assert.equal(pod?.runAsNonRoot, true);
          // The Dockerfile's USER node is a name, which runAsNonRoot cannot check: the uid must be given.
          assert.ok(pod?.runAsUser !== undefined && pod.runAsUser > 0);
          assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
        });

        it(`${where}: asks for CPU and memory and caps memory`, () => {
          assert.ok(container.resources?.requests?.cpu, 'requests.cpu missing');
          assert.ok(container.resources?.requests?.memory, 'requests.memory missing');
          assert.ok(container.resources?.limits?.memory, 'limits.memory missing');
        });
      }
    }
  });

  it('Prometheus finds the API and the consumers by their pod annotations, on a port that serves /metrics', () => {
    for (const workload of [api, consumer]) {
      const annotations = workload.spec.template.metadata.annotations ?? {};
      assert.equal(annotations['prometheus.io/scrape'], 'true', `${workload.metadata.name} is not scraped`);
      assert.equal(annotations['prometheus.io/path'], '/metrics');
      const container = only(workload);
      assert.ok(container.ports?.some((p) => p.containerPort === Number(annotations['prometheus.io/port'])));
    }
    assert.equal(only(api).ports?.[0]?.containerPort, loadConfig(environmentOf(only(api))).port);
    assert.equal(only(consumer).ports?.[0]?.containerPort, loadConfig(environmentOf(only(consumer))).consumerMetricsPort);
  });

  it('prometheus.kubernetes.yml scrapes the API and consumer pods as the jobs the rules and dashboards name', () => {
    const config = parse(readFileSync(join(ROOT, 'prometheus/prometheus.kubernetes.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; kubernetes_sd_configs?: { role: string }[]; relabel_configs?: Relabel[] }[];
    };
    const jobs = new Map(config.scrape_configs.map((j) => [j.job_name, j]));
    const local = parse(readFileSync(join(ROOT, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string }[] };
    assert.deepEqual([...jobs.keys()].sort(), local.scrape_configs.map((j) => j.job_name).sort(), 'the same jobs as the local stack');
    for (const [job, workload] of [
      ['coupon-api', api],
      ['coupon-consumer', consumer],
    ] as const) {
      const scrape = jobs.get(job);
      assert.ok(scrape, `job ${job} is missing`);
      assert.deepEqual(
        scrape.kubernetes_sd_configs?.map((c) => c.role),
        ['pod'],
      );
      const target = relabel(podDiscoveryLabels(workload.spec.template), scrape.relabel_configs ?? []);
      assert.ok(target, `${job} must keep the ${workload.metadata.name} pods`);
      assert.equal(target.__metrics_path__, '/metrics');
      // Every other workload's pods are left to their own job, or to none.
      for (const other of workloads.filter((w) => w !== workload)) {
        assert.equal(
          relabel(podDiscoveryLabels(other.spec.template), scrape.relabel_configs ?? []),
          undefined,
          `${job} must not keep ${other.metadata.name}`,
        );
      }
    }
  });

  it('points at a Redis Cluster given as host:port nodes', () => {
    const nodes = find('ConfigMap', 'fcfs-coupons').data?.REDIS_CLUSTER_NODES ?? '';
    const list = nodes.split(',');
    assert.ok(list.length >= 1 && list.every((n) => /^[^:\s]+:\d{1,5}$/.test(n)), `REDIS_CLUSTER_NODES "${nodes}"`);
    for (const container of workloads.flatMap(containersOf)) {
      assert.ok(!('REDIS_URL' in environmentOf(container)), 'one Redis setting: the cluster nodes');
    }
    assert.ok(Number.isInteger(Number(envVar(only(api), 'API_PROCESSES')?.value)));
  });

  it('what issue 17 adds elsewhere is still pending (once it lands, remove it from PENDING_*)', () => {
    for (const name of PENDING_VARIABLES) {
      assert.ok(!configNames.has(name), `src/config.ts reads ${name} now: remove it from PENDING_VARIABLES so it is checked`);
    }
    for (const script of PENDING_SCRIPTS) {
      assert.ok(!existsSync(join(ROOT, script)), `${script} exists now: remove it from PENDING_SCRIPTS so it is checked`);
    }
  });
});
