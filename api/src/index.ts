export { Api, type ApiConfig, type ApiOptions, type ReadinessCheck } from './server.js';
export { ApiKeys, roleAllows, type KeyIdentity } from './api-keys.js';
export { authenticate, requireRole } from './auth.js';
export { alertsRouter } from './routes/alerts.js';
