/**
 * Every route the API serves, declared once: method, path, the role it needs, what it accepts
 * and what it answers. Routers bind handlers to these declarations (see `bind` in ../route.ts)
 * and the OpenAPI document is generated from them.
 */
import type { ApiRole } from '@intentwatch/core';
import type { z } from 'zod';
import {
  AlertAnswerSchema,
  AlertQuery,
  DeadLetterListSchema,
  DeadLettersQuery,
  DeliveryListSchema,
  NewPolicyBody,
  OcsfExportQuery,
  PolicyBody,
  PolicyIdParams,
  PolicyListSchema,
  PolicySchema,
  ResumeBody,
  ResumedSchema,
  RevokeAcceptedSchema,
  RevokeBody,
} from './responder-schemas.js';
import {
  AgentDetailSchema,
  AgentListQuery,
  AgentListSchema,
  AlertListQuery,
  AlertPageSchema,
  AlertSchema,
  AlertSummaryQuery,
  AlertSummarySchema,
  HealthSchema,
  IdParams,
  IdentitySchema,
  NewSuppressionBody,
  ReadinessSchema,
  SuppressionListQuery,
  SuppressionListSchema,
  SuppressionSchema,
  TokenDetailSchema,
  TokenQuery,
  TriageBody,
  WindowQuery,
} from './schemas.js';

export interface RouteResponse {
  description: string;
  /** JSON body schema; absent for non-JSON answers (described by `contentType`), and for answers without a body (neither). */
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec {
  /** OpenAPI operationId. */
  id: string;
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express path (`/v1/alerts/:id`). */
  path: string;
  summary: string;
  description?: string;
  tag: string;
  /** Least role that may call it; null for open routes. */
  role: ApiRole | null;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** The body may be left out (no content at all), and then reads as `{}`. */
  bodyOptional?: boolean;
  /** Success answers by status. Error answers (400, 401, 403, 404, 429) are added by the document generator. */
  responses: Record<number, RouteResponse>;
  /** Error statuses beyond those every authenticated route may answer. */
  errors?: number[];
}

const route = <const S extends RouteSpec>(spec: S): S => spec;

export const routes = {
  healthz: route({
    id: 'getHealth',
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers',
    tag: 'health',
    role: null,
    responses: { 200: { description: 'Alive', schema: HealthSchema } },
  }),
  readyz: route({
    id: 'getReadiness',
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: the store (and any other dependency) answers',
    tag: 'health',
    role: null,
    responses: { 200: { description: 'Ready', schema: ReadinessSchema }, 503: { description: 'Not ready', schema: ReadinessSchema } },
  }),
  metrics: route({
    id: 'getMetrics',
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics: ingest, insert latency, detector runs and lag, alerts by detector/severity/status, queue depth',
    tag: 'health',
    role: 'viewer',
    responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain; version=0.0.4' } },
  }),
  me: route({
    id: 'getIdentity',
    method: 'get',
    path: '/v1/me',
    summary: 'The presented key’s name and role',
    tag: 'session',
    role: 'viewer',
    responses: { 200: { description: 'The caller', schema: IdentitySchema } },
  }),
  listAlerts: route({
    id: 'listAlerts',
    method: 'get',
    path: '/v1/alerts',
    summary: 'Alerts, filtered, sorted and paged with a cursor',
    description:
      'Open alerts that an active suppression mutes are left out unless `suppressed=include` or `only`. Pass `nextCursor` back as `cursor`, with the same filters, sort and order, for the next page.',
    tag: 'alerts',
    role: 'viewer',
    query: AlertListQuery,
    responses: { 200: { description: 'A page of alerts', schema: AlertPageSchema } },
  }),
  alertSummary: route({
    id: 'getAlertSummary',
    method: 'get',
    path: '/v1/alerts/summary',
    summary: 'How many alerts match, by status, and the open queue by severity and detector',
    tag: 'alerts',
    role: 'viewer',
    query: AlertSummaryQuery,
    responses: { 200: { description: 'Counts', schema: AlertSummarySchema } },
  }),
  getAlert: route({
    id: 'getAlert',
    method: 'get',
    path: '/v1/alerts/:id',
    summary: 'One alert with its evidence resolved from the stored spans, its history and its token’s intent vs actual use',
    description: 'With `format=ocsf`, the alert as an OCSF 1.4 Detection Finding instead (where the deployment runs responders).',
    tag: 'alerts',
    role: 'viewer',
    params: IdParams,
    query: AlertQuery,
    responses: { 200: { description: 'The alert, or its OCSF Detection Finding', schema: AlertAnswerSchema } },
    errors: [404],
  }),
  triageAlert: route({
    id: 'triageAlert',
    method: 'patch',
    path: '/v1/alerts/:id',
    summary: 'Triage: change status, assign, add a note; every change is kept in the audit trail',
    tag: 'alerts',
    role: 'analyst',
    params: IdParams,
    body: TriageBody,
    responses: { 200: { description: 'The alert as it now reads', schema: AlertSchema } },
    errors: [404, 413, 415],
  }),
  getToken: route({
    id: 'getToken',
    method: 'get',
    path: '/v1/tokens/:id',
    summary: 'A token: grants, session (refresh chain), delegation chain, intent vs actual, timeline of uses, alerts',
    tag: 'tokens',
    role: 'viewer',
    params: IdParams,
    query: TokenQuery,
    responses: { 200: { description: 'The token', schema: TokenDetailSchema } },
    errors: [404],
  }),
  listAgents: route({
    id: 'listAgents',
    method: 'get',
    path: '/v1/agents',
    summary: 'Agents seen in grants or uses, with their tokens, activity and open alerts',
    tag: 'agents',
    role: 'viewer',
    query: AgentListQuery,
    responses: { 200: { description: 'Agents', schema: AgentListSchema } },
  }),
  getAgent: route({
    id: 'getAgent',
    method: 'get',
    path: '/v1/agents/:id',
    summary: 'An agent: its tokens, tasks, activity and alerts',
    tag: 'agents',
    role: 'viewer',
    params: IdParams,
    query: WindowQuery,
    responses: { 200: { description: 'The agent', schema: AgentDetailSchema } },
    errors: [404],
  }),
  listSuppressions: route({
    id: 'listSuppressions',
    method: 'get',
    path: '/v1/suppressions',
    summary: 'Suppressions in force (or all, with all=true)',
    tag: 'suppressions',
    role: 'viewer',
    query: SuppressionListQuery,
    responses: { 200: { description: 'Suppressions, newest first', schema: SuppressionListSchema } },
  }),
  createSuppression: route({
    id: 'createSuppression',
    method: 'post',
    path: '/v1/suppressions',
    summary: 'Mute a detector for a token, agent, target or environment until an expiry',
    tag: 'suppressions',
    role: 'analyst',
    body: NewSuppressionBody,
    responses: { 201: { description: 'The suppression', schema: SuppressionSchema } },
    errors: [413, 415],
  }),
  liftSuppression: route({
    id: 'liftSuppression',
    method: 'delete',
    path: '/v1/suppressions/:id',
    summary: 'Lift a suppression before its expiry (its author, or an admin)',
    tag: 'suppressions',
    role: 'analyst',
    params: IdParams,
    responses: { 200: { description: 'The suppression as it now reads', schema: SuppressionSchema } },
    errors: [404, 409],
  }),
  listPolicies: route({
    id: 'listPolicies',
    method: 'get',
    path: '/v1/responders/policies',
    summary: 'Revoke policies (file, demo and API), without secret values, with their state and requests by status',
    tag: 'responders',
    role: 'analyst',
    responses: { 200: { description: 'Policies by id', schema: PolicyListSchema } },
  }),
  getPolicy: route({
    id: 'getPolicy',
    method: 'get',
    path: '/v1/responders/policies/:id',
    summary: 'One revoke policy, without secret values',
    tag: 'responders',
    role: 'analyst',
    params: PolicyIdParams,
    responses: { 200: { description: 'The policy', schema: PolicySchema } },
    errors: [404],
  }),
  createPolicy: route({
    id: 'createPolicy',
    method: 'post',
    path: '/v1/responders/policies',
    summary: 'Create a revoke policy; its endpoint is checked (DNS included) and its whsec_ secrets are stored encrypted',
    tag: 'responders',
    role: 'admin',
    body: NewPolicyBody,
    responses: { 201: { description: 'The policy', schema: PolicySchema } },
    errors: [409, 413, 415],
  }),
  replacePolicy: route({
    id: 'replacePolicy',
    method: 'put',
    path: '/v1/responders/policies/:id',
    summary: 'Create or replace an API revoke policy (file and demo policies are read-only)',
    tag: 'responders',
    role: 'admin',
    params: PolicyIdParams,
    body: PolicyBody,
    responses: {
      200: { description: 'The policy, replaced', schema: PolicySchema },
      201: { description: 'The policy, created', schema: PolicySchema },
    },
    errors: [409, 413, 415],
  }),
  deletePolicy: route({
    id: 'deletePolicy',
    method: 'delete',
    path: '/v1/responders/policies/:id',
    summary: 'Delete an API revoke policy',
    tag: 'responders',
    role: 'admin',
    params: PolicyIdParams,
    responses: { 204: { description: 'Deleted' } },
    errors: [404, 409],
  }),
  resumePolicy: route({
    id: 'resumePolicy',
    method: 'post',
    path: '/v1/responders/policies/:id/resume',
    summary: 'Set a paused or disabled policy active again; release: true queues its held requests again (still under its rate limit)',
    tag: 'responders',
    role: 'admin',
    params: PolicyIdParams,
    body: ResumeBody,
    bodyOptional: true,
    responses: { 200: { description: 'The policy and its held requests released or discarded', schema: ResumedSchema } },
    errors: [404, 413, 415],
  }),
  listDeadLetters: route({
    id: 'listDeadLetters',
    method: 'get',
    path: '/v1/responders/dead-letters',
    summary: 'Deliveries that failed their last attempt, with their bodies, newest first',
    tag: 'responders',
    role: 'admin',
    query: DeadLettersQuery,
    responses: { 200: { description: 'Dead letters', schema: DeadLetterListSchema } },
  }),
  revokeAlert: route({
    id: 'revokeAlert',
    method: 'post',
    path: '/v1/alerts/:id/revoke',
    summary: 'Revoke by hand from an alert, through a policy’s endpoint, by the same signed path as automatic revokes',
    tag: 'responders',
    role: 'analyst',
    params: IdParams,
    body: RevokeBody,
    responses: { 202: { description: 'The revoke request, queued (or held, as its policy stands)', schema: RevokeAcceptedSchema } },
    errors: [404, 409, 413, 415],
  }),
  listAlertDeliveries: route({
    id: 'listAlertDeliveries',
    method: 'get',
    path: '/v1/alerts/:id/deliveries',
    summary: 'The revoke requests of an alert, each with every delivery attempt',
    tag: 'responders',
    role: 'viewer',
    params: IdParams,
    responses: { 200: { description: 'Revoke requests, newest first', schema: DeliveryListSchema } },
    errors: [404],
  }),
  exportOcsf: route({
    id: 'exportOcsf',
    method: 'get',
    path: '/v1/export/ocsf',
    summary: 'Every alert changed since a time, in its current state, as OCSF Detection Findings (NDJSON, streamed)',
    tag: 'export',
    role: 'viewer',
    query: OcsfExportQuery,
    responses: {
      200: { description: 'One OcsfDetectionFinding (see the schema) per line', contentType: 'application/x-ndjson' },
    },
  }),
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof routes;
