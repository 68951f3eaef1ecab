import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StateConfig } from '../config/schema.js';
import { RedisState } from '../gateway/state/redis.js';
import type { SharedState } from '../gateway/state/types.js';
import type { AlertState } from './alerts.js';
import type { BudgetFired } from './budgets.js';
import type { WeightsSnapshotJson } from './publisher.js';
import type { StatusView } from './status.js';

/** The lease every collector's SLO engine competes for, and the key the leader publishes its results under. */
export const LEADER_LEASE = 'slo-leader';
export const SHARED_SNAPSHOT = 'slo-snapshot';

/** What the leader leaves in the state layer each cycle: followers serve it, a new leader resumes its alerts from it. */
export interface SharedSnapshot {
  leaderId: string;
  at: number;
  status: StatusView;
  weights: WeightsSnapshotJson;
  /** Pending and firing alerts with their original times, so a takeover neither re-pages nor changes idempotency keys. */
  alerts: AlertState[];
  /** Budget thresholds told in their current periods, so a new leader does not tell them again (absent from an older leader). */
  budgets?: BudgetFired[];
}

export interface LeadershipInfo {
  leader: boolean;
  leaderId: string | undefined;
}

/**
 * Who evaluates SLOs, notifies, publishes weights and steps canaries among several collectors
 * (DESIGN.md §9: a lease). Without a shared state (one collector) this process always leads.
 */
export interface Leadership {
  readonly id: string;
  /** Takes or renews the lease; resolves whether this process leads for the coming cycle. */
  renew(): Promise<boolean>;
  info(): LeadershipInfo;
  /**
   * Whether this process still holds the lease by its own clock (no state call): checked right
   * before notifying, so a leader whose lease lapsed during a slow evaluation pages nobody that
   * its successor may already have paged.
   */
  holds(): boolean;
  /** The leader's results for followers (and for a new leader taking over). */
  publish(snap: SharedSnapshot): Promise<void>;
  shared(): Promise<SharedSnapshot | undefined>;
  /** Gives the lease up at shutdown, so another instance takes over at its next tick, not after the TTL. */
  resign(): Promise<void>;
}

/** One collector: leads always; followers do not exist, so nothing is published. */
export class SoleLeader implements Leadership {
  readonly id: string;
  constructor(id: string) {
    this.id = id;
  }
  renew(): Promise<boolean> {
    return Promise.resolve(true);
  }
  info(): LeadershipInfo {
    return { leader: true, leaderId: this.id };
  }
  holds(): boolean {
    return true;
  }
  publish(): Promise<void> {
    return Promise.resolve();
  }
  shared(): Promise<SharedSnapshot | undefined> {
    return Promise.resolve(undefined);
  }
  resign(): Promise<void> {
    return Promise.resolve();
  }
}

export interface LeaseLeadershipOptions {
  /**
   * The remote state itself (RedisState), never ResilientState: its local fallback would hand
   * every collector that loses Redis a lease of its own, and several leaders would page.
   */
  state: SharedState;
  id: string;
  /** The lease's lifetime; openLeadership makes it 1.25 intervals, renewed every quarter (keepAlive). */
  ttlMs: number;
  log: (msg: string) => void;
  now?: () => number;
  /** Told when this engine takes or loses the lease (the audit log's leader_acquired / leader_lost). */
  onChange?: (leading: boolean, why: string) => void;
}

/**
 * Leadership by a lease in the shared state, renewed at every evaluation. When the state cannot
 * be reached: a follower stays a follower (it cannot know the leader is gone), and the leader
 * keeps leading only until its last renewal would have expired, because by then another
 * collector that still reaches Redis may have taken the lease over.
 */
export class LeaseLeadership implements Leadership {
  readonly id: string;
  readonly #o: LeaseLeadershipOptions;
  #leading = false;
  /** Until when the last successful renewal holds (ms epoch). */
  #validUntil = 0;
  #leaderId: string | undefined;
  #keepAlive: NodeJS.Timeout | undefined;

  constructor(o: LeaseLeadershipOptions) {
    this.id = o.id;
    this.#o = o;
  }

  #now(): number {
    return (this.#o.now ?? Date.now)();
  }

  async renew(): Promise<boolean> {
    const started = this.#now();
    let held: boolean;
    try {
      held = await this.#o.state.lease(LEADER_LEASE, this.id, this.#o.ttlMs);
      // Measured from before the call: the lease may have been written at its very start.
      if (held) this.#validUntil = started + this.#o.ttlMs;
    } catch (err) {
      held = this.#leading && started < this.#validUntil;
      if (this.#leading) this.#o.log(`SLO leadership: shared state unreachable (${err instanceof Error ? err.message : String(err)}); ${held ? `leading until the lease would expire (${new Date(this.#validUntil).toISOString()})` : 'the lease has expired: stepping down'}`);
    }
    this.#change(held);
    return held;
  }

  /**
   * While leading, renews the lease on its own timer, apart from the evaluations, so a slow
   * evaluation does not lose it. A follower never renews here: it asks for the lease at its polls.
   */
  keepAlive(everyMs: number): void {
    this.stopKeepAlive();
    this.#keepAlive = setInterval(() => {
      if (this.#leading) void this.renew();
    }, everyMs);
    this.#keepAlive.unref();
  }

  stopKeepAlive(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  holds(): boolean {
    return this.#leading && this.#now() < this.#validUntil;
  }

  #change(held: boolean): void {
    if (held === this.#leading) return;
    this.#leading = held;
    this.#o.log(held ? `SLO leadership: ${this.id} is now the leader (evaluates, notifies, publishes weights, steps canaries)` : `SLO leadership: ${this.id} is a follower (serves the leader's last results)`);
    this.#o.onChange?.(held, held ? 'lease taken' : 'lease lost');
  }

  info(): LeadershipInfo {
    return { leader: this.#leading, leaderId: this.#leading ? this.id : this.#leaderId };
  }

  async publish(snap: SharedSnapshot): Promise<void> {
    // Kept a little past the lease: followers still show the last results while a takeover is under way.
    await this.#o.state.set(SHARED_SNAPSHOT, JSON.stringify(snap), this.#o.ttlMs * 3);
  }

  async shared(): Promise<SharedSnapshot | undefined> {
    const [holder, text] = await this.#o.state.getMany([LEADER_LEASE, SHARED_SNAPSHOT]);
    // The lease's value is its holder: who leads now, even before it has published anything.
    this.#leaderId = holder;
    return text === undefined ? undefined : (JSON.parse(text) as SharedSnapshot);
  }

  async resign(): Promise<void> {
    this.stopKeepAlive();
    if (!this.#leading) return;
    this.#leading = false;
    await this.#o.state.release(LEADER_LEASE, this.id).catch(() => undefined);
    this.#o.log(`SLO leadership: ${this.id} resigned`);
    this.#o.onChange?.(false, 'resigned');
  }
}

/** Names this engine in logs, /api/status and the lease: host and pid say where it runs; the suffix tells a restart apart. */
export function engineId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}

/**
 * Leadership as the config says: with `state.redis`, a lease there; without it this collector is
 * the only one and leads. The lease lives 1.25 intervals and the leader renews it every quarter
 * interval, so it survives a stall of about one interval; followers ask for it every quarter
 * interval (SloLoop), so a dead leader is replaced within 1.25 + 0.25 = 1.5 intervals, inside the
 * two cycles issue 14 asks for. A flap under a longer stall pages nobody twice: the leader
 * publishes its alerts before it notifies and notifies only while holds() (SloLoop.tick). The
 * Redis deadline is looser than the gateways' (no request waits on it) but well inside an interval.
 */
export function openLeadership(cfg: StateConfig | undefined, intervalMs: number, log: (msg: string) => void, onChange?: LeaseLeadershipOptions['onChange']): { leadership: Leadership; close: () => Promise<void> } {
  const id = engineId();
  if (cfg?.redis === undefined) return { leadership: new SoleLeader(id), close: () => Promise.resolve() };
  const state = new RedisState({ url: cfg.redis.url, commandTimeoutMs: Math.max(cfg.redis.deadline_ms, Math.min(1000, intervalMs / 4)), keyPrefix: cfg.redis.key_prefix });
  const leadership = new LeaseLeadership({ state, id, ttlMs: Math.round(1.25 * intervalMs), log, onChange });
  leadership.keepAlive(Math.max(1, Math.floor(intervalMs / 4)));
  return {
    leadership,
    close: () => {
      leadership.stopKeepAlive();
      return state.close();
    },
  };
}
