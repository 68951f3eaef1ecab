import type { BreakerConfig } from '../../config/schema.js';
import type { SharedState } from '../state/types.js';
import { CircuitBreaker, effectiveBreaker, type Breaker, type BreakerState } from './breaker.js';

/** The window's time buckets, as in CircuitBreaker: one counter per bucket and outcome. */
const BUCKETS = 10;
/**
 * How long the fleet's verdict ("open since t" / "closed since t") is kept. Far beyond any
 * open_s: only a breaker nobody touched for ten minutes forgets it (and is closed again).
 */
const VERDICT_TTL_MS = 10 * 60_000;
/**
 * A probe slot claimed ahead of its request holds this long in the state layer, and half as
 * long here, so this replica never believes in a lease the store has already let go. Short,
 * because a replica that claimed and then got no request blocks the others' probe meanwhile.
 */
const CLAIM_TTL_MS = 1000;
/** After losing a claim, the next try waits this long: half-open costs the store a few calls a second, not one per request. */
const CLAIM_RETRY_MS = 100;
/** A view older than this is refreshed when a request asks (an idle breaker woke up). */
export const STALE_MS = 500;
/** A breaker asked within this long counts as having traffic: refreshed on the interval, and it claims probes ahead. */
const ACTIVE_MS = 2000;

export interface SharedBreakerDeps {
  state: SharedState;
  /** Unique per replica: the probe lease's owner. */
  owner: string;
  /** This (route, target)'s key in the state layer. */
  id: string;
  /** The probe's deadline (the route's total_ms): how long its lease holds once it runs. */
  probeTtlMs: number;
  now: () => number;
  /** A state call failed; swallowed (the request path never sees it), counted by the caller. */
  onError: () => void;
}

/** What this replica last read of the fleet's verdict. `since` doubles as the generation its counters are kept under. */
interface View {
  raw: string | undefined;
  open: boolean;
  since: number;
  streak: number;
  at: number;
}

type Probe =
  | { kind: 'none'; retryAt: number }
  | { kind: 'claiming' }
  | { kind: 'granted'; openedAt: number; until: number }
  | { kind: 'in_flight'; openedAt: number; until: number };

const NO_PROBE: Probe = { kind: 'none', retryAt: 0 };

function parseVerdict(raw: string | undefined): { open: boolean; since: number } {
  const m = raw === undefined ? null : /^(open|closed):(\d+)$/.exec(raw);
  if (m === null) return { open: false, since: 0 };
  return { open: m[1] === 'open', since: Number(m[2]) };
}

/**
 * A breaker for one (route, target) whose verdict is the fleet's (DESIGN.md §9, issue 14):
 * every replica adds its outcomes to the same counters in the state layer, so failures seen by
 * any replica count; whoever trips it writes "open since t" by compare-and-set, so one replica's
 * decision is everyone's; in half-open one probe runs across the fleet, under a lease named by
 * the open time; its verdict is written the same way.
 *
 * The request path never waits on the store: allow() reads the cached view, and recording and
 * refreshing run in the background (errors swallowed and counted). While the store is degraded
 * (ResilientState serving local state), the embedded CircuitBreaker, fed with every outcome
 * all along, judges alone: one replica's breaker, as without Redis.
 */
export class SharedBreaker implements Breaker {
  readonly #local: CircuitBreaker;
  readonly #d: SharedBreakerDeps;
  #cfg: Required<BreakerConfig>;
  #view: View = { raw: undefined, open: false, since: 0, streak: 0, at: 0 };
  /** Bumped on every write of ours, so a refresh that started before it cannot put the old verdict back. */
  #epoch = 0;
  #refreshing = false;
  #probe: Probe = NO_PROBE;
  #lastUse = 0;

  constructor(cfg: BreakerConfig, d: SharedBreakerDeps) {
    this.#cfg = effectiveBreaker(cfg);
    this.#d = d;
    this.#local = new CircuitBreaker(cfg, d.now);
  }

  get settings(): Readonly<Required<BreakerConfig>> {
    return this.#cfg;
  }

  /** New thresholds judge the next verdict; counters are kept per window_s, so a new width starts an empty window. */
  reconfigure(cfg: BreakerConfig): void {
    this.#cfg = effectiveBreaker(cfg);
    this.#local.reconfigure(cfg);
  }

  get #shared(): boolean {
    return !this.#d.state.health().degraded;
  }

  get state(): BreakerState {
    return this.#shared ? this.#phase(this.#d.now()) : this.#local.state;
  }

  #phase(now: number): BreakerState {
    if (!this.#view.open) return 'closed';
    return now < this.#view.since + this.#cfg.open_s * 1000 ? 'open' : 'half_open';
  }

  /** Has traffic, or is not closed: worth a refresh on the interval. */
  active(now: number): boolean {
    return this.#view.open || now - this.#lastUse < ACTIVE_MS;
  }

  allow(): boolean {
    if (!this.#shared) return this.#local.allow();
    const now = this.#d.now();
    this.#lastUse = now;
    if (now - this.#view.at > STALE_MS) void this.refresh();
    const phase = this.#phase(now);
    if (phase === 'closed') return true;
    if (phase === 'open') return false;
    return this.#takeProbe(now);
  }

  /** Half-open: this request is the fleet's probe only if this replica holds the lease already. */
  #takeProbe(now: number): boolean {
    const p = this.#probe;
    if (p.kind === 'granted' && p.openedAt === this.#view.since && now < p.until) {
      this.#probe = { kind: 'in_flight', openedAt: p.openedAt, until: now + this.#d.probeTtlMs };
      // From a short claim to the probe's whole deadline: nobody else probes beside it.
      void this.#d.state.lease(this.#leaseName(p.openedAt), this.#d.owner, this.#d.probeTtlMs).catch(this.#d.onError);
      return true;
    }
    // A probe that never reported (its deadline passed) must not keep this replica from probing.
    if (p.kind === 'in_flight' && now < p.until) return false;
    if (p.kind !== 'claiming' && (p.kind !== 'none' || now >= p.retryAt)) void this.claim();
    return false;
  }

  /** Tries to take the probe lease of the current open period, ahead of the request that will use it. */
  async claim(): Promise<void> {
    const now = this.#d.now();
    if (!this.#shared || this.#phase(now) !== 'half_open' || this.#probe.kind === 'claiming' || this.#probe.kind === 'in_flight') return;
    const openedAt = this.#view.since;
    // A grant still good for a while needs no renewal; one for an earlier open period is worthless.
    if (this.#probe.kind === 'granted' && this.#probe.openedAt === openedAt && now < this.#probe.until - CLAIM_TTL_MS / 4) return;
    this.#probe = { kind: 'claiming' };
    let won = false;
    try {
      won = await this.#d.state.lease(this.#leaseName(openedAt), this.#d.owner, CLAIM_TTL_MS);
    } catch {
      this.#d.onError();
    }
    this.#probe = won && this.#view.since === openedAt ? { kind: 'granted', openedAt, until: now + CLAIM_TTL_MS / 2 } : { kind: 'none', retryAt: now + CLAIM_RETRY_MS };
  }

  /** Only claims when this replica has had traffic lately: an idle replica holding the lease would starve the others. */
  wantsProbe(now: number): boolean {
    return now - this.#lastUse < ACTIVE_MS && this.#phase(now) === 'half_open';
  }

  record(success: boolean): void {
    // Fed all along, so it is ready to judge alone the moment the store goes away.
    this.#local.record(success);
    if (!this.#shared) {
      this.#probe = NO_PROBE;
      return;
    }
    const p = this.#probe;
    if (p.kind === 'in_flight') {
      this.#probe = NO_PROBE;
      void this.#settle(p.openedAt, success);
      return;
    }
    void this.#count(success);
  }

  /** Opens the fleet's breaker now (an active health check's verdict); a replica that opened it first wins, as in #count. */
  trip(): void {
    this.#local.trip();
    if (!this.#shared) return;
    // Read first: an idle breaker's view may predate another replica's verdict, and the write is a compare-and-set on it.
    void this.refresh()
      .then(() => (this.#view.open ? undefined : this.#write(this.#view.raw, `open:${this.#d.now()}`)))
      .then(() => this.refresh());
  }

  /** Half-open: the fleet's probe slot, under the same lease a request's probe takes (read fresh: an idle breaker's view may be old). */
  async takeProbe(): Promise<boolean> {
    if (!this.#shared) return this.#local.takeProbe();
    await this.refresh();
    await this.claim();
    return this.#phase(this.#d.now()) === 'half_open' && this.allow();
  }

  /** An abandoned probe gives its lease back: its open period still needs one, and another replica may take it now. */
  release(): void {
    this.#local.release();
    const p = this.#probe;
    if (p.kind !== 'in_flight') return;
    this.#probe = NO_PROBE;
    void this.#d.state.release(this.#leaseName(p.openedAt), this.#d.owner).catch(this.#d.onError);
  }

  /**
   * The probe's verdict, written only over the open period it probed (a replica that re-opened
   * meanwhile wins). The lease is not released: it is named by that period, which is over, and
   * a replica whose view still shows it half-open must not find it free and probe again.
   */
  async #settle(openedAt: number, success: boolean): Promise<void> {
    const next = `${success ? 'closed' : 'open'}:${this.#d.now()}`;
    await this.#write(`open:${openedAt}`, next);
    await this.refresh();
  }

  /** Adds one outcome to the fleet's window and streak, and opens the breaker when they say so. */
  async #count(success: boolean): Promise<void> {
    const v = this.#view;
    // Outcomes of requests that began before it opened say nothing new, as in CircuitBreaker where close() forgets them.
    if (v.open) return;
    const now = this.#d.now();
    const windowMs = this.#cfg.window_s * 1000;
    const width = windowMs / BUCKETS;
    const bucket = Math.floor(now / width);
    const gen = `${this.#d.id}:${v.since}`;
    const counter = (kind: 'ok' | 'bad', b: number) => `${gen}:${this.#cfg.window_s}:${kind}:${b}`;
    try {
      if (success) {
        await this.#d.state.incr(counter('ok', bucket), 1, windowMs + width);
        // Only when a streak is known: a success otherwise costs one write, not two.
        if (v.streak > 0) await this.#d.state.set(`${gen}:streak`, '0', VERDICT_TTL_MS);
      } else {
        const [streak] = await Promise.all([this.#d.state.incr(`${gen}:streak`, 1, VERDICT_TTL_MS), this.#d.state.incr(counter('bad', bucket), 1, windowMs + width)]);
        const buckets = Array.from({ length: BUCKETS }, (_, i) => bucket - i);
        const counts = (await this.#d.state.getMany([...buckets.map((b) => counter('bad', b)), ...buckets.map((b) => counter('ok', b))])).map((c) => Number(c ?? 0));
        const bad = counts.slice(0, BUCKETS).reduce((a, b) => a + b, 0);
        const total = counts.reduce((a, b) => a + b, 0);
        const trip = streak >= this.#cfg.consecutive_failures || (total >= this.#cfg.min_requests && bad / total >= this.#cfg.error_ratio);
        if (trip) await this.#write(v.raw, `open:${now}`);
      }
    } catch {
      this.#d.onError();
    }
    await this.refresh();
  }

  /** Compare-and-set of the verdict: from what this replica saw, so concurrent trips make one open period, not several. */
  async #write(expected: string | undefined, next: string): Promise<void> {
    try {
      if (!(await this.#d.state.compareAndSet(this.#verdictKey, expected, next, VERDICT_TTL_MS))) return;
      this.#epoch++;
      this.#see(next, 0);
    } catch {
      this.#d.onError();
    }
  }

  /** Reads the fleet's verdict (and streak) into the cached view. Concurrent calls share one read. */
  async refresh(): Promise<void> {
    if (this.#refreshing || !this.#shared) return;
    this.#refreshing = true;
    const epoch = this.#epoch;
    try {
      const [raw, streak] = await this.#d.state.getMany([this.#verdictKey, `${this.#d.id}:${this.#view.since}:streak`]);
      if (epoch === this.#epoch) this.#see(raw, Number(streak ?? 0));
    } catch {
      this.#d.onError();
    } finally {
      this.#refreshing = false;
    }
  }

  #see(raw: string | undefined, streak: number): void {
    const v = parseVerdict(raw);
    this.#view = { raw, open: v.open, since: v.since, streak, at: this.#d.now() };
  }

  get #verdictKey(): string {
    return `${this.#d.id}:verdict`;
  }

  #leaseName(openedAt: number): string {
    return `${this.#d.id}:probe:${openedAt}`;
  }
}
