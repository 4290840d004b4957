import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { configSchema } from './config.js';

const readFromRoot = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');
const readme = readFromRoot('README.md');
/** Workspace READMEs whose Configuration tables repeat some of the root table's rows. */
const WORKSPACE_READMES = ['api/README.md', 'detectors/README.md'];

/** Variables read outside the schema, each by one module that says why (the logger: before any configuration is loaded). */
const READ_ELSEWHERE = ['LOG_LEVEL'];

interface Row {
  names: string[];
  defaults: string;
}

/** The rows of a README's Configuration table: the variables a row names and its default cell. */
function configurationRows(text = readme): Row[] {
  const start = text.indexOf('## Configuration');
  const header = text.indexOf('| variable | default | meaning |', start);
  if (start < 0 || header < 0) throw new Error('the README has no Configuration table');
  const rows: Row[] = [];
  for (const line of text.slice(header).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const [name = '', defaults = ''] = line.split(' | ').map((c) => c.replace(/^\| /, '').trim());
    rows.push({ names: [...name.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1] as string), defaults });
  }
  return rows;
}

/** The value the schema gives a variable nobody set, as the README would write it ('' for none). */
function schemaDefault(name: string): string {
  const field = (configSchema.shape as Record<string, z.ZodType>)[name];
  if (!field) throw new Error(`${name} is not a configuration variable`);
  const parsed = field.safeParse(undefined);
  if (!parsed.success) return '';
  const v: unknown = parsed.data;
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) return '';
  return String(v);
}

/** Each row whose stated default is not the one the schema applies (or states one where the schema has none). */
function wrongDefaults(rows: Row[]): string[] {
  const wrong: string[] = [];
  for (const row of rows) {
    const cells = [...row.defaults.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
    row.names.forEach((name, i) => {
      if (name.startsWith('OTEL_') || READ_ELSEWHERE.includes(name)) return;
      const expected = schemaDefault(name);
      // A row of several variables lists their defaults in order; one cell may hold them all.
      const stated = cells.length === row.names.length ? cells[i] : cells.length === 1 ? cells[0] : undefined;
      if (expected === '') {
        // No schema default: "unset", or a default derived from other variables (`http://<HOST>:<API_PORT>`).
        if (row.defaults !== 'unset' && stated !== undefined && /^[0-9]+$|^(true|false)$/.test(stated))
          wrong.push(`${name}: README ${stated}, schema none`);
      } else if (stated !== expected) {
        wrong.push(`${name}: README ${stated ?? row.defaults}, schema ${expected}`);
      }
    });
  }
  return wrong;
}

describe("README's Configuration table and the configuration schema", () => {
  const rows = configurationRows();
  const documented = rows.flatMap((r) => r.names).filter((n) => !n.startsWith('OTEL_'));

  it('documents every variable the configuration reads, and only those', () => {
    const read = [...Object.keys(configSchema.shape), ...READ_ELSEWHERE].sort();
    expect([...new Set(documented)].sort()).toEqual(read);
  });

  it("states each variable's default as the schema applies it (or unset, when it has none)", () => {
    expect(wrongDefaults(rows)).toEqual([]);
  });

  it.each(WORKSPACE_READMES)('%s names only configuration variables, with the defaults the schema applies', (file) => {
    const own = configurationRows(readFromRoot(file));
    const variables = new Set([...Object.keys(configSchema.shape), ...READ_ELSEWHERE]);
    expect(own.flatMap((r) => r.names).filter((n) => !variables.has(n))).toEqual([]);
    expect(wrongDefaults(own)).toEqual([]);
  });
});
