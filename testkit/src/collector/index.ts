// Test support that runs the collector: a collector on a loopback port, OTLP/JSON and protobuf
// request bodies and their POSTs, and a monitor (collector and store behind a recording proxy).
export {
  type SpanSpec,
  collectorConfig,
  hex,
  keyValues,
  otlpJson,
  post,
  postJson,
  postProtobuf,
  startCollector,
  toProtobuf,
} from './harness.js';
export { type TestMonitor, listen, readBody, startTestMonitor } from './monitor.js';
