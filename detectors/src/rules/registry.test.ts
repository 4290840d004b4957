import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Scenario } from '../../testing/scenario.js';
import { DETECTORS } from './index.js';

const doc = readFileSync(new URL('../../../docs/conventions.md', import.meta.url), 'utf8');

/** The body rows of the Markdown table whose header row is `header`, as cells. */
function table(header: string): string[][] {
  const at = doc.indexOf(header);
  if (at < 0) throw new Error(`docs/conventions.md has no table headed ${header}`);
  const rows: string[][] = [];
  for (const line of doc.slice(at).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

const idOf = (cell: string) => cell.replace(/`/g, '');
const detectorsTable = table('| detector | fires when | severity |');
const frameworksTable = table('| detector | OWASP Agentic 2026 | OWASP NHI 2025 | MITRE ATLAS / ATT&CK |');

/** A framework cell of the docs ("ASI03, ASI02", "NHI2, NHI7", "AML.T0091.000, T1550.001") as alert identifiers. */
function frameworkIds(row: string[]): string[] {
  const [, asi = '', nhi = '', mitre = ''] = row;
  const items = (cell: string) => (cell === '—' ? [] : cell.split(',').map((s) => s.trim()));
  return [
    ...items(asi).map((x) => `OWASP-${x}`),
    ...items(nhi).map((x) => `OWASP-${x}`),
    ...items(mitre).map((x) => (x.startsWith('AML.') ? `MITRE-ATLAS-${x}` : `MITRE-ATTACK-${x}`)),
  ].sort();
}

describe('the detector registry and the contract', () => {
  it('runs exactly the detectors docs/conventions.md §2 lists, in its order', () => {
    expect(DETECTORS.map((d) => d.id)).toEqual(detectorsTable.map((row) => idOf(row[0] ?? '')));
  });

  it("gives every detector's alerts the framework identifiers the contract's table names", () => {
    for (const row of frameworksTable) {
      const detector = DETECTORS.find((d) => d.id === idOf(row[0] ?? ''));
      expect(detector, `docs table row ${row[0]}`).toBeDefined();
      expect([...(detector?.frameworks ?? [])].sort(), row[0]).toEqual(frameworkIds(row));
    }
    expect(frameworksTable.length).toBe(DETECTORS.length);
  });

  it('starts every detector at a severity the contract names for it', () => {
    for (const d of DETECTORS) {
      const row = detectorsTable.find((r) => idOf(r[0] ?? '') === d.id);
      expect(row?.[2], d.id).toContain(d.severity);
    }
  });

  it('tests every detector both ways: each has scenarios that must alert and scenarios that must stay silent', async () => {
    for (const d of DETECTORS) {
      const { scenarios } = (await import(/* @vite-ignore */ new URL(`./${d.id}/scenarios.ts`, import.meta.url).href)) as {
        scenarios: Scenario[];
      };
      const outcomes = new Set(scenarios.map((s) => s.expect));
      expect([...outcomes].sort(), d.id).toEqual(['alert', 'silent']);
    }
  });
});
