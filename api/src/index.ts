export { Api, type ApiConfig, type ApiOptions, type ReadinessCheck } from './server.js';
export { ApiKeys, roleAllows, type KeyIdentity } from './api-keys.js';
export { authenticate, requireRole } from './auth.js';
export { Desk, type DeskOptions } from './desk.js';
export { alertsRouter } from './routes/alerts.js';
export { agentsRouter } from './routes/agents.js';
export { tokensRouter } from './routes/tokens.js';
export { suppressionsRouter } from './routes/suppressions.js';
export { meRouter } from './routes/me.js';
export { respondersRouter } from './routes/responders.js';
export { ssfPublicRouter, ssfRouter } from './routes/ssf.js';
export { openApiDocument } from './openapi.js';
export { routes, type RouteSpec } from './contract/routes.js';
export { UI_DIR } from './ui.js';
export {
  API_ROLES,
  DEFAULT_API_SETTINGS,
  apiSettings,
  apiVariables,
  type ApiKeySpec,
  type ApiRole,
  type ApiSettings,
} from './settings.js';
