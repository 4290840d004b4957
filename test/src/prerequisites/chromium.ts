import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface ChromiumLookup {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  home?: string;
  /** The system locations to try (default: the usual ones of `platform`). */
  system?: string[];
}

export type ChromiumFound = { path: string; problem?: undefined } | { path?: undefined; problem: string };

const SYSTEM: Partial<Record<NodeJS.Platform, string[]>> = {
  linux: [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/snap/bin/chromium',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
  ],
  darwin: ['/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'],
};

/** Where playwright keeps the browsers it downloads (`npx playwright install chromium`). */
function playwrightCache(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, home: string): string {
  const configured = env.PLAYWRIGHT_BROWSERS_PATH;
  if (configured && configured !== '0') return configured;
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'ms-playwright');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'ms-playwright');
}

/** The executables inside one `chromium-<revision>` directory of playwright's cache, for each layout it has used. */
function playwrightExecutables(dir: string, platform: NodeJS.Platform): string[] {
  if (platform === 'darwin') {
    const testing = ['Google Chrome for Testing.app', 'Contents', 'MacOS', 'Google Chrome for Testing'];
    return [
      join(dir, 'chrome-mac-arm64', ...testing),
      join(dir, 'chrome-mac-x64', ...testing),
      join(dir, 'chrome-mac', 'Chromium.app', 'Contents', 'MacOS', 'Chromium'),
    ];
  }
  return [join(dir, 'chrome-linux64', 'chrome'), join(dir, 'chrome-linux-arm64', 'chrome'), join(dir, 'chrome-linux', 'chrome')];
}

/** The places to look, in order: `CHROMIUM_PATH` aside, the system's locations, then playwright's cache (newest revision first). */
export function chromiumCandidates(lookup: ChromiumLookup = {}): string[] {
  const env = lookup.env ?? process.env;
  const platform = lookup.platform ?? process.platform;
  const home = lookup.home ?? homedir();
  const system = lookup.system ?? [
    ...(SYSTEM[platform] ?? []),
    ...(platform === 'darwin' ? [join(home, 'Applications', 'Chromium.app', 'Contents', 'MacOS', 'Chromium')] : []),
  ];
  const cache = playwrightCache(env, platform, home);
  let revisions: string[] = [];
  try {
    revisions = readdirSync(cache)
      .map((name) => /^chromium-(\d+)$/.exec(name))
      .filter((m): m is RegExpExecArray => m !== null)
      .sort((a, b) => Number(b[1]) - Number(a[1]))
      .map((m) => m[0]);
  } catch {
    // no cache
  }
  return [...system, ...revisions.flatMap((r) => playwrightExecutables(join(cache, r), platform))];
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * The Chromium (or Chrome) the browser tests drive: `CHROMIUM_PATH` when set (and then only
 * that), else the first executable of `chromiumCandidates`.
 */
export function findChromium(lookup: ChromiumLookup = {}): ChromiumFound {
  const env = lookup.env ?? process.env;
  const configured = env.CHROMIUM_PATH?.trim();
  if (configured) {
    return executable(configured) ? { path: configured } : { problem: `CHROMIUM_PATH=${configured} is not an executable file` };
  }
  const candidates = chromiumCandidates(lookup);
  const path = candidates.find(executable);
  if (path) return { path };
  const platform = lookup.platform ?? process.platform;
  const home = lookup.home ?? homedir();
  const places = [...new Set([...(lookup.system ?? SYSTEM[platform] ?? []), playwrightCache(env, platform, home)])];
  return { problem: `no Chromium found (CHROMIUM_PATH unset; looked in ${places.join(', ')})` };
}
