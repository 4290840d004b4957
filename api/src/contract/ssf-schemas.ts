/**
 * The shapes of the Shared Signals transmitter's routes (OpenID SSF 1.0 §7 and §8, RFC 8936),
 * declared as the rest of the API's are (see schemas.ts). Field names are the specs' own.
 */
import { POLL_METHOD, PUSH_METHOD, SSF_EVENTS_SUPPORTED, STREAM_STATUSES } from '@intentwatch/responders';
import { z } from 'zod';
import { named } from './schemas.js';

const streamId = z.string().regex(/^[0-9a-f]{32}$/, 'a stream_id as the transmitter gave it (32 hex digits)');
const uri = z.string().min(1).max(2048);

export const StreamIdQuery = z.strictObject({ stream_id: streamId });
export const OptionalStreamIdQuery = z.strictObject({ stream_id: streamId.optional() });
export const StreamIdParams = z.strictObject({ streamId });

const Audience = z.union([z.string().min(1).max(512), z.array(z.string().min(1).max(512)).min(1).max(10)]);

const DeliveryInput = z.strictObject({
  method: z.enum([PUSH_METHOD, POLL_METHOD]).meta({ description: `${PUSH_METHOD} (push, RFC 8935) or ${POLL_METHOD} (poll, RFC 8936)` }),
  endpoint_url: uri.optional().meta({
    description:
      'Push: the receiver’s URL (https to a public address unless INTENTWATCH_WEBHOOK_ALLOW allows it). Poll: set by the transmitter',
  }),
  authorization_header: z
    .string()
    .min(1)
    .max(4096)
    .optional()
    .meta({ description: 'Push: sent as Authorization with every SET; stored encrypted, never shown back' }),
});

const streamFields = {
  aud: Audience.optional().meta({
    description: 'The receiver(s) the SETs are for (their aud claim); default the stream’s own URL. Cannot change',
  }),
  events_requested: z.array(uri).max(50).optional().meta({ description: 'Event type URIs; default every supported one' }),
  delivery: DeliveryInput.optional(),
  description: z.string().max(1000).optional(),
  max_per_minute: z
    .number()
    .int()
    .min(1)
    .max(100_000)
    .optional()
    .meta({ description: 'intentwatch: past this many SETs a minute the stream pauses and an alert says why (default 600)' }),
  dry_run: z.boolean().optional().meta({ description: 'intentwatch: record the SETs that would be sent, send nothing' }),
};

export const NewStreamBody = named('NewStream', z.strictObject(streamFields), 'A stream to create (SSF 1.0 §8.1.1.1)');
export const StreamUpdateBody = named(
  'StreamUpdate',
  z.strictObject({ stream_id: streamId, ...streamFields }),
  'Fields to change (PATCH) or the whole receiver-supplied configuration (PUT), SSF 1.0 §8.1.1.3–4',
);

export const StreamSchema = named(
  'Stream',
  z.strictObject({
    stream_id: z.string(),
    iss: z.string(),
    aud: Audience,
    events_supported: z.array(z.string()),
    events_requested: z.array(z.string()),
    events_delivered: z.array(z.string()),
    delivery: z.strictObject({ method: z.string(), endpoint_url: z.string() }),
    min_verification_interval: z.number().int(),
    inactivity_timeout: z.number().int().optional().meta({
      description:
        'Seconds without receiver activity after which the stream is paused (INTENTWATCH_SSF_INACTIVITY_TIMEOUT_S); absent: never',
    }),
    description: z.string(),
    max_per_minute: z.number().int(),
    dry_run: z.boolean(),
  }),
  'A stream’s configuration (SSF 1.0 §8.1.1)',
);
export const StreamListSchema = named('StreamList', z.array(StreamSchema), 'Every stream (SSF 1.0 §8.1.1.2 without stream_id)');
export const StreamOrListSchema = z.union([StreamSchema, StreamListSchema]);

export const StreamStatusSchema = named(
  'StreamStatus',
  z.strictObject({ stream_id: z.string(), status: z.enum(STREAM_STATUSES), reason: z.string().max(1000).optional() }),
  'SSF 1.0 §8.1.2',
);
export const StreamStatusBody = z.strictObject({
  stream_id: streamId,
  status: z.enum(STREAM_STATUSES),
  reason: z.string().max(1000).optional(),
});

/** RFC 9493 §3 subject identifier: a format and its string members. */
const Subject = z
  .record(z.string().max(64), z.string().max(1024))
  .refine((s) => typeof s.format === 'string' && s.format.length > 0 && Object.keys(s).length <= 8, {
    message: 'a subject identifier: an object with a format and up to 7 string members (RFC 9493)',
  });

export const SubjectBody = z.strictObject({
  stream_id: streamId,
  subject: Subject,
  verified: z.boolean().optional(),
});

export const VerifyBody = z.strictObject({ stream_id: streamId, state: z.string().max(1024).optional() });

export const PollBody = named(
  'PollRequest',
  z.strictObject({
    ack: z.array(z.string().max(128)).max(10_000).optional().meta({ description: 'jti of SETs received and processed' }),
    setErrs: z
      .record(z.string().max(128), z.strictObject({ err: z.string().max(64), description: z.string().max(1000).optional() }))
      .refine((r) => Object.keys(r).length <= 10_000, { message: 'at most 10000 entries' })
      .optional()
      .meta({ description: 'jti of SETs the receiver could not process, with its error (RFC 8935 §2.3 codes)' }),
    maxEvents: z.number().int().min(0).max(1000).optional().meta({ description: 'Most SETs to answer (default 100); 0 only acknowledges' }),
    returnImmediately: z.boolean().optional().meta({ description: 'false: wait up to 25 s for a SET when none is waiting' }),
  }),
  'RFC 8936 §2.4 poll request',
);

export const PollResponseSchema = named(
  'PollResponse',
  z.strictObject({ sets: z.record(z.string(), z.string()).meta({ description: 'jti → SET' }), moreAvailable: z.boolean() }),
  'RFC 8936 §2.5',
);

export const RotatedKeysSchema = named(
  'RotatedKeys',
  z.strictObject({
    kid: z.string().meta({ description: 'The key that signs from now on' }),
    retiring: z
      .array(z.strictObject({ kid: z.string(), retireAt: z.string() }))
      .meta({ description: 'Replaced keys, in the JWKS until retireAt' }),
  }),
);

export const SsfConfigurationSchema = named(
  'SsfConfiguration',
  z.object({
    spec_version: z.string(),
    issuer: z.string(),
    jwks_uri: z.string(),
    delivery_methods_supported: z.array(z.string()),
    configuration_endpoint: z.string(),
    status_endpoint: z.string(),
    add_subject_endpoint: z.string(),
    remove_subject_endpoint: z.string(),
    verification_endpoint: z.string(),
    authorization_schemes: z.array(z.object({ spec_urn: z.string() })),
    default_subjects: z.string(),
  }),
  'Transmitter configuration metadata (SSF 1.0 §7.1)',
);

export const JwksSchema = named('Jwks', z.object({ keys: z.array(z.record(z.string(), z.unknown())) }), 'JSON Web Key Set (RFC 7517)');

export { SSF_EVENTS_SUPPORTED };
