import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(import.meta.dirname, '../../..');
export const keelBin = join(root, 'bin', 'keel.js');

/**
 * Server processes go to the last core, the load generator (this process) and the
 * upstream stand-in to the first, so the server's CPU is not shared with the load
 * that measures it. One core machines (or no taskset) run unpinned, and say so.
 */
const CORES = cpus().length;
const TASKSET = existsSync('/usr/bin/taskset');
export const SERVER_CPU = CORES > 1 ? CORES - 1 : 0;
export const LOAD_CPU = 0;
export const pinning = TASKSET && CORES > 1 ? `servers on cpu ${SERVER_CPU}; load generator and upstream on cpu ${LOAD_CPU}` : 'unpinned (one core or no taskset)';

// A bench that dies (an error, Ctrl-C) must not leave servers running on the cores.
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

export interface Proc {
  child: ChildProcess;
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts `node [nodeArgs] script args`, pinned to `cpu`, resolved once stderr/stdout matches `ready` (group 1 = URL). */
export function startNode(script: string, args: string[], ready: RegExp, opts: { cpu?: number; cwd?: string; nodeArgs?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Proc> {
  return startProcess(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], ready, { ...opts, label: `${script} ${args[0] ?? ''}` });
}

/** Any executable (redis-server for bench/state.ts), pinned and awaited like startNode. */
export function startProcess(cmd: string, argv: string[], ready: RegExp, opts: { cpu?: number; cwd?: string; env?: NodeJS.ProcessEnv; label?: string } = {}): Promise<Proc> {
  const label = opts.label ?? cmd;
  const pin = TASKSET && CORES > 1 && opts.cpu !== undefined;
  const child = pin
    ? spawn('taskset', ['-c', String(opts.cpu), cmd, ...argv], { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env })
    : spawn(cmd, argv, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: opts.env });
  live.add(child);
  let out = '';
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.once('exit', () => live.delete(child));
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`${label} did not start within 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m?.[1] === undefined) return;
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.stdout?.resume();
      child.stderr?.resume();
      res({
        child,
        url: m[1],
        // taskset execs node, so the pid is node's own.
        pid: child.pid ?? 0,
        stop: async () => {
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
          await exited;
          clearTimeout(killer);
        },
      });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => rej(new Error(`${label} exited with ${String(code)} before it was ready:\n${out}`)));
  });
}

/** `bin` runs another checkout's Keel (the before/after bench); default this one. */
export function startKeel(args: string[], ready: RegExp, opts: { cpu?: number; cwd?: string; nodeArgs?: string[]; bin?: string } = {}): Promise<Proc> {
  return startNode(opts.bin ?? keelBin, args, ready, opts);
}

/** User + system CPU time of a process in ms (/proc/<pid>/stat, clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat(5); the slice starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Resident set size in MiB (/proc/<pid>/status). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] === undefined ? 0 : Number(m[1]) / 1024;
}

/** Pins this process (the load generator) to LOAD_CPU. */
export function pinSelf(): void {
  if (!TASKSET || CORES < 2) return;
  spawnSync('taskset', ['-apc', String(LOAD_CPU), String(process.pid)], { stdio: 'ignore' });
}

/** Threads of a process (/proc/<pid>/status): chDB's pools show here, not in RSS. */
export function threadCount(pid: number): number {
  const m = /Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] === undefined ? 0 : Number(m[1]);
}

/**
 * Anonymous resident memory in MiB (RssAnon): RSS without file pages. An embedded-chDB process
 * has ~200 MiB of libchdb.so's code resident before it stores anything; this is what grows.
 */
export function anonMiB(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] === undefined ? 0 : Number(m[1]) / 1024;
}

/** The highest RSS and anonymous RSS (MiB) and thread count a process reaches while `work` runs, sampled every `everyMs`. */
export async function peakWhile<T>(pid: number, work: () => Promise<T>, everyMs = 50): Promise<{ result: T; rssMiB: number; anonMiB: number; threads: number }> {
  let rss = 0;
  let anon = 0;
  let threads = 0;
  const sample = () => {
    try {
      rss = Math.max(rss, rssMiB(pid));
      anon = Math.max(anon, anonMiB(pid));
      threads = Math.max(threads, threadCount(pid));
    } catch {
      // The process is gone: the bench's own error says why.
    }
  };
  sample();
  const timer = setInterval(sample, everyMs);
  try {
    const result = await work();
    sample();
    return { result, rssMiB: rss, anonMiB: anon, threads };
  } finally {
    clearInterval(timer);
  }
}
