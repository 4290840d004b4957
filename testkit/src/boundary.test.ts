import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const PRODUCT = ['conventions', 'core', 'alerts', 'collector', 'detectors', 'responders', 'api', 'sdk', 'demo', 'cli'];
const WORKSPACES = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;

/** Every .ts file under `dir`, and every folder on the way. */
function walk(dir: string): { files: string[]; folders: string[] } {
  const found = { files: [] as string[], folders: [] as string[] };
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name === 'dist') continue;
      found.folders.push(path);
      const inner = walk(path);
      found.files.push(...inner.files);
      found.folders.push(...inner.folders);
    } else if (e.name.endsWith('.ts')) {
      found.files.push(path);
    }
  }
  return found;
}

/** The files each workspace's build compiles: its src/ without tests and the detectors' scenarios. */
function builtFiles(workspace: string): string[] {
  return walk(join(root, workspace, 'src')).files.filter((file) => !file.endsWith('.test.ts') && !file.endsWith(`${sep}scenarios.ts`));
}

/** The relative module specifiers of a file (imports, re-exports, dynamic imports, new URL(…, import.meta.url)). */
function relativeSpecifiers(text: string): string[] {
  const pattern = /(?:from\s+|import\s*\(\s*|new URL\(\s*)'(\.{1,2}\/[^']*)'/g;
  return [...text.matchAll(pattern)].map((m) => m[1] as string);
}

describe('the testkit boundary', () => {
  it('no product file imports @intentwatch/testkit or vitest, so test support never ships', () => {
    const offenders = PRODUCT.flatMap(builtFiles)
      .filter((file) => /from '(@intentwatch\/testkit(\/[a-z-]+)?|vitest)'/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file));
    expect(offenders).toEqual([]);
  });

  it("no product file reaches into a workspace's testing/ folder, so test helpers are never built", () => {
    const testing = WORKSPACES.map((ws) => join(root, ws, 'testing') + sep);
    const offenders = PRODUCT.flatMap(builtFiles).flatMap((file) =>
      relativeSpecifiers(readFileSync(file, 'utf8'))
        .filter((spec) => testing.some((dir) => `${resolve(dirname(file), spec)}${sep}`.startsWith(dir)))
        .map((spec) => `${relative(root, file)} → ${spec}`),
    );
    expect(offenders).toEqual([]);
  });

  it("keeps a workspace's own test helpers in its testing/ folder beside src/, never in a src/test-support/ folder", () => {
    const misplaced = WORKSPACES.flatMap((ws) => (existsSync(join(root, ws, 'src')) ? walk(join(root, ws, 'src')).folders : []))
      .filter((folder) => folder.endsWith(`${sep}test-support`))
      .map((folder) => relative(root, folder));
    expect(misplaced).toEqual([]);
  });

  it('builds each product workspace from src/ alone, leaving out tests (and the detectors’ scenarios)', () => {
    type TsConfig = { compilerOptions?: { rootDir?: string }; include?: string[]; exclude?: string[] };
    const read = (ws: string, file: string) => JSON.parse(readFileSync(join(root, ws, file), 'utf8')) as TsConfig;
    for (const ws of PRODUCT) {
      const [build, base] = [read(ws, 'tsconfig.build.json'), read(ws, 'tsconfig.json')];
      expect(build.compilerOptions?.rootDir ?? base.compilerOptions?.rootDir, ws).toBe('src');
      expect(build.include ?? base.include, ws).toEqual(['src']);
      expect(build.exclude, ws).toContain('src/**/*.test.ts');
    }
  });

  it('no workspace keeps its own copy of openTestStore', () => {
    const copies = PRODUCT.flatMap((ws) =>
      [join(root, ws, 'src'), join(root, ws, 'testing')]
        .filter((dir) => existsSync(dir))
        .flatMap((dir) => walk(dir).files)
        .filter((file) => /export (async )?function openTestStore\b/.test(readFileSync(file, 'utf8'))),
    ).map((file) => relative(root, file));
    expect(copies).toEqual([]);
  });
});
