import { readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const PRODUCT = ['conventions', 'core', 'alerts', 'collector', 'detectors', 'responders', 'api', 'sdk', 'demo', 'cli'];

/** The files each workspace's build compiles: its src/ without tests, test-support and scenarios. */
function builtFiles(workspace: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'test-support') walk(path);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && e.name !== 'scenarios.ts') {
        files.push(path);
      }
    }
  };
  walk(join(root, workspace, 'src'));
  return files;
}

describe('the testkit boundary', () => {
  it('no product file imports @intentwatch/testkit, so test support never ships', () => {
    const offenders = PRODUCT.flatMap(builtFiles)
      .filter((file) => /from '@intentwatch\/testkit(\/[a-z-]+)?'/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });

  it('no workspace keeps its own copy of openTestStore', () => {
    const copies = PRODUCT.flatMap((ws) => {
      const found: string[] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, e.name);
          if (e.isDirectory()) walk(path);
          else if (e.name.endsWith('.ts') && /export (async )?function openTestStore\b/.test(readFileSync(path, 'utf8'))) found.push(path);
        }
      };
      walk(join(root, ws, 'src'));
      return found;
    }).map((file) => relative(root, file));
    expect(copies).toEqual([]);
  });
});
