import type { WeightsStore } from './weights.js';

/**
 * Every gateway replica polls the SLO engine for the current weights snapshot and swaps
 * it in atomically when the version changes. A failed poll keeps the last snapshot:
 * routing never waits on the SLO engine.
 */
export function pollWeights(url: string, store: WeightsStore, intervalMs: number, log: (msg: string) => void, token?: string): { stop: () => void; pollNow: () => Promise<void> } {
  let failing = false;
  // slo.token: the SLO engine's API is closed beyond loopback.
  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const pollNow = async () => {
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
      if (!res.ok) throw new Error(`status ${res.status}`);
      const snap = (await res.json()) as { version?: unknown; multipliers?: unknown; canaries?: unknown };
      if (typeof snap.version !== 'string' || typeof snap.multipliers !== 'object' || snap.multipliers === null) throw new Error('not a weights snapshot');
      if (snap.version !== store.current.version) {
        store.swap({ version: snap.version, multipliers: numbers(snap.multipliers), canaries: numbers(snap.canaries) });
      }
      if (failing) log('routing weights: SLO engine reachable again');
      failing = false;
    } catch (err) {
      if (!failing) log(`routing weights: cannot poll ${url} (${err instanceof Error ? err.message : String(err)}); keeping version ${store.current.version}`);
      failing = true;
    }
  };
  const timer = setInterval(() => void pollNow(), intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer), pollNow };
}

function numbers(obj: unknown): Map<string, number> {
  if (typeof obj !== 'object' || obj === null) return new Map();
  return new Map(Object.entries(obj).filter((e): e is [string, number] => typeof e[1] === 'number' && Number.isFinite(e[1]) && e[1] >= 0));
}
