import { existsSync, readFileSync } from 'node:fs';
import { configSchema } from '@intentwatch/cli';
import { parse, parseAllDocuments } from 'yaml';

/** Reading the deployment files as an operator's tools do. */

export const REPO = new URL('../../../', import.meta.url);
export const read = (path: string) => readFileSync(new URL(path, REPO), 'utf8');
export const exists = (path: string) => existsSync(new URL(path, REPO));

/** The variables `loadConfig` reads: the keys of the schema cli/src/config.ts composes of every workspace's settings. */
export function configVariables(): Set<string> {
  return new Set(Object.keys(configSchema.shape));
}

/** KEY=VALUE lines of an env file (comments and blanks skipped). */
export function envFile(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of read(path).split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1] as string] = m[2] as string;
  }
  return out;
}

/** Compose's interpolation: `${VAR}`, `${VAR:-default}`, `${VAR:?message}`, `$$` for `$`. */
export function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (match, name?: string, op?: string, arg?: string) => {
    if (match === '$$') return '$';
    const v = vars[name as string];
    if (op === '-') return v ? v : (arg ?? '');
    if (op === '?' && !v) throw new Error(`compose would refuse to start: ${name}: ${arg}`);
    return v ?? '';
  });
}

/** Names of the variables a compose value refers to. */
export function referencedVariables(value: string): string[] {
  return [...value.matchAll(/\$\{(\w+)/g)].map((m) => m[1] as string);
}

export interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  hostname?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}

export function compose(): { services: Record<string, ComposeService>; volumes: Record<string, unknown> } {
  return parse(read('deploy/compose.yaml'), { merge: true });
}

// biome-ignore lint/suspicious/noExplicitAny: Kubernetes objects are read loosely and checked field by field
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: any };

/** Every object of every manifest the kustomization lists (not the generated ConfigMaps/Secret). */
export function k8sObjects(): K8sObject[] {
  const kustomization = parse(read('deploy/kustomization.yaml')) as { resources: string[] };
  return kustomization.resources
    .filter((r) => r.endsWith('.yaml'))
    .flatMap((r) =>
      parseAllDocuments(read(`deploy/${r}`)).map((doc) => {
        if (doc.errors.length) throw new Error(`deploy/${r}: ${doc.errors[0]?.message}`);
        return doc.toJS() as K8sObject;
      }),
    );
}

export interface ClusterLayout {
  name: string;
  shards: { replicas: { host: string; port: number }[] }[];
  macros: string[];
  zookeeper: string[];
  fromEnv: string[];
}

/** The `remote_servers` cluster, macros and Keeper nodes of a ClickHouse config file. */
export function clusterLayout(path: string): ClusterLayout {
  const xml = read(path).replace(/<!--[\s\S]*?-->/g, '');
  const remote = /<remote_servers[^>]*>\s*<(\w+)>([\s\S]*?)<\/\1>\s*<\/remote_servers>/.exec(xml);
  if (!remote) throw new Error(`${path}: no remote_servers cluster`);
  const shards = [...(remote[2] as string).matchAll(/<shard>([\s\S]*?)<\/shard>/g)].map((s) => ({
    replicas: [...(s[1] as string).matchAll(/<replica>\s*<host>([^<]+)<\/host>\s*<port>(\d+)<\/port>\s*<\/replica>/g)].map((r) => ({
      host: r[1] as string,
      port: Number(r[2]),
    })),
  }));
  const macrosBlock = /<macros>([\s\S]*?)<\/macros>/.exec(xml)?.[1] ?? '';
  const zk = /<zookeeper>([\s\S]*?)<\/zookeeper>/.exec(xml)?.[1] ?? '';
  return {
    name: remote[1] as string,
    shards,
    macros: [...macrosBlock.matchAll(/<(\w+)[\s/>]/g)].map((m) => m[1] as string),
    zookeeper: [...zk.matchAll(/<host>([^<]+)<\/host>\s*<port>(\d+)<\/port>/g)].map((m) => `${m[1]}:${m[2]}`),
    fromEnv: fromEnv(path),
  };
}

/** Environment variables a ClickHouse config file reads (`from_env`). */
export function fromEnv(path: string): string[] {
  return [...read(path).matchAll(/from_env="(\w+)"/g)].map((m) => m[1] as string);
}

/** Raft servers (`id`, `hostname`) of a Keeper config file. */
export function raftServers(path: string): { id: string; hostname: string }[] {
  const xml = read(path);
  return [...xml.matchAll(/<server>\s*<id>(\d+)<\/id>\s*<hostname>([^<]+)<\/hostname>/g)].map((m) => ({
    id: m[1] as string,
    hostname: m[2] as string,
  }));
}

/**
 * The settings of a profile in deploy/clickhouse/users.xml (`<profiles><name>…</name></profiles>`),
 * as ClickHouse applies them to every query of a user with that profile; `constraints` are not
 * settings and are left out.
 */
export function clickhouseProfile(name: string, path = 'deploy/clickhouse/users.xml'): Record<string, string> {
  const xml = read(path).replace(/<!--[\s\S]*?-->/g, '');
  const block = new RegExp(`<profiles>[\\s\\S]*?<${name}>([\\s\\S]*?)</${name}>`).exec(xml)?.[1];
  if (block === undefined) throw new Error(`${path}: no profile ${name}`);
  const settings = block.replace(/<constraints>[\s\S]*?<\/constraints>/, '');
  return Object.fromEntries([...settings.matchAll(/<(\w+)>([^<]*)<\/\1>/g)].map((m) => [m[1] as string, (m[2] as string).trim()]));
}
