// Test support shared by the workspaces' suites: a migrated store per test file, a poller with a
// deadline, a fault injector around a store, a broker's webhook endpoint, and OTLP bodies placed in
// time. What needs a running collector is in `@intentwatch/testkit/collector`.
export { eventually, type EventuallyOptions } from './eventually.js';
export { openTestStore, type StoreFor, type TestStore, type TestStoreOptions } from './store.js';
export { StoreFaults } from './store-faults.js';
export { type AttrInput, type TimedSpan, resolveAttrs, timedJsonEvents, timedOtlpJson } from './timed-otlp.js';
export { type ReceivedRequest, type Script, WebhookReceiver } from './webhook-receiver.js';
