import { Agent, type Dispatcher } from 'undici';
import { KeelError } from '../errors.js';
import type { Abort, AbortLike } from './abort.js';
import { UpstreamBody } from './body.js';

/**
 * One HTTP attempt to a provider. undici pools keep-alive connections per origin;
 * one Agent per distinct connect timeout, since undici sets it per agent.
 */
const agents = new Map<number, Agent>();

function agentFor(connectMs: number): Agent {
  let agent = agents.get(connectMs);
  if (agent === undefined) {
    agent = new Agent({ connect: { timeout: connectMs }, keepAliveTimeout: 30_000, pipelining: 1 });
    agents.set(connectMs, agent);
  }
  return agent;
}

export interface UpstreamRequest {
  url: string;
  headers: Readonly<Record<string, string>>;
  body: string;
  /** POST unless said (the active health check's model list is a GET, sent with an empty body). */
  method?: 'GET' | 'POST';
  signal: Abort;
  connectMs: number;
  headersMs: number;
  /** Provider name for error messages (never the URL, which may carry credentials). */
  providerName: string;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: UpstreamBody;
}

/**
 * A URL's origin and path, parsed once: a config snapshot has a handful of endpoint URLs, and
 * parsing one per request (with its origin, pathname and search strings) showed in bench:alloc.
 * Bounded, in case a provider's base_url templates the model (one URL per model asked for).
 */
const parsed = new Map<string, { origin: string; path: string }>();
const PARSED_MAX = 256;

export function dispatchTarget(url: string): { origin: string; path: string } {
  let t = parsed.get(url);
  if (t === undefined) {
    const u = new URL(url);
    t = { origin: u.origin, path: u.pathname + u.search };
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(url, t);
  }
  return t;
}

/**
 * Sends through undici's dispatch API: the answer's status and headers resolve the promise,
 * its bytes queue in an UpstreamBody. The request's Abort aborts it at any point with its
 * own reason (before the answer: the promise rejects; after: the body fails).
 */
export async function sendUpstream(req: UpstreamRequest): Promise<UpstreamResponse> {
  const url = dispatchTarget(req.url);
  const body = new UpstreamBody();
  try {
    return await new Promise<UpstreamResponse>((resolve, reject) => {
      let settled = false;
      let controller: Dispatcher.DispatchController | undefined;
      const fail = (err: Error) => {
        if (settled) body.fail(err);
        else reject(err);
        settled = true;
      };
      const offAbort = req.signal.onAbort(() => {
        const reason = req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted');
        if (controller === undefined) fail(reason);
        else controller.abort(reason);
      });
      agentFor(req.connectMs).dispatch(
        {
          origin: url.origin,
          path: url.path,
          method: req.method ?? 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...req.headers },
          body: req.method === 'GET' ? undefined : req.body,
          headersTimeout: req.headersMs,
          // Body gaps are policed by Keel (relay ttft/idle; UpstreamBody.text for whole bodies),
          // which can stop the clock while it waits on the caller rather than on the provider.
          bodyTimeout: 0,
        },
        {
          onRequestStart(c) {
            controller = c;
            body.attach(c);
            if (req.signal.aborted) c.abort(req.signal.reason instanceof Error ? req.signal.reason : new Error('aborted'));
          },
          onResponseStart(_c, statusCode, headers) {
            if (statusCode < 200 || settled) return;
            settled = true;
            body.declaredLength = declaredLength(headers['content-length']);
            resolve({ statusCode, headers, body });
          },
          onResponseData(_c, chunk) {
            body.push(chunk);
          },
          onResponseEnd() {
            offAbort();
            body.end();
          },
          onResponseError(_c, err) {
            offAbort();
            fail(err);
          },
        },
      );
    });
  } catch (err) {
    throw transportError(err, req.providerName, req.signal);
  }
}

function declaredLength(header: string | string[] | undefined): number | undefined {
  const n = Number(Array.isArray(header) ? header[0] : header);
  return header === undefined || !Number.isFinite(n) ? undefined : n;
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** Maps a transport failure to a KeelError; an abort carries its own reason. */
export function transportError(err: unknown, provider: string, signal?: AbortLike): KeelError {
  if (signal?.aborted && signal.reason instanceof KeelError) return signal.reason;
  if (err instanceof KeelError) return err;
  const code = errorCode(err);
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${provider}: connect timed out`, { cause: err, upstreamCode: 'connect_timeout' });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new KeelError('KEEL_UPSTREAM_TIMEOUT', `provider ${provider}: no response headers in time`, { cause: err, upstreamCode: 'headers_timeout' });
    case 'ECONNREFUSED':
      return new KeelError('KEEL_UPSTREAM_UNAVAILABLE', `provider ${provider}: connection refused`, { cause: err, upstreamCode: 'connection_refused' });
    default:
      return new KeelError('KEEL_UPSTREAM_ERROR', `provider ${provider}: connection failed (${code ?? 'closed'})`, {
        cause: err,
        upstreamCode: 'connection_error',
        errorClass: 'provider_reset',
      });
  }
}

/** Closes every pooled connection (process shutdown and tests). */
export async function closeUpstreams(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}
