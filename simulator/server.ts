import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { anthropicApi } from './anthropic.js';
import { BadRequest, type SimApi } from './api.js';
import { embedding, countTokens, toBase64 } from './answer.js';
import { behaviourAt, parseModelName, validateBehaviour, type Behaviour, type BehaviourSpec } from './behaviour.js';
import { produceAnswer, requestFault, sendBody, sendJson, sendStream } from './chat.js';
import { Exchange, type AttemptRecord } from './exchange.js';
import { openaiApi } from './openai.js';
import { responsesApi } from './responses.js';

export interface SimulatorOptions {
  host?: string;
  port?: number;
  behaviours?: Record<string, BehaviourSpec>;
  defaultBehaviour?: BehaviourSpec;
  /** When set, requests presenting another key get 401 in the provider's format. */
  requireKey?: string;
  now?: () => number;
  seed?: number;
}

export interface Simulator {
  url: string;
  port: number;
  attempts(): readonly AttemptRecord[];
  attemptsFor(model: string): readonly AttemptRecord[];
  clearAttempts(): void;
  setBehaviour(model: string, spec: BehaviourSpec): void;
  close(): Promise<void>;
}

/** mulberry32: a tiny seeded PRNG, so error_rate runs repeat exactly. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7);
  const key = req.headers['x-api-key'] ?? req.headers['api-key'];
  return typeof key === 'string' ? key : undefined;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest('We could not parse the JSON body of your request.');
  }
}

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const now = opts.now ?? Date.now;
  const random = seeded(opts.seed ?? 1);
  const models = new Map<string, { spec: BehaviourSpec; since: number; served: number }>();
  for (const [name, spec] of Object.entries(opts.behaviours ?? {})) models.set(name, { spec: validateBehaviour(spec, name), since: now(), served: 0 });
  const fallback = validateBehaviour(opts.defaultBehaviour ?? {}, 'default');
  const started = now();
  const attempts: AttemptRecord[] = [];
  const sockets = new Set<Socket>();
  const shutdown = new AbortController();
  let seq = 0;

  const behaviourOf = (model: string): Behaviour => {
    let entry = models.get(model);
    if (entry === undefined) {
      const parsed = parseModelName(model, fallback);
      entry = parsed === undefined ? { spec: fallback, since: started, served: 0 } : { spec: parsed, since: now(), served: 0 };
      if (parsed !== undefined) models.set(model, entry);
    }
    const b = behaviourAt(entry.spec, now() - entry.since);
    // `times`: the fault hits only the model's first N requests.
    if (b.times !== undefined && entry.served++ >= b.times) return { ...b, fault: undefined, error_rate: undefined };
    return b;
  };

  async function chat(api: SimApi, req: IncomingMessage, ex: Exchange, body: unknown): Promise<void> {
    if (opts.requireKey !== undefined && presentedKey(req) !== opts.requireKey) {
      return ex.error(api, 'unauthorized', 401, 'Incorrect API key provided (simulated).');
    }
    const parsed = api.read(body);
    ex.record.model = parsed.model;
    ex.record.stream = parsed.stream;
    const b = behaviourOf(parsed.model);
    await ex.sleep(b.headers_delay_ms);
    const failNow = b.error_rate !== undefined && random() < b.error_rate;
    if (await requestFault(api, ex, b, failNow, parsed.answer.prefill)) return;
    if (parsed.unknownState !== undefined) throw new BadRequest(parsed.unknownState);
    const answer = produceAnswer(api, parsed, b, ex.record.seq);
    const ctx = { seq: ex.record.seq, model: parsed.model, created: Math.floor(now() / 1000), includeUsage: parsed.includeUsage, n: parsed.n };
    return parsed.stream ? sendStream(api, ex, answer, ctx, b) : sendJson(api, ex, answer, ctx, b);
  }

  async function embeddings(ex: Exchange, body: unknown): Promise<void> {
    const b = body as { model?: unknown; input?: unknown; dimensions?: unknown; encoding_format?: unknown } | undefined;
    if (typeof b?.model !== 'string' || b.input === undefined) throw new BadRequest("'model' and 'input' are required");
    ex.record.model = b.model;
    const behaviour = behaviourOf(b.model);
    await ex.sleep(behaviour.headers_delay_ms);
    if (await requestFault(openaiApi, ex, behaviour, behaviour.error_rate !== undefined && random() < behaviour.error_rate)) return;
    await ex.sleep(behaviour.latency_ms);
    const inputs = (Array.isArray(b.input) && (b.input.length === 0 || typeof b.input[0] !== 'number') ? b.input : [b.input]).map((i) => (typeof i === 'string' ? i : JSON.stringify(i)));
    const dims = typeof b.dimensions === 'number' ? b.dimensions : 16;
    const data = inputs.map((text, index) => {
      const v = embedding(text, dims);
      return { object: 'embedding', index, embedding: b.encoding_format === 'base64' ? toBase64(v) : v };
    });
    const tokens = inputs.reduce((n, t) => n + countTokens(t), 0);
    await sendBody(ex, { object: 'list', data, model: b.model, usage: { prompt_tokens: tokens, total_tokens: tokens } }, behaviour);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const api: SimApi = path === '/v1/messages' ? anthropicApi : path === '/v1/responses' ? responsesApi : openaiApi;
    if (req.method === 'GET' && path === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [...models.keys()].map((id) => ({ id, object: 'model', created: 0, owned_by: 'simulator' })) }));
      return;
    }
    const kind = path === '/v1/embeddings' ? 'openai-embeddings' : api.id;
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v ?? '']));
    const record: AttemptRecord = { seq: seq++, at: now(), api: kind, path, model: '', stream: false, headers, body: undefined, outcome: 'pending' };
    const ex = new Exchange(req, res, record, now, shutdown.signal);
    try {
      if (req.method !== 'POST' || !['/v1/chat/completions', '/v1/messages', '/v1/responses', '/v1/embeddings'].includes(path)) {
        return ex.error(api, 'not_found', 404, `Unknown request URL: ${req.method ?? ''} ${path}`);
      }
      attempts.push(record);
      record.body = await readBody(req);
      await (kind === 'openai-embeddings' ? embeddings(ex, record.body) : chat(api, req, ex, record.body));
    } catch (err) {
      if (err instanceof BadRequest) return ex.error(api, 'bad_request', 400, err.message);
      ex.error(api, 'server_error', 500, 'simulator failure');
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${opts.host ?? '127.0.0.1'}:${port}`,
    port,
    attempts: () => attempts,
    attemptsFor: (model) => attempts.filter((a) => a.model === model),
    clearAttempts: () => void attempts.splice(0),
    setBehaviour: (model, spec) => void models.set(model, { spec: validateBehaviour(spec, model), since: now(), served: 0 }),
    close: async () => {
      shutdown.abort();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
