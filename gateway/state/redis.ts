import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { checkAdjust, checkRate, checkReserve, checkSettle } from './governance.js';
import { ADMIT, admitArgs, admitResult, adjustArgs, INCR, ms, RATE, RATE_ADJUST, rateArgs, rateResult, RESERVE, reserveArgs, reserveResult, SETTLE, settleArgs } from './scripts.js';
import type { AdmitResult, GovernanceState, RateResult, RateScope, ReserveResult, ReserveScope, SettleAdjust, SettleIncr, StateHealth } from './types.js';

/**
 * The Redis backend. Each operation that must be atomic across replicas is one Lua script
 * (Redis runs a script without interleaving other commands). No offline queue and no retries
 * per request: a call either reaches Redis now or fails now, and the caller falls back
 * (ResilientState) instead of waiting on a queue that grows while Redis is away. The budget and
 * rate-limit scripts (and INCR, which shares their counter arithmetic) are in scripts.ts.
 */
// ARGV[1] = '1' when the value is expected absent, else ARGV[2] is the expected value.
const CAS = `local cur = redis.call('GET', KEYS[1])
if (ARGV[1] == '1' and cur == false) or (ARGV[1] == '0' and cur == ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;

const LEASE = `local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface RedisStateOptions {
  url: string;
  /** Every command's deadline: past it the call fails (and the caller falls back). */
  commandTimeoutMs: number;
  /** Prefixed to every key, so several Keel deployments can share one Redis. */
  keyPrefix: string;
}

/** A command Redis did not answer within the deadline (the caller falls back for this call). */
export class StateDeadlineError extends Error {
  constructor(deadlineMs: number) {
    super(`Redis did not answer within ${deadlineMs} ms`);
    this.name = 'StateDeadlineError';
  }
}

/**
 * The deadline is judged after the event loop has read its sockets: when the timer fires late
 * because this process was busy (a stalled loop, both cores loaded), an answer Redis sent in time
 * sits unread in the socket, and the timers phase runs before the poll phase that would read it.
 * setImmediate runs after that poll phase, so the verdict is about Redis, not about our own loop.
 */
function within<T>(p: Promise<T>, deadlineMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (done) return;
        done = true;
        reject(new StateDeadlineError(deadlineMs));
      });
    }, deadlineMs);
    p.then(
      (v) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

const shas = new Map<string, string>();
function shaOf(lua: string): string {
  let sha = shas.get(lua);
  if (sha === undefined) {
    sha = createHash('sha1').update(lua).digest('hex');
    shas.set(lua, sha);
  }
  return sha;
}

export class RedisState implements GovernanceState {
  readonly backend = 'redis' as const;
  readonly #redis: Redis;
  readonly #deadlineMs: number;

  constructor(o: RedisStateOptions) {
    this.#deadlineMs = o.commandTimeoutMs;
    this.#redis = new Redis(o.url, {
      keyPrefix: o.keyPrefix,
      // The deadline callers see is within() below; this one only bounds what ioredis keeps
      // waiting for after a caller has moved on.
      commandTimeout: Math.max(1000, o.commandTimeoutMs * 10),
      connectTimeout: Math.max(1000, o.commandTimeoutMs * 10),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Reconnect for ever, at most every 2 s: the gateway keeps serving on local state meanwhile.
      retryStrategy: (times) => Math.min(times * 200, 2000),
      lazyConnect: false,
    });
    // Connection errors surface as failed calls; the event itself must not crash the process.
    this.#redis.on('error', () => undefined);
  }

  /** Bare Redis knows nothing of degradation: ResilientState wraps it and answers for it. */
  health(): StateHealth {
    return { backend: 'redis', degraded: this.#redis.status !== 'ready', since: undefined, fallbacks: 0, pendingResync: 0 };
  }

  /** Resolves when connected (tests, and the first health check). */
  async ready(timeoutMs = 5000): Promise<void> {
    if (this.#redis.status === 'ready') return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Redis not ready within ${timeoutMs} ms`)), timeoutMs);
      this.#redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * A script by its SHA-1 (EVALSHA): the body crosses the wire once per connection, not on every
   * call (RESERVE and RATE are kilobytes, and sit on the request path). Redis forgets scripts on
   * a restart or SCRIPT FLUSH: NOSCRIPT then sends the body once (EVAL, which caches it again).
   */
  async #run(lua: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> {
    const sha = shaOf(lua);
    try {
      return await this.#redis.evalsha(sha, numKeys, ...args);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.#redis.eval(lua, numKeys, ...args);
    }
  }

  async ping(): Promise<boolean> {
    return (await within(this.#redis.ping(), this.#deadlineMs)) === 'PONG';
  }

  async incr(key: string, by: number, ttlMs: number): Promise<number> {
    return Number(await within(this.#run(INCR, 1, key, String(by), ms(ttlMs)), this.#deadlineMs));
  }

  async get(key: string): Promise<string | undefined> {
    return (await within(this.#redis.get(key), this.#deadlineMs)) ?? undefined;
  }

  async getMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    return (await within(this.#redis.mget(...keys), this.#deadlineMs)).map((v) => v ?? undefined);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await within(this.#redis.set(key, value, 'PX', ms(ttlMs)), this.#deadlineMs);
  }

  async compareAndSet(key: string, expected: string | undefined, value: string, ttlMs: number): Promise<boolean> {
    return (await within(this.#run(CAS, 1, key, expected === undefined ? '1' : '0', expected ?? '', value, ms(ttlMs)), this.#deadlineMs)) === 1;
  }

  async lease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await within(this.#run(LEASE, 1, name, owner, ms(ttlMs)), this.#deadlineMs)) === 1;
  }

  async release(name: string, owner: string): Promise<void> {
    await within(this.#run(RELEASE, 1, name, owner), this.#deadlineMs);
  }

  async reserve(scopes: readonly ReserveScope[]): Promise<ReserveResult> {
    checkReserve(scopes);
    if (scopes.length === 0) return { ok: true, totals: [] };
    const { keys, argv } = reserveArgs(scopes);
    return reserveResult(await within(this.#run(RESERVE, keys.length, ...keys, ...argv), this.#deadlineMs), scopes.length);
  }

  async rate(scopes: readonly RateScope[]): Promise<RateResult> {
    checkRate(scopes);
    if (scopes.length === 0) return { ok: true, states: [] };
    const { keys, argv } = rateArgs(scopes);
    return rateResult(await within(this.#run(RATE, keys.length, ...keys, ...argv), this.#deadlineMs), scopes.length);
  }

  async rateAdjust(key: string, intervalMs: number, delta: number): Promise<void> {
    checkAdjust(intervalMs, delta);
    await within(this.#run(RATE_ADJUST, 1, key, ...adjustArgs(intervalMs, delta)), this.#deadlineMs);
  }

  async admit(rate: readonly RateScope[], reserve: readonly ReserveScope[]): Promise<AdmitResult> {
    checkRate(rate);
    checkReserve(reserve);
    if (rate.length === 0 && reserve.length === 0) return { ok: true, states: [], totals: [] };
    const { keys, argv } = admitArgs(rate, reserve);
    return admitResult(await within(this.#run(ADMIT, keys.length, ...keys, ...argv), this.#deadlineMs), rate.length, reserve.length);
  }

  async settle(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): Promise<void> {
    checkSettle(adjust, incr);
    if (adjust.length === 0 && incr.length === 0) return;
    const { keys, argv } = settleArgs(adjust, incr);
    await within(this.#run(SETTLE, keys.length, ...keys, ...argv), this.#deadlineMs);
  }

  async close(): Promise<void> {
    this.#redis.disconnect(false);
    await Promise.resolve();
  }
}
