import { RATE_EPS_MS, RESERVE_EPS, TAT_MARGIN_MS } from './governance.js';
import type { AdmitResult, RateResult, RateScope, RateState, ReserveResult, ReserveScope, SettleAdjust, SettleIncr } from './types.js';

/**
 * The governance scripts for RedisState: each call is one script, so all-or-nothing across
 * replicas. They mirror governance.ts (the formulas are documented there). Numbers travel as
 * strings both ways: Redis truncates a Lua number reply to an integer, and Lua's tostring keeps
 * 14 digits, too few for epoch ms with a fraction; '%.17g' round-trips a double. Amounts go to
 * INCRBYFLOAT as the caller's own string for the same reason. Time is the server's (TIME, allowed
 * in scripts with effects replication, the only mode since Redis 7), so skewed replicas agree.
 *
 * Each formula is written once, as Lua functions (ADD, RESERVE_FN, TAT, GCRA_FN below), and the
 * scripts are composed from them: RESERVE and RATE judge then commit one kind; ADMIT judges
 * both kinds and commits both only when neither refuses (one round trip before the call);
 * SETTLE moves TATs and adds to counters (one round trip after it); INCR and RATE_ADJUST are
 * the single-key cases of SETTLE's two halves.
 */

/** A TTL argument in whole ms, at least 1. */
export const ms = (n: number) => String(Math.max(1, Math.ceil(n)));

// A counter that expires ttl ms after it was created.
const ADD = `local function f(x) return string.format('%.17g', x) end
local function add(key, by, ttl)
  local v = redis.call('INCRBYFLOAT', key, by)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
  return v
end
`;

// Budget reservations. Scopes' counters are KEYS[k0 + 1 ..]; from ARGV[p], per scope: add
// (index among those counters), amount, limit, ttl ms, window length, window indices.
// judge reads the counters as found and names the first scope that refuses (0: none);
// commit adds every amount; totals are each scope's window sum.
const RESERVE_FN = `local function reserve_judge(k0, p, eps)
  local r = { k0 = k0, vals = {}, scopes = {}, over = 0 }
  for i = k0 + 1, #KEYS do r.vals[i - k0] = tonumber(redis.call('GET', KEYS[i])) or 0 end
  while p <= #ARGV do
    local s = { add = tonumber(ARGV[p]), amount = ARGV[p + 1], limit = tonumber(ARGV[p + 2]), ttl = ARGV[p + 3], win = {} }
    local w = tonumber(ARGV[p + 4])
    for j = 1, w do s.win[j] = tonumber(ARGV[p + 4 + j]) end
    p = p + 5 + w
    r.scopes[#r.scopes + 1] = s
  end
  for i, s in ipairs(r.scopes) do
    local t = 0
    for _, k in ipairs(s.win) do t = t + r.vals[k] end
    if r.over == 0 and t + tonumber(s.amount) > s.limit + eps * math.max(1, math.abs(s.limit)) then r.over = i end
  end
  return r
end
local function reserve_commit(r)
  for _, s in ipairs(r.scopes) do r.vals[s.add] = tonumber(add(KEYS[r.k0 + s.add], s.amount, s.ttl)) end
end
local function reserve_totals(r, out)
  for _, s in ipairs(r.scopes) do
    local t = 0
    for _, k in ipairs(s.win) do t = t + r.vals[k] end
    out[#out + 1] = f(t)
  end
end
`;

// The server's clock as an integer ms and a fraction, and a TAT read as in governance.ts's
// tatView: relative to its base (an integer epoch ms), rebased on now when idle.
const TAT = `local clock = redis.call('TIME')
local nowms = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local frac = (tonumber(clock[2]) % 1000) / 1000
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
local function adjust(key, T, delta, margin)
  local b, o, now = view(key)
  put(key, b, math.max(o or now, now) + T * delta, now, margin)
end
`;

// GCRA. Scope i's TAT is KEYS[k0 + i]; from ARGV[p], per scope: interval ms, burst ms, cost.
// judge names the first scope that refuses (0: none) and the longest wait; commit advances
// every TAT; states appends remaining and reset per scope (as found, or after the commit).
const GCRA_FN = `local function rate_judge(k0, n, p, eps)
  local r = { k0 = k0, n = n, eps = eps, s = {}, over = 0, worst = 0 }
  for i = 1, n do
    local q = p + 3 * (i - 1)
    local T, burst, cost = tonumber(ARGV[q]), tonumber(ARGV[q + 1]), tonumber(ARGV[q + 2])
    local b, o, now = view(KEYS[k0 + i])
    local s = { T = T, burst = burst, cost = cost, base = b, now = now, tat = math.max(o or now, now) }
    local need, room, w = cost * T, burst + T, 0
    if need > room then w = s.tat - now else w = math.max(0, s.tat - now + need - room) end
    if w > eps and r.over == 0 then r.over = i end
    if w > r.worst then r.worst = w end
    r.s[i] = s
  end
  return r
end
local function rate_commit(r, margin)
  for i, s in ipairs(r.s) do
    s.tat = s.tat + s.cost * s.T
    put(KEYS[r.k0 + i], s.base, s.tat, s.now, margin)
  end
end
local function rate_states(r, out)
  for _, s in ipairs(r.s) do
    out[#out + 1] = f(math.max(0, math.floor((s.burst + s.T - (s.tat - s.now) + r.eps) / s.T)))
    out[#out + 1] = f(s.tat - s.now)
  end
end
`;

// KEYS: the distinct counters. ARGV[1]: ε; then the scopes (RESERVE_FN).
// Returns the refusing scope (1-based, 0: admitted), then each scope's total.
export const RESERVE = `${ADD}${RESERVE_FN}local r = reserve_judge(0, 2, tonumber(ARGV[1]))
if r.over == 0 then reserve_commit(r) end
local out = {r.over}
reserve_totals(r, out)
return out`;

// KEYS[i]: scope i's TAT. ARGV: ε, TTL margin, then the scopes (GCRA_FN).
// Returns the refusing scope (1-based, 0: admitted), the longest wait, then remaining and reset per scope.
export const RATE = `${ADD}${TAT}${GCRA_FN}local r = rate_judge(0, #KEYS, 3, tonumber(ARGV[1]))
if r.over == 0 then rate_commit(r, tonumber(ARGV[2])) end
local out = {r.over, f(r.worst)}
rate_states(r, out)
return out`;

// KEYS: n TATs, then the distinct budget counters. ARGV: rate ε, TTL margin, reserve ε, n,
// the n rate scopes, then the reserve scopes. Both kinds are judged on the state as found;
// both commit only when neither refuses. Returns the kind that refused (0: none, 1: rate,
// 2: reserve; rate first, as a request is refused for its rate before its budget), the
// refusing scope (1-based), the longest wait, the rate states, then the budget totals.
export const ADMIT = `${ADD}${TAT}${GCRA_FN}${RESERVE_FN}local n = tonumber(ARGV[4])
local r = rate_judge(0, n, 5, tonumber(ARGV[1]))
local b = reserve_judge(n, 5 + 3 * n, tonumber(ARGV[3]))
local kind, over = 0, 0
if r.over ~= 0 then kind, over = 1, r.over elseif b.over ~= 0 then kind, over = 2, b.over end
if kind == 0 then
  rate_commit(r, tonumber(ARGV[2]))
  reserve_commit(b)
end
local out = {kind, over, f(r.worst)}
rate_states(r, out)
reserve_totals(b, out)
return out`;

// KEYS: n TATs, then the counters. ARGV: TTL margin, n, then per TAT: interval ms, delta
// units; then per counter: by, ttl ms.
export const SETTLE = `${ADD}${TAT}local margin, n = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, n do adjust(KEYS[i], tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i]), margin) end
for i = n + 1, #KEYS do add(KEYS[i], ARGV[1 + 2 * i], ARGV[2 + 2 * i]) end
return 0`;

// KEYS[1]: the counter. ARGV: by, ttl ms. Returns the new total.
export const INCR = `${ADD}return add(KEYS[1], ARGV[1], ARGV[2])`;

// KEYS[1]: the TAT. ARGV: interval ms, delta units, TTL margin.
export const RATE_ADJUST = `${ADD}${TAT}adjust(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))
return 0`;

/** Reserve scopes as ARGV, each counter once in `keys` (scopes refer to it by 1-based index). */
function packReserve(scopes: readonly ReserveScope[], keys: string[], argv: string[]): void {
  const at = new Map<string, number>();
  const idx = (k: string): string => {
    let i = at.get(k);
    if (i === undefined) {
      i = keys.push(k);
      at.set(k, i);
    }
    return String(i);
  };
  for (const s of scopes) argv.push(idx(s.add), String(s.amount), String(s.limit), ms(s.ttlMs), String(s.window.length), ...s.window.map(idx));
}

function packRate(scopes: readonly RateScope[], argv: string[]): void {
  for (const s of scopes) argv.push(String(s.intervalMs), String(s.burstMs), String(s.cost));
}

/** KEYS and ARGV for RESERVE: each counter once, scopes referring to it by index. */
export function reserveArgs(scopes: readonly ReserveScope[]): { keys: string[]; argv: string[] } {
  const keys: string[] = [];
  const argv = [String(RESERVE_EPS)];
  packReserve(scopes, keys, argv);
  return { keys, argv };
}

export function rateArgs(scopes: readonly RateScope[]): { keys: string[]; argv: string[] } {
  const argv = [String(RATE_EPS_MS), String(TAT_MARGIN_MS)];
  packRate(scopes, argv);
  return { keys: scopes.map((s) => s.key), argv };
}

/** KEYS and ARGV for ADMIT: the TATs first, then the budget counters (indexed after them). */
export function admitArgs(rate: readonly RateScope[], reserve: readonly ReserveScope[]): { keys: string[]; argv: string[] } {
  const counters: string[] = [];
  const argv = [String(RATE_EPS_MS), String(TAT_MARGIN_MS), String(RESERVE_EPS), String(rate.length)];
  packRate(rate, argv);
  packReserve(reserve, counters, argv);
  return { keys: [...rate.map((s) => s.key), ...counters], argv };
}

export function settleArgs(adjust: readonly SettleAdjust[], incr: readonly SettleIncr[]): { keys: string[]; argv: string[] } {
  const argv = [String(TAT_MARGIN_MS), String(adjust.length)];
  for (const a of adjust) argv.push(String(a.intervalMs), String(a.delta));
  for (const c of incr) argv.push(String(c.by), ms(c.ttlMs));
  return { keys: [...adjust.map((a) => a.key), ...incr.map((c) => c.key)], argv };
}

export const adjustArgs = (intervalMs: number, delta: number): string[] => [String(intervalMs), String(delta), String(TAT_MARGIN_MS)];

function numbers(raw: unknown, length: number): number[] {
  if (!Array.isArray(raw) || raw.length !== length) throw new Error('unexpected reply from a governance script');
  return raw.map((v: unknown) => Number(v));
}

function statesOf(flat: readonly number[], n: number): RateState[] {
  const states: RateState[] = [];
  for (let i = 0; i < n; i++) states.push({ remaining: flat[2 * i] ?? 0, resetMs: flat[2 * i + 1] ?? 0 });
  return states;
}

export function reserveResult(raw: unknown, n: number): ReserveResult {
  const [over = 0, ...totals] = numbers(raw, n + 1);
  return over === 0 ? { ok: true, totals } : { ok: false, over: over - 1, totals };
}

export function rateResult(raw: unknown, n: number): RateResult {
  const [over = 0, retryAfterMs = 0, ...rest] = numbers(raw, 2 + 2 * n);
  const states = statesOf(rest, n);
  return over === 0 ? { ok: true, states } : { ok: false, over: over - 1, retryAfterMs, states };
}

export function admitResult(raw: unknown, nRate: number, nReserve: number): AdmitResult {
  const [kind = 0, over = 0, retryAfterMs = 0, ...rest] = numbers(raw, 3 + 2 * nRate + nReserve);
  const states = statesOf(rest, nRate);
  const totals = rest.slice(2 * nRate);
  if (kind === 1) return { ok: false, refused: 'rate', over: over - 1, retryAfterMs, states, totals };
  if (kind === 2) return { ok: false, refused: 'reserve', over: over - 1, states, totals };
  return { ok: true, states, totals };
}
