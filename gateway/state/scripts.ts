import { RATE_EPS_MS, RESERVE_EPS, TAT_MARGIN_MS } from './governance.js';
import type { RateResult, RateScope, RateState, ReserveResult, ReserveScope } from './types.js';

/**
 * The governance scripts for RedisState: each call is one script, so all-or-nothing across
 * replicas. They mirror governance.ts (the formulas are documented there). Numbers travel as
 * strings both ways: Redis truncates a Lua number reply to an integer, and Lua's tostring keeps
 * 14 digits, too few for epoch ms with a fraction; '%.17g' round-trips a double. Amounts go to
 * INCRBYFLOAT as the caller's own string for the same reason. Time is the server's (TIME, allowed
 * in scripts with effects replication, the only mode since Redis 7), so skewed replicas agree.
 */

/** A TTL argument in whole ms, at least 1. */
export const ms = (n: number) => String(Math.max(1, Math.ceil(n)));

// KEYS: the distinct counters. ARGV[1]: ε; then per scope: add (index into KEYS), amount,
// limit, ttl ms, window length, window indices.
export const RESERVE = `local vals = {}
for i = 1, #KEYS do vals[i] = tonumber(redis.call('GET', KEYS[i])) or 0 end
local eps, scopes, p = tonumber(ARGV[1]), {}, 2
while p <= #ARGV do
  local s = { add = tonumber(ARGV[p]), amount = ARGV[p + 1], limit = tonumber(ARGV[p + 2]), ttl = ARGV[p + 3], win = {} }
  local w = tonumber(ARGV[p + 4])
  for j = 1, w do s.win[j] = tonumber(ARGV[p + 4 + j]) end
  p = p + 5 + w
  scopes[#scopes + 1] = s
end
local function sum(s)
  local t = 0
  for _, k in ipairs(s.win) do t = t + vals[k] end
  return t
end
local out = {0}
for i, s in ipairs(scopes) do
  local t = sum(s)
  out[i + 1] = string.format('%.17g', t)
  if out[1] == 0 and t + tonumber(s.amount) > s.limit + eps * math.max(1, math.abs(s.limit)) then out[1] = i end
end
if out[1] ~= 0 then return out end
for _, s in ipairs(scopes) do
  vals[s.add] = tonumber(redis.call('INCRBYFLOAT', KEYS[s.add], s.amount))
  if redis.call('PTTL', KEYS[s.add]) < 0 then redis.call('PEXPIRE', KEYS[s.add], s.ttl) end
end
for i, s in ipairs(scopes) do out[i + 1] = string.format('%.17g', sum(s)) end
return out`;

// The server's clock as an integer ms and a fraction, and a TAT read as in governance.ts's
// tatView: relative to its base (an integer epoch ms), rebased on now when idle.
const TAT = `local clock = redis.call('TIME')
local nowms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local frac = (tonumber(clock[2]) % 1000) / 1000
local function f(x) return string.format('%.17g', x) end
local function view(key)
  local b, o = string.match(redis.call('GET', key) or '', '^(%S+) (%S+)$')
  b, o = tonumber(b), tonumber(o)
  if b and o and o > nowms - b + frac then return b, o, nowms - b + frac end
  return nowms, nil, frac
end
local function put(key, b, tat, now, margin)
  if tat <= now then redis.call('DEL', key)
  else redis.call('SET', key, f(b) .. ' ' .. f(tat), 'PX', math.ceil(tat - now) + margin) end
end
`;

// KEYS[i]: scope i's TAT. ARGV: ε, TTL margin, then per scope: interval ms, burst ms, cost.
// Returns the refusing scope (1-based, 0: admitted), the longest wait, then remaining and reset per scope.
export const RATE = `${TAT}local eps, margin = tonumber(ARGV[1]), tonumber(ARGV[2])
local bases, tats, nows, over, worst = {}, {}, {}, 0, 0
for i = 1, #KEYS do
  local T, burst, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local b, o, now = view(KEYS[i])
  bases[i], nows[i], tats[i] = b, now, math.max(o or now, now)
  local need, room, w = cost * T, burst + T, 0
  if need > room then w = tats[i] - now else w = math.max(0, tats[i] - now + need - room) end
  if w > eps and over == 0 then over = i end
  if w > worst then worst = w end
end
local out = {over, f(worst)}
for i = 1, #KEYS do
  local T, burst, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local tat, now = tats[i], nows[i]
  if over == 0 then
    tat = tat + cost * T
    put(KEYS[i], bases[i], tat, now, margin)
  end
  out[#out + 1] = f(math.max(0, math.floor((burst + T - (tat - now) + eps) / T)))
  out[#out + 1] = f(tat - now)
end
return out`;

// KEYS[1]: the TAT. ARGV: interval ms, delta units, TTL margin.
export const RATE_ADJUST = `${TAT}local b, o, now = view(KEYS[1])
put(KEYS[1], b, math.max(o or now, now) + tonumber(ARGV[1]) * tonumber(ARGV[2]), now, tonumber(ARGV[3]))
return 0`;

/** KEYS and ARGV for RESERVE: each counter once, scopes referring to it by index. */
export function reserveArgs(scopes: readonly ReserveScope[]): { keys: string[]; argv: string[] } {
  const keys: string[] = [];
  const at = new Map<string, number>();
  const idx = (k: string): string => {
    let i = at.get(k);
    if (i === undefined) {
      i = keys.push(k);
      at.set(k, i);
    }
    return String(i);
  };
  const argv = [String(RESERVE_EPS)];
  for (const s of scopes) argv.push(idx(s.add), String(s.amount), String(s.limit), ms(s.ttlMs), String(s.window.length), ...s.window.map(idx));
  return { keys, argv };
}

export function rateArgs(scopes: readonly RateScope[]): { keys: string[]; argv: string[] } {
  const argv = [String(RATE_EPS_MS), String(TAT_MARGIN_MS)];
  for (const s of scopes) argv.push(String(s.intervalMs), String(s.burstMs), String(s.cost));
  return { keys: scopes.map((s) => s.key), argv };
}

export const adjustArgs = (intervalMs: number, delta: number): string[] => [String(intervalMs), String(delta), String(TAT_MARGIN_MS)];

function numbers(raw: unknown, length: number): number[] {
  if (!Array.isArray(raw) || raw.length !== length) throw new Error('unexpected reply from a governance script');
  return raw.map((v: unknown) => Number(v));
}

export function reserveResult(raw: unknown, n: number): ReserveResult {
  const [over = 0, ...totals] = numbers(raw, n + 1);
  return over === 0 ? { ok: true, totals } : { ok: false, over: over - 1, totals };
}

export function rateResult(raw: unknown, n: number): RateResult {
  const [over = 0, retryAfterMs = 0, ...rest] = numbers(raw, 2 + 2 * n);
  const states: RateState[] = [];
  for (let i = 0; i < n; i++) states.push({ remaining: rest[2 * i] ?? 0, resetMs: rest[2 * i + 1] ?? 0 });
  return over === 0 ? { ok: true, states } : { ok: false, over: over - 1, retryAfterMs, states };
}
