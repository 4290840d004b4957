import { parseArgs, TELEMETRY_ENV } from '@intentwatch/cli';
import { loadConfig } from '@intentwatch/cli';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  clusterLayout,
  compose,
  configVariables,
  envFile,
  exists,
  fromEnv,
  interpolate,
  type K8sObject,
  k8sObjects,
  raftServers,
  read,
  referencedVariables,
} from './deploy-files.js';

/**
 * The deployment files read as an operator would, role by role, against docs/conventions.md §3: each
 * role runs `intentwatch <role>` from our image with variables `loadConfig` reads and accepts,
 * health probes hit the port the role listens on, and the ClickHouse cluster the roles name is
 * the one the ClickHouse servers are configured as.
 */

const ROLES = ['collector', 'detectors', 'api'] as const;
type Role = (typeof ROLES)[number];
const KNOWN_VARIABLES = new Set([...configVariables(), ...TELEMETRY_ENV]);
/** The port each role listens on, and the path its readiness is read from. */
const PROBED: Record<Role, { portVariable: string; readiness: string }> = {
  collector: { portVariable: 'OTLP_PORT', readiness: '/healthz' },
  detectors: { portVariable: 'HEALTH_PORT', readiness: '/readyz' },
  api: { portVariable: 'API_PORT', readiness: '/readyz' },
};

function checkRoleConfig(role: Role, env: Record<string, string>, cluster: string): ReturnType<typeof loadConfig> {
  const config = loadConfig({ ...env, INTENTWATCH_DATA_DIR: '/data' }, { dotenv: false });
  expect(config.clickhouse?.cluster, role).toBe(cluster);
  expect(config.clickhouse?.database, role).toBe('intentwatch');
  expect(config.clickhouse?.password, role).toBeTruthy();
  expect(config.redisUrl, role).toMatch(/^redis:\/\/:[^@]+@redis:6379$/);
  expect(config.host, role).toBe('0.0.0.0');
  if (role === 'collector') expect(config.ingestKeys?.length).toBeGreaterThan(0);
  if (role === 'api') expect(config.apiKeys?.length).toBeGreaterThan(0);
  return config;
}

describe('docker compose (deploy/compose.yaml)', () => {
  const file = compose();
  const vars = envFile('deploy/.env.example');
  const env = (service: string) =>
    Object.fromEntries(Object.entries(file.services[service]?.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]));
  const layout = clusterLayout('deploy/clickhouse/compose/cluster.xml');
  const clickhouseServices = Object.entries(file.services).filter(([, s]) => s.image?.startsWith('clickhouse/clickhouse-server:'));

  it('runs the collector, the detector workers and the API as separate services of the intentwatch image, each as `intentwatch <role>`', () => {
    for (const role of ROLES) {
      const s = file.services[role];
      expect(interpolate(s?.image ?? '', vars), role).toBe('intentwatch:dev');
      expect(s?.build).toEqual({ context: '..', dockerfile: 'deploy/Dockerfile' });
      expect(s?.command).toEqual(['intentwatch', role]);
      expect(parseArgs(s?.command?.slice(1) ?? []).role).toBe(role);
    }
    expect(exists('deploy/Dockerfile')).toBe(true);
  });

  it('gives each role only variables loadConfig reads (or OpenTelemetry’s), and a configuration it accepts on the cluster', () => {
    for (const role of ROLES) {
      const e = env(role);
      for (const name of Object.keys(e)) expect(KNOWN_VARIABLES.has(name), `${role}: ${name}`).toBe(true);
      const config = checkRoleConfig(role, e, layout.name);
      const host = new URL(config.clickhouse?.url ?? '').host;
      expect(
        clickhouseServices.map(([, s]) => `${s.hostname}:8123`),
        role,
      ).toContain(host);
      expect(file.services.redis).toBeDefined();
    }
  });

  it('health-checks each role on the port it listens on, and starts it after ClickHouse and Redis are healthy', () => {
    for (const role of ROLES) {
      const s = file.services[role];
      const port = env(role)[PROBED[role].portVariable];
      expect(s?.healthcheck?.test.join(' '), role).toContain(`:${port}${PROBED[role].readiness}`);
      for (const [name] of [...clickhouseServices, ['redis']]) expect(s?.depends_on?.[name as string]?.condition).toBe('service_healthy');
    }
  });

  it('needs only variables .env.example names, and the example holds placeholders, not secrets', () => {
    const text = read('deploy/compose.yaml');
    for (const name of referencedVariables(text)) expect(Object.keys(vars), name).toContain(name);
    for (const [name, value] of Object.entries(vars)) {
      if (/PASSWORD|SECRET|KEYS/.test(name)) expect(value, name).toMatch(/replace-with/);
    }
  });

  it('runs the ClickHouse servers as the shards and replicas of the cluster configuration, with Keeper where it looks for it', () => {
    const expected = layout.shards.flatMap((shard, i) => shard.replicas.map((r) => `${String(i + 1).padStart(2, '0')}/${r.host}`));
    const actual = clickhouseServices.map(([, s]) => `${s.environment?.CLICKHOUSE_SHARD}/${s.hostname}`);
    expect(actual.sort()).toEqual(expected.sort());
    const needed = [...layout.fromEnv, ...fromEnv('deploy/clickhouse/users.xml')];
    for (const [name, s] of clickhouseServices) {
      expect(s.environment?.CLICKHOUSE_REPLICA, name).toBe(s.hostname);
      expect(s.environment?.CLICKHOUSE_INTERSERVER_HOST, name).toBe(s.hostname);
      for (const v of needed) expect(Object.keys(s.environment ?? {}), `${name}: ${v}`).toContain(v);
      expect(s.volumes).toEqual(
        expect.arrayContaining([
          './clickhouse/compose/cluster.xml:/etc/clickhouse-server/config.d/intentwatch-cluster.xml:ro',
          './clickhouse/users.xml:/etc/clickhouse-server/users.d/intentwatch-users.xml:ro',
        ]),
      );
    }
    const keeper = file.services.keeper;
    expect(layout.zookeeper).toEqual([`${keeper?.hostname}:9181`]);
    expect(raftServers('deploy/clickhouse/compose/keeper.xml').map((s) => s.hostname)).toEqual([keeper?.hostname]);
  });

  it('pins every image to a version', () => {
    for (const [name, s] of Object.entries(file.services)) {
      const image = interpolate(s.image ?? '', vars);
      expect(image, name).toMatch(/^[\w./-]+:[\w.-]+$/);
      expect(image, name).not.toMatch(/:latest$/);
    }
  });
});

describe('Kubernetes manifests (deploy/kustomization.yaml)', () => {
  const objects = k8sObjects();
  const kustomization = parse(read('deploy/kustomization.yaml')) as {
    resources: string[];
    secretGenerator: { name: string; envs: string[] }[];
    configMapGenerator: { name: string; files?: string[]; envs?: string[] }[];
    images: { name: string }[];
  };
  const secrets = envFile('deploy/k8s/secrets.env.example');
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'intentwatch-config')?.data as Record<string, string>;
  const layout = clusterLayout('deploy/clickhouse/kubernetes/cluster.xml');
  const deployment = (role: Role) => objects.find((o) => o.kind === 'Deployment' && o.metadata.name === `intentwatch-${role}`) as K8sObject;
  const containerOf = (o: K8sObject) => o.spec.template.spec.containers[0];
  const fileName = (entry: string) => entry.split('=').pop() as string;

  it('name only files that exist, including the secrets example the Secret is generated from', () => {
    for (const r of kustomization.resources) expect(exists(`deploy/${r}`), r).toBe(true);
    for (const g of kustomization.configMapGenerator) {
      for (const f of [...(g.files ?? []), ...(g.envs ?? [])]) expect(exists(`deploy/${fileName(f)}`), f).toBe(true);
    }
    expect(kustomization.secretGenerator.map((g) => g.name)).toEqual(['intentwatch-secrets']);
    expect(exists(`deploy/${kustomization.secretGenerator[0]?.envs[0]}.example`)).toBe(true);
    expect(read('deploy/.gitignore')).toContain('k8s/secrets.env');
  });

  it('run each role as `intentwatch <role>` from the intentwatch image, non-root, read-only, with requests and limits', () => {
    expect(kustomization.images.map((i) => i.name)).toContain('intentwatch');
    for (const role of ROLES) {
      const d = deployment(role);
      const c = containerOf(d);
      expect(c.image, role).toBe('intentwatch');
      expect([...c.command, ...c.args]).toEqual(['intentwatch', role]);
      expect(parseArgs(c.args).role).toBe(role);
      expect(d.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      for (const kind of ['requests', 'limits']) {
        expect(Object.keys(c.resources[kind]).sort(), `${role} ${kind}`).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('probe /healthz for liveness and start-up, and readiness where the role reports it, on the port the role listens on', () => {
    for (const role of ROLES) {
      const c = containerOf(deployment(role));
      const port = (name: string) => c.ports.find((p: { name: string }) => p.name === name)?.containerPort;
      const listen = Number(configMap[PROBED[role].portVariable]);
      for (const probe of ['startupProbe', 'livenessProbe']) {
        expect(c[probe].httpGet.path, `${role} ${probe}`).toBe('/healthz');
        expect(port(c[probe].httpGet.port), `${role} ${probe}`).toBe(listen);
      }
      expect(c.readinessProbe.httpGet.path, role).toBe(PROBED[role].readiness);
      expect(port(c.readinessProbe.httpGet.port)).toBe(listen);
    }
  });

  it('scale collectors and detector workers horizontally', () => {
    const hpas = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler');
    for (const role of ['collector', 'detectors'] as const) {
      const hpa = hpas.find((h) => h.spec.scaleTargetRef.name === `intentwatch-${role}`);
      expect(hpa?.spec.scaleTargetRef.kind, role).toBe('Deployment');
      expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa?.spec.maxReplicas).toBeGreaterThan(hpa?.spec.minReplicas);
    }
  });

  it('give each role only variables loadConfig reads, and a configuration it accepts on the cluster', () => {
    for (const role of ROLES) {
      const c = containerOf(deployment(role));
      expect(c.envFrom).toEqual([{ configMapRef: { name: 'intentwatch-config' } }]);
      const env: Record<string, string> = { ...configMap };
      for (const e of c.env as { name: string; value?: string; valueFrom?: { secretKeyRef: { key: string } } }[]) {
        env[e.name] = e.value ?? (secrets[e.valueFrom?.secretKeyRef.key ?? ''] as string);
      }
      for (const name of Object.keys(env)) expect(KNOWN_VARIABLES.has(name), `${role}: ${name}`).toBe(true);
      const config = checkRoleConfig(role, env, layout.name);
      const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === new URL(config.clickhouse?.url ?? '').hostname);
      expect(service?.spec.selector).toEqual({ 'app.kubernetes.io/name': 'clickhouse' });
      expect(service?.spec.ports.map((p: { port: number }) => p.port)).toContain(8123);
    }
  });

  it('take every secret from the generated Secret, whose example names every key used', () => {
    const refs = JSON.stringify(objects).matchAll(/"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"\}/g);
    let count = 0;
    for (const [, name, key] of refs) {
      count++;
      expect(name).toBe('intentwatch-secrets');
      expect(Object.keys(secrets), key).toContain(key);
    }
    expect(count).toBeGreaterThan(10);
    for (const [name, value] of Object.entries(secrets)) expect(value, name).toMatch(/replace-with/);
  });

  it('run ClickHouse StatefulSets whose pods are the replicas of the cluster configuration, and Keeper as its raft configuration says', () => {
    const sets = objects.filter((o) => o.kind === 'StatefulSet' && o.metadata.labels?.['app.kubernetes.io/name'] === 'clickhouse');
    const hosts = sets.flatMap((s) =>
      Array.from({ length: s.spec.replicas }, (_, j) => {
        const shard = containerOf(s).env.find((e: { name: string }) => e.name === 'CLICKHOUSE_SHARD').value;
        return `${shard}/${s.metadata.name}-${j}.${s.spec.serviceName}`;
      }),
    );
    const expected = layout.shards.flatMap((shard, i) => shard.replicas.map((r) => `${String(i + 1).padStart(2, '0')}/${r.host}`));
    expect(hosts.sort()).toEqual(expected.sort());
    const needed = [...layout.fromEnv, ...fromEnv('deploy/clickhouse/users.xml')];
    for (const s of sets) {
      const names = containerOf(s).env.map((e: { name: string }) => e.name);
      for (const v of needed) expect(names, `${s.metadata.name}: ${v}`).toContain(v);
      expect(objects.find((o) => o.kind === 'Service' && o.metadata.name === s.spec.serviceName)?.spec.clusterIP).toBe('None');
    }
    const keeper = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'keeper') as K8sObject;
    const keeperHosts = Array.from({ length: keeper.spec.replicas }, (_, j) => `keeper-${j}.${keeper.spec.serviceName}`);
    const raft = raftServers('deploy/clickhouse/kubernetes/keeper.xml');
    expect(raft.map((r) => r.hostname)).toEqual(keeperHosts);
    expect(raft.map((r) => r.id)).toEqual(keeperHosts.map((_, j) => String(j + 1)));
    expect(layout.zookeeper).toEqual(keeperHosts.map((h) => `${h}:9181`));
  });

  it('run Keeper as the image’s own clickhouse user, since its command override skips the entrypoint that would drop root', () => {
    const keeper = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'keeper') as K8sObject;
    const pod = keeper.spec.template.spec;
    expect(containerOf(keeper).command, 'the override this protects against').toBeDefined();
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 101, runAsGroup: 101, fsGroup: 101 });
    expect(containerOf(keeper).securityContext).toMatchObject({ allowPrivilegeEscalation: false });
  });

  it('use the same pinned third-party images as docker compose', () => {
    const composeImages = new Set(Object.values(compose().services).map((s) => s.image));
    const images = objects.flatMap((o) => (o.spec?.template?.spec?.containers ?? []).map((c: { image: string }) => c.image));
    for (const image of images.filter((i) => i !== 'intentwatch')) {
      expect(image).toMatch(/:[\w.-]+$/);
      expect(composeImages.has(image), image).toBe(true);
    }
  });
});

describe('ClickHouse server configuration (deploy/clickhouse/*/cluster.xml)', () => {
  it('leaves listen_host to the image, whose own config listens on :: and 0.0.0.0', () => {
    for (const file of ['deploy/clickhouse/compose/cluster.xml', 'deploy/clickhouse/kubernetes/cluster.xml']) {
      const xml = read(file).replace(/<!--[\s\S]*?-->/g, '');
      expect(xml, file).not.toMatch(/<listen_host|<listen_try/);
    }
  });
});

describe('Dockerfile (deploy/Dockerfile)', () => {
  const text = read('deploy/Dockerfile');
  const stages = text.split(/^FROM /m).slice(1);

  it('builds and runs on a supported Node (22 or later), while the packages still declare Node 20 support', () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-[\w-]+$/m.exec(text);
    expect(Number(image?.[1])).toBeGreaterThanOrEqual(22);
    for (const stage of stages) expect(stage.split('\n')[0]).toMatch(/^\$\{NODE_IMAGE\} AS \w+$/);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/^>=20(\.|$)/);
  });

  it('can install the embedded engine (EMBEDDED=true) on linux/amd64 and linux/arm64: the lockfile holds chdb’s library for both', () => {
    const lock = JSON.parse(read('package-lock.json')) as {
      packages: Record<
        string,
        {
          version: string;
          os?: string[];
          cpu?: string[];
          libc?: string[];
          optional?: boolean;
          optionalDependencies?: Record<string, string>;
        }
      >;
    };
    const chdb = lock.packages['node_modules/chdb'];
    const platformLibraries = chdb?.optionalDependencies ?? {};
    for (const [cpu, name] of [
      ['x64', '@chdb/lib-linux-x64-gnu'],
      ['arm64', '@chdb/lib-linux-arm64-gnu'],
    ] as const) {
      expect(Object.keys(platformLibraries), name).toContain(name);
      const entry = lock.packages[`node_modules/${name}`];
      expect(entry, `${name} in package-lock.json`).toMatchObject({
        version: platformLibraries[name],
        os: ['linux'],
        cpu: [cpu],
        libc: ['glibc'],
        optional: true,
      });
    }
    // The runtime image is Debian (glibc), which those libraries are built for.
    expect(text).toMatch(/^ARG NODE_IMAGE=node:\d+-bookworm-slim$/m);
  });

  it('builds with npm ci and npm run build, and runs production dependencies as the unprivileged node user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const [build, runtime] = [stages[0] as string, stages[stages.length - 1] as string];
    expect(build).toMatch(/RUN npm ci\b/);
    expect(build).toMatch(/npm run build/);
    expect(runtime).toMatch(/npm ci --omit=dev/);
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/^USER root/m);
    expect(runtime).toMatch(/^CMD \["intentwatch", "all"\]$/m);
    expect(runtime).toMatch(/ln -s \/app\/cli\/dist\/main\.js \/usr\/local\/bin\/intentwatch/);
  });

  it('copies the manifest of every workspace into both stages, so that npm ci sees the whole lockfile', () => {
    const workspaces = (JSON.parse(read('package.json')) as { workspaces: string[] }).workspaces;
    for (const ws of workspaces) {
      const copies = text.match(new RegExp(`^COPY (--from=build /src/)?${ws}/package\\.json ${ws}/$`, 'gm')) ?? [];
      expect(copies.length, ws).toBe(2);
    }
    // The runtime image carries every workspace but the tests, built.
    const shipped = /tar [^|]*-cf - ([\w ]+) \|/.exec(text)?.[1]?.split(' ') ?? [];
    expect(shipped.sort()).toEqual(workspaces.filter((ws) => ws !== 'test').sort());
  });

  it('keeps dependencies, builds, local data and secrets out of the build context', () => {
    const ignore = read('deploy/Dockerfile.dockerignore');
    for (const entry of ['**/node_modules', '**/dist', '**/.intentwatch', '**/.env', 'deploy/k8s/secrets.env']) {
      expect(ignore.split('\n')).toContain(entry);
    }
  });
});
