/** Keel's OTLP/protobuf span encoder (trace.ts says what it matches and how that is tested). */
export { encodeTraceRequest } from './trace.js';
