import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ServerConfig } from '../../config/schema.js';
import { KeelError } from '../errors.js';
import { formatForUrl } from './errors.js';

/**
 * Errors Node raises on a connection before (or instead of) a request reaching fastify:
 * the headers or the body did not arrive in time, the headers are too large, the bytes
 * are not HTTP. Node would answer with a bare status line; Keel answers in the caller's
 * format with its error headers, then closes the socket (its state is unknown).
 */

interface InProgress {
  url: string;
  res: ServerResponse;
}

/** The request each socket is serving now, so a timeout mid-body is answered in that request's format. */
const current = new WeakMap<Socket, InProgress>();

export function trackRequest(socket: Socket, url: string, res: ServerResponse): void {
  current.set(socket, { url, res });
}

type ServerLimits = Pick<ServerConfig, 'headers_timeout_ms' | 'request_timeout_ms' | 'max_header_bytes'>;

export function clientErrorHandler(limits: ServerLimits): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    // A reset peer, or a socket already gone: there is no one to answer.
    if (err.code === 'ECONNRESET' || socket.destroyed) {
      socket.destroy();
      return;
    }
    const inProgress = current.get(socket);
    // The socket's last request may be finished (keep-alive): then this error is about a new one.
    const live = inProgress !== undefined && !inProgress.res.writableEnded ? inProgress : undefined;
    if (socket.writable && live?.res.headersSent !== true) {
      const url = live?.url ?? requestLineUrl(err) ?? '/';
      socket.write(rawResponse(toKeel(err, limits), url));
    }
    socket.destroy();
  };
}

function toKeel(err: Error & { code?: string }, limits: ServerLimits): KeelError {
  switch (err.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new KeelError(
        'KEEL_REQUEST_TIMEOUT',
        `The request did not arrive in time: headers are expected within ${limits.headers_timeout_ms} ms (server.headers_timeout_ms) and the whole request within ${limits.request_timeout_ms} ms (server.request_timeout_ms).`,
      );
    case 'HPE_HEADER_OVERFLOW':
      return new KeelError('KEEL_HEADERS_TOO_LARGE', `The request headers are larger than this gateway accepts (${limits.max_header_bytes} bytes; server.max_header_bytes).`);
    default:
      return new KeelError('KEEL_INVALID_REQUEST', 'The request is not well-formed HTTP/1.1.');
  }
}

/** The path from the request line Node had received, when it had one (it has for too-large headers). */
function requestLineUrl(err: Error): string | undefined {
  const raw = (err as { rawPacket?: unknown }).rawPacket;
  if (!Buffer.isBuffer(raw)) return undefined;
  return /^[A-Z]+ (\/\S*)/.exec(raw.toString('latin1', 0, 256))?.[1];
}

function rawResponse(err: KeelError, url: string): string {
  const body = JSON.stringify(formatForUrl(url).renderError(err));
  return (
    `HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n` +
    'content-type: application/json\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n` +
    'connection: close\r\n' +
    `x-keel-error-code: ${err.code}\r\n` +
    `x-keel-error-class: ${err.errorClass}\r\n` +
    `\r\n${body}`
  );
}
