import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** `bin/keel.js` as real processes: the shape users run (DESIGN.md §5), never objects in the test's own process. */
export const keelBin = join(resolve(import.meta.dirname, '../..'), 'bin', 'keel.js');

export interface KeelProcess {
  child: ChildProcess;
  /** Group 1 of the ready pattern (the URL it listens on). */
  url: string;
  match: RegExpExecArray;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  alive(): boolean;
  /** Resident set size now, MiB (from /proc). */
  rssMb(): number;
  /** SIGTERM and wait; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `keel ARGS` in `cwd`; resolves once its output matches `ready` (group 1 = URL). */
export function startKeel(args: string[], cwd: string, ready: RegExp = /listening on (http:\/\/\S+)/, env: NodeJS.ProcessEnv = process.env): Promise<KeelProcess> {
  const child = spawn(process.execPath, [keelBin, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  const onData = (d: Buffer) => (out += d.toString());
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const proc = (match: RegExpExecArray): KeelProcess => ({
    child,
    url: match[1] ?? '',
    match,
    output: () => out,
    alive: () => child.exitCode === null && child.signalCode === null,
    rssMb: () => rssMb(child.pid ?? 0),
    stop: () => new Promise((r) => (child.exitCode !== null ? r(child.exitCode) : (child.once('exit', r), child.kill('SIGTERM')))),
  });
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`keel ${args.join(' ')} did not come up:\n${out}`)), 60_000);
    const check = () => {
      const m = ready.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.stderr?.off('data', check);
      resolveStart(proc(m));
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`keel ${args.join(' ')} exited with ${code ?? 'a signal'} before it was ready:\n${out}`));
    });
  });
}

export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

/** keel_breaker_state per `route|provider|model` (breakers are per route and target) from a gateway's Prometheus text (0 closed, 1 half-open, 2 open). */
export async function breakerStates(metricsUrl: string, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const text = await (await fetch(metricsUrl, { headers })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^keel_breaker_state\{([^}]*)\}\s+(\S+)$/gm)) {
    const labels = new Map<string, string>();
    for (const l of (m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)) labels.set(l[1] ?? '', l[2] ?? '');
    out[`${labels.get('keel_route') ?? ''}|${labels.get('keel_provider') ?? ''}|${labels.get('gen_ai_request_model') ?? ''}`] = Number(m[2]);
  }
  return out;
}
