import { ConfigError } from '@intentwatch/core';

export const ROLES = ['all', 'collector', 'detectors', 'api'] as const;
export type Role = (typeof ROLES)[number];

export interface Args {
  role: Role;
  demo: boolean;
  help: boolean;
}

export function usage(): string {
  return `Usage: intentwatch [all|collector|detectors|api] [--demo]
       intentwatch import --format <format> FILE|-   (see intentwatch import --help)

Roles:
  all         collector, detectors, responders and API in one process (default)
  collector   OTLP/HTTP receiver and JSON event endpoints on OTLP_PORT
  detectors   detector and responder jobs (BullMQ workers when REDIS_URL is set)
  api         REST API and web UI on API_PORT

Options:
  --demo      also run the demo fleet against this monitor
  --help      this text

Configuration is by environment variable (see README.md).
`;
}

export function parseArgs(argv: string[]): Args {
  const args: Args = { role: 'all', demo: false, help: false };
  for (const a of argv) {
    if (a === '--demo') args.demo = true;
    else if (a === '--help' || a === '-h') args.help = true;
    else if ((ROLES as readonly string[]).includes(a)) args.role = a as Role;
    else throw new ConfigError(`unknown argument "${a}"\n\n${usage()}`);
  }
  return args;
}
