import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ATTR, TASK_EVENTS, TOKEN_EVENTS } from './attributes.js';

const doc = readFileSync(new URL('../../docs/conventions.md', import.meta.url), 'utf8');

/** The `code` values in the first cell of each row of the table whose header row is `header`. */
function firstColumn(header: string): string[] {
  const at = doc.indexOf(header);
  if (at < 0) throw new Error(`docs/conventions.md has no table headed ${header}`);
  const lines = doc
    .slice(at + header.length)
    .split('\n')
    .slice(2); // the rest of the header line, the |---| line
  const out: string[] = [];
  for (const line of lines) {
    if (!line.startsWith('|')) break;
    const cell = line.split('|')[1] ?? '';
    for (const m of cell.matchAll(/`([^`]+)`/g)) out.push(m[1] as string);
  }
  return out;
}

describe('the attribute map agents and the monitor share', () => {
  it('names only attributes docs/conventions.md documents', () => {
    const undocumented = Object.values(ATTR).filter((name) => !doc.includes(`\`${name}\``));
    expect(undocumented).toEqual([]);
  });

  it('has one key per attribute name, so writer and reader cannot pick different keys for one name', () => {
    const names = Object.values(ATTR);
    expect(new Set(names).size).toBe(names.length);
  });

  it('lists the token and task lifecycle events the contract tables list, in their order', () => {
    expect(firstColumn('| `token.event` | attributes |')).toEqual([...TOKEN_EVENTS]);
    expect(firstColumn('| `task.event` | attributes |')).toEqual([...TASK_EVENTS]);
  });
});
