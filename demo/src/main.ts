#!/usr/bin/env node
import { startDemoFleet } from './fleet.js';

/**
 * `npm run demo`: the demo fleet against a monitor that is already running. The collector is
 * `OTEL_EXPORTER_OTLP_ENDPOINT` (default http://127.0.0.1:4318); `INTENTWATCH_INGEST_KEY` is sent
 * when the collector requires a key. Runs until interrupted.
 */
const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || 'http://127.0.0.1:4318';
const ingestKey = process.env.INTENTWATCH_INGEST_KEY?.trim();
const say = (line: string) => process.stdout.write(`${line}\n`);

say(`intentwatch demo — a simulated organisation sending spans to ${endpoint}`);
say('  demo        broker, orchestrator and agents at work; one misuse per detector a few seconds after start, then every 5 minutes');
const fleet = startDemoFleet({ endpoint, ...(ingestKey ? { ingestKey } : {}), say });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await fleet.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
