export { parseArgs, ROLES, type Args, type Role } from './args.js';
export { start, type Running } from './start.js';
