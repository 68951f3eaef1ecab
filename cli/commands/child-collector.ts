import { fork, type ChildProcess } from 'node:child_process';

/** The collector's shutdown is bounded by telemetry.flush_timeout_ms (default 5 s); past this it is hung, not busy. */
const STOP_BOUND_MS = 15_000;

export interface ChildCollector {
  url: string;
  /** The SLO engine's status page. */
  sloUrl: string | undefined;
  /** Asks the collector to flush and stop, and waits for it; SIGKILL after `boundMs` (its own shutdown is bounded well within). */
  stop(boundMs?: number): Promise<void>;
}

/**
 * Runs `keel collector` as a child process (DESIGN.md §3: ClickHouse work would
 * stall the gateway's event loop, and chDB binds its folder to one process).
 * Resolves once it listens; its own log lines (migrations) show progress meanwhile.
 */
export function startChildCollector(args: string[]): Promise<ChildCollector> {
  const script = process.argv[1];
  if (script === undefined) return Promise.reject(new Error('cannot locate the keel launcher to start the collector'));
  const child: ChildProcess = fork(script, ['collector', ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise<ChildCollector>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the collector exited (code ${code ?? 'none'}) before it was ready; see its messages above`)));
    child.on('message', (msg: unknown) => {
      const m = msg as { type?: string; url?: string; slo?: string; message?: string };
      if (m.type === 'failed') reject(new Error(`the collector could not start: ${m.message ?? 'unknown reason'}`));
      if (m.type !== 'ready' || m.url === undefined) return;
      resolve({
        url: m.url,
        sloUrl: m.slo,
        async stop(boundMs = STOP_BOUND_MS) {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), boundMs);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}
