import type { TableSpec } from '../store/table-spec.js';
import { columnList, fixed, type TableSchema, type UInt64 } from './table-schema.js';

/** A row of `ssf_keys`: one version of a signing key. */
export interface SsfKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_sealed: string;
  created_at: string;
  retire_at: string | null;
  version: UInt64;
}

/**
 * `ssf_keys`: the Shared Signals transmitter's signing keys. The private JWK only sealed under
 * `INTENTWATCH_SECRETS_KEY`; `retire_at` set when a newer key replaced it (it stays in the JWKS
 * until then); latest `version` wins.
 */
export const ssfKeysTable: TableSpec = {
  name: 'ssf_keys',
  columns: [
    'kid String',
    'alg LowCardinality(String)',
    'public_jwk String',
    'private_sealed String',
    "created_at DateTime64(3, 'UTC')",
    "retire_at Nullable(DateTime64(3, 'UTC'))",
    'version UInt64',
  ],
  engine: 'ReplacingMergeTree(version)',
  orderBy: 'kid',
  shardingKey: 'cityHash64(kid)',
};

export const ssfKeys: TableSchema<SsfKeyRow> = {
  name: 'ssf_keys',
  ddl: fixed(ssfKeysTable),
  columns: columnList<SsfKeyRow>()(['kid', 'alg', 'public_jwk', 'private_sealed', 'created_at', 'retire_at', 'version']),
};
