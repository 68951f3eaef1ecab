/** Keel's OTLP/protobuf span encoder (trace.ts says what it matches and how that is tested). */
export { encodeSpanField, encodeTraceRequest } from './trace.js';
export { assembleGroup, groupHeader, type GroupHeader } from './group.js';
