import { quoteIdentifier } from './store.js';

/**
 * A table described once and rendered in two forms: a single-node table, or — on a cluster —
 * a `Replicated*` table `<name>_local` on every node plus a `Distributed` table `<name>` over
 * it, so that the rest of the code always reads and writes `<name>`.
 */
export interface TableSpec {
  name: string;
  /** Column definitions, one per entry, e.g. "token_id String CODEC(ZSTD(1))". */
  columns: string[];
  /** Data-skipping indexes, e.g. "INDEX idx_agent agent_id TYPE bloom_filter GRANULARITY 4". */
  indexes?: string[];
  /** `MergeTree` or e.g. `ReplacingMergeTree(version)`; replication is added on a cluster. */
  engine: string;
  orderBy: string;
  partitionBy?: string;
  ttl?: string;
  settings?: string;
  /** Distributed sharding expression on a cluster. */
  shardingKey: string;
}

export interface DdlTarget {
  database: string;
  cluster?: string | undefined;
}

/** The CREATE statements for a table, in the form the target needs. */
export function createTableDdl(spec: TableSpec, target: DdlTarget): string[] {
  const db = quoteIdentifier(target.database);
  const body = [...spec.columns, ...(spec.indexes ?? [])].join(',\n  ');
  const clauses = (engine: string) =>
    [
      `ENGINE = ${engine}`,
      spec.partitionBy ? `PARTITION BY ${spec.partitionBy}` : '',
      `ORDER BY ${spec.orderBy}`,
      spec.ttl ? `TTL ${spec.ttl}` : '',
      spec.settings ? `SETTINGS ${spec.settings}` : '',
    ]
      .filter(Boolean)
      .join('\n');

  if (!target.cluster) {
    return [`CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(spec.name)} (\n  ${body}\n)\n${clauses(spec.engine)}`];
  }
  const onCluster = `ON CLUSTER ${quoteIdentifier(target.cluster)}`;
  const local = `${spec.name}_local`;
  const replicated = replicatedEngine(spec.engine, `/clickhouse/tables/{shard}/${target.database}/${local}`);
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(local)} ${onCluster} (\n  ${body}\n)\n${clauses(replicated)}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${quoteIdentifier(spec.name)} ${onCluster} AS ${db}.${quoteIdentifier(local)}\nENGINE = Distributed(${quoteIdentifier(target.cluster)}, ${db}, ${quoteIdentifier(local)}, ${spec.shardingKey})`,
  ];
}

/** `ReplacingMergeTree(version)` → `ReplicatedReplacingMergeTree('<path>', '{replica}', version)`. */
export function replicatedEngine(engine: string, zkPath: string): string {
  const m = /^(\w*)MergeTree(?:\((.*)\))?$/.exec(engine.trim());
  if (!m) throw new Error(`cannot replicate engine ${engine}`);
  const args = [`'${zkPath}'`, `'{replica}'`, ...(m[2] ? [m[2]] : [])];
  return `Replicated${m[1]}MergeTree(${args.join(', ')})`;
}

/**
 * `ALTER TABLE … ADD COLUMN IF NOT EXISTS` for a table in either form: on a cluster the local
 * table and the Distributed table both gain the column.
 */
export function addColumnDdl(table: string, column: string, target: DdlTarget): string[] {
  const db = quoteIdentifier(target.database);
  if (!target.cluster) return [`ALTER TABLE ${db}.${quoteIdentifier(table)} ADD COLUMN IF NOT EXISTS ${column}`];
  const onCluster = `ON CLUSTER ${quoteIdentifier(target.cluster)}`;
  return [
    `ALTER TABLE ${db}.${quoteIdentifier(`${table}_local`)} ${onCluster} ADD COLUMN IF NOT EXISTS ${column}`,
    `ALTER TABLE ${db}.${quoteIdentifier(table)} ${onCluster} ADD COLUMN IF NOT EXISTS ${column}`,
  ];
}
