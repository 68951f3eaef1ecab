/**
 * The gateway: an HTTP surface speaking the OpenAI and Anthropic APIs, routing
 * each request to a configured provider target, translating between wire
 * formats, relaying streams, and reporting each finished request to an observer.
 */
export { buildGateway, type ConfigSource, type GatewayOptions } from './http/app.js';
export type { CompletedRequest, RequestObserver } from './pipeline/record.js';
export { providers, providerTypes } from './providers/index.js';
export { KeelError, type ErrorCode } from './errors.js';
export { closeUpstreams } from './upstream/send.js';
