/** Child processes of the project (its entry points as a test or a benchmark starts them), with their output kept for failure messages. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const ROOT = new URL('../../', import.meta.url);

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** SIGTERM and wait for exit (or SIGKILL after a while). */
  stop(): Promise<void>;
  /** SIGKILL now and wait for the exit. */
  kill(): Promise<void>;
}

/** Runs one of the service's entry points (src/cli/*.ts) as a real child process. */
export function run(script: string, env: Record<string, string>, args: string[] = []): Proc {
  return runFile(`src/cli/${script}`, env, args);
}

/** Runs a TypeScript file of the project (a path from the project root) as a real child process. */
export function runFile(path: string, env: Record<string, string>, args: string[] = []): Proc {
  return watch(
    spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', new URL(path, ROOT).pathname, ...args], {
      cwd: ROOT.pathname,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

/** A child process (spawned with piped stdout and stderr) whose recent output is kept for failure messages. */
export function watch(child: ChildProcess): Proc {
  let out = '';
  // PROC_LOG_DIR: every process's whole output in <dir>/<pid>.log, beside the recent part kept here.
  const file = process.env.PROC_LOG_DIR ? `${process.env.PROC_LOG_DIR}/${child.pid}.log` : undefined;
  const keep = (chunk: Buffer) => {
    if (file) appendFileSync(file, chunk);
    out += chunk.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = once(child, 'exit');
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(timer);
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls until `fn` returns a truthy value or the time is up (then throws with `what`). */
export async function eventually<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs an entry point to its end; throws with its output if it failed. */
export async function runToEnd(script: string, env: Record<string, string>, args: string[] = []): Promise<void> {
  const proc = run(script, env, args);
  const [code] = (await once(proc.child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`${script} exited with ${code}: ${proc.output().slice(-2000)}`);
}

/**
 * Migrates the database, as `npm run up` does before the API starts (the API never changes tables
 * itself), then starts the API (with START_CONSUMER as given in env) and waits until /health/ready
 * says so.
 */
export async function startApi(env: Record<string, string>): Promise<Proc> {
  await runToEnd('migrate.ts', env);
  const api = run('start.ts', env);
  try {
    await eventually(
      'the API to be ready',
      async () => {
        if (api.child.exitCode !== null) throw new Error(`API exited: ${api.output().slice(-2000)}`);
        const res = await fetch(`http://127.0.0.1:${env.PORT}/health/ready`);
        return res.status === 200;
      },
      60_000,
    );
  } catch (err) {
    await api.kill();
    throw new Error(`${(err as Error).message}\n${api.output().slice(-3000)}`);
  }
  return api;
}

/** A process as /proc tells it: its pid and command line. */
export interface ProcessEntry {
  pid: number;
  command: string;
}

/**
 * The live children of `pid`, from /proc (this kernel has no /proc/<pid>/task/<tid>/children). A
 * zombie is not counted: it is dead, only not yet reaped.
 */
export function childrenOf(pid: number): ProcessEntry[] {
  const children: ProcessEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (!stat || stat.ppid !== pid || stat.state === 'Z') continue;
    let command = '';
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue;
    }
    children.push({ pid: Number(entry), command });
  }
  return children;
}

/** Whether a process with this pid runs (a zombie does not). */
export function isRunning(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

function procStat(pid: number): { state: string; ppid: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name, in parentheses, may itself hold spaces and parentheses: read after the last one.
  const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: state!, ppid: Number(ppid) };
}

/** Whether nothing listens on the port: binding it succeeds (and is undone at once). */
export async function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  } catch {
    return false;
  }
  await new Promise((resolve) => server.close(resolve));
  return true;
}
