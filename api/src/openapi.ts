import { z } from 'zod';
import { type RouteSpec, routes } from './contract/routes.js';
import { components } from './contract/schemas.js';

const REF = (id: string) => `#/components/schemas/${id}`;

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema / OpenAPI objects are open-ended
type Json = Record<string, any>;

/** `$schema`/`$id` belong to standalone JSON Schemas, not to schemas inside an OpenAPI document. */
function strip(schema: Json): Json {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

/** A schema as the document writes it: a `$ref` when it is a named component, inline otherwise. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): Json {
  const meta = components.get(schema);
  if (meta?.id) return { $ref: REF(meta.id) };
  return strip(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json);
}

const ERRORS: Record<number, string> = {
  400: 'A parameter or the body is malformed; the message names the field',
  401: 'No API key, or not a valid one (send Authorization: Bearer <key>)',
  403: 'The key’s role may not do this',
  404: 'No such resource',
  409: 'The change conflicts with the current state',
  413: 'The body is too large',
  415: 'The body is not application/json',
  503: 'A part this route needs is not available (e.g. the Shared Signals transmitter without INTENTWATCH_SECRETS_KEY); the message says which',
  429: 'Too many requests for this key (or failed key checks from this address); retry after Retry-After seconds',
};

/**
 * The OpenAPI 3.1 document of the API, generated from the route declarations and the zod
 * schemas the routes validate with — what it says is what the code checks and sends.
 */
export function openApiDocument(options: { version?: string } = {}): Json {
  const generated = z.toJSONSchema(components, { target: 'draft-2020-12', io: 'output', uri: REF, unrepresentable: 'any' }) as {
    schemas: Record<string, Json>;
  };
  const schemas: Record<string, Json> = {};
  for (const [id, s] of Object.entries(generated.schemas)) schemas[id] = strip(s);

  const paths: Json = {};
  for (const spec of Object.values(routes) as RouteSpec[]) {
    const path = spec.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][spec.method] = operation(spec);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'intentwatch API',
      version: options.version ?? '0.1.0',
      description:
        'Alerts on AI-agent access tokens used outside the task they were issued for: triage, tokens, agents, suppressions, revoke webhooks (responders) and OCSF export. Roles: viewer reads, analyst triages, suppresses and revokes by hand, admin configures.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    tags: [...new Set(Object.values(routes).map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'An API key from INTENTWATCH_API_KEYS (role:key)' } },
    },
  };
}

function operation(spec: RouteSpec): Json {
  const op: Json = {
    operationId: spec.id,
    summary: spec.summary,
    tags: [spec.tag],
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.role ? { 'x-required-role': spec.role } : { security: [] }),
  };
  const parameters: Json[] = [];
  for (const [where, schema] of [
    ['path', spec.params],
    ['query', spec.query],
  ] as const) {
    if (!schema) continue;
    const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Json;
    const required = new Set<string>(json.required ?? []);
    for (const [name, p] of Object.entries<Json>(json.properties ?? {})) {
      const { description, ...rest } = p;
      parameters.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(description ? { description } : {}),
        schema: rest,
      });
    }
  }
  if (parameters.length) op.parameters = parameters;
  if (spec.body) {
    op.requestBody = { required: !spec.bodyOptional, content: { 'application/json': { schema: schemaOf(spec.body, 'input') } } };
  }
  const responses: Json = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    const content = r.schema
      ? { 'application/json': { schema: schemaOf(r.schema, 'output') } }
      : r.contentType
        ? { [r.contentType]: { schema: { type: 'string' } } }
        : undefined;
    responses[status] = { description: r.description, ...(content ? { content } : {}) };
  }
  const errors = spec.role ? [400, 401, 403, 429, ...(spec.errors ?? [])] : (spec.errors ?? []);
  for (const status of [...new Set(errors)].sort()) {
    responses[status] = { description: ERRORS[status] ?? 'Error', content: { 'application/json': { schema: { $ref: REF('Error') } } } };
  }
  op.responses = responses;
  return op;
}
