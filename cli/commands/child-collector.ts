import { fork, type ChildProcess } from 'node:child_process';

export interface ChildCollector {
  url: string;
  /** The SLO engine's status page. */
  sloUrl: string | undefined;
  /** Asks the collector to flush and stop, and waits for it. */
  stop(): Promise<void>;
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
        async stop() {
          if (child.exitCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    });
  });
}
