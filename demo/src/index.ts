export { type DemoFleet, type DemoOptions, startDemoFleet } from './fleet.js';
export { BENIGN_AGENTS, BENIGN_ROLES, CRAWLER_ROLE } from './organisation.js';
export { EPISODES, type Episode } from './misuse/index.js';
export { BILLING_SERVER, HELPDESK_AGENT, TICKETS_SERVER } from './mcp/desk.js';
