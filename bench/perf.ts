/**
 * On-CPU profiles of a server process with Linux `perf`, for bench:cost. V8's own profiler samples
 * each thread on a wall clock, so a thread that was waiting for the core is sampled in the call that
 * gave the core away (a postMessage, a socket write); perf samples only what runs, every thread of
 * the process included (V8's compiler and GC helper threads) and the kernel's work on its behalf
 * (syscalls, loopback TCP). The server runs with `--perf-basic-prof-only-functions` so that perf can
 * name its JavaScript frames; each sample then goes to a part of the system by the same rules as a
 * V8 profile's (bench/profile.ts).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, rmSync, statSync } from 'node:fs';
import { isRunning } from '../tools/harness/processes.ts';
import { categoryOf } from './profile.ts';

/**
 * Node flags that let perf name JavaScript frames: the process writes /tmp/perf-<pid>.map. They turn
 * V8's logging on too, which would leave a log per isolate in the working directory.
 */
export const PERF_NODE_FLAGS = ['--perf-basic-prof-only-functions', '--logfile=/dev/null', '--no-logfile-per-isolate'];

/** Whether `perf record` can profile processes here (installed, and allowed to). */
export function perfWorks(): boolean {
  const r = spawnSync('perf', ['stat', '-e', 'task-clock', '-x', ',', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

export interface PerfRecording {
  file: string;
  /** Stops recording and waits until perf has written its file. */
  stop(): Promise<void>;
}

/**
 * Samples every thread of `pid` (they must exist already: the shard workers are started with the
 * API) with call stacks, stamped on CLOCK_MONOTONIC like process.hrtime, so a window can be cut out.
 */
export async function recordPerf(pid: number, file: string, hz = 999): Promise<PerfRecording> {
  const args = ['record', '-q', '-k', 'CLOCK_MONOTONIC', '-F', String(hz), '-g', '-p', String(pid), '-o', file];
  const perf: ChildProcess = spawn('perf', args, { stdio: 'ignore' });
  // perf takes a moment to attach: the load starts once it has (the warm-up comes first anyway).
  await new Promise((r) => setTimeout(r, 300));
  if (perf.exitCode !== null) throw new Error(`perf record exited with ${perf.exitCode}`);
  return {
    file,
    async stop() {
      const exited = once(perf, 'exit');
      perf.kill('SIGINT');
      await exited;
    },
  };
}

/** What one sample was doing: the thread's kind and its frames, innermost first. */
export interface Sample {
  thread: 'main' | 'worker' | 'helper';
  frames: string[];
}

/** Samples of `file` taken between `fromUs` and `toUs` (process.hrtime µs), read with `perf script`. */
export function perfSamples(file: string, pid: number, fromUs: number, toUs: number): Sample[] {
  const text = execFileSync(
    'perf',
    ['script', '-i', file, '-F', 'comm,tid,ip,sym', '--time', `${(fromUs / 1e6).toFixed(6)},${(toUs / 1e6).toFixed(6)}`],
    { maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] },
  ).toString();
  return parsePerfScript(text, pid);
}

/**
 * Drops the symbol maps written since `sinceMs` by processes that have exited: the servers', and
 * their children's (a forked consumer inherits the flags).
 */
export function removePerfMaps(sinceMs: number): void {
  for (const name of readdirSync('/tmp')) {
    const pid = Number(/^perf-(\d+)\.map$/.exec(name)?.[1]);
    if (!pid || statSync(`/tmp/${name}`).mtimeMs < sinceMs || isRunning(pid)) continue;
    rmSync(`/tmp/${name}`, { force: true });
  }
}

/**
 * `perf script -F comm,tid,ip,sym` output: a header line per sample ("<comm> <tid>"), then one
 * indented "<address> <symbol>" line per frame, innermost first, then a blank line.
 */
export function parsePerfScript(text: string, pid: number): Sample[] {
  const samples: Sample[] = [];
  let current: Sample | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current) samples.push(current);
      current = undefined;
    } else if (/^\s/.test(line)) {
      current?.frames.push(line.trim().replace(/^[0-9a-f]+\s+/, ''));
    } else {
      const m = /^(.*\S)\s+(\d+)\s*$/.exec(line);
      if (!m) continue;
      const [, comm, tid] = m;
      // Node names its threads: the main one (its id is the process's), the worker threads, and
      // V8's and libuv's helpers, whatever their names.
      const thread = Number(tid) === pid || comm === 'MainThread' ? 'main' : comm === 'WorkerThread' ? 'worker' : 'helper';
      current = { thread, frames: [] };
    }
  }
  if (current) samples.push(current);
  return samples;
}

const COMPILER = /compiler::|maglev::|turboshaft::|baseline::|Compiler::|CompilationJob|OptimizingCompile|Sparkplug|Maglev|Turbofan/;
const GC =
  /Heap::|Scaveng|MarkCompact|MinorMark|Marking|Sweeper|GCTracer|ArrayBufferSweeper|MemoryAllocator|CollectGarbage|GlobalHandles::|EvacuateInPlace|Evacuat/;
/** Native frames of Node's and the kernel's socket and event-loop machinery. */
const NATIVE_IO =
  /^(uv__|uv_run|node::(StreamBase|LibuvStreamWrap|TCPWrap|ConnectionWrap|EmitToJSStreamListener|http_parser|Parser)|llhttp_|tcp_|__tcp|ip_|__ip|inet_|sock_|__sock|sys_(read|write|recv|send|epoll)|__x64_sys_(read|write|recv|send|epoll|writev|readv)|do_epoll|ep_|loopback|__netif|net_rx|__dev_queue|skb_|__skb|__kfree_skb|raw_spin_unlock_bh)/;
const NATIVE_HOP = /^node::worker::|MessagePort|Messaging/;

/** The part of the system a sample's CPU belongs to (bench/profile.ts's parts, plus the JIT compiler). */
export function perfCategory(sample: Sample): string {
  const frames = sample.frames;
  if (sample.thread === 'helper') {
    if (frames.some((f) => COMPILER.test(f))) return 'JIT compiler (V8 threads)';
    if (frames.some((f) => GC.test(f))) return 'GC';
    return 'V8 & native, unattributed';
  }
  // Below the innermost JavaScript frame: V8's collector or compiler, called from whatever allocated.
  const firstJs = frames.findIndex((f) => f.startsWith('JS:'));
  const native = firstJs < 0 ? frames : frames.slice(0, firstJs);
  if (native.some((f) => GC.test(f))) return 'GC';
  if (native.some((f) => COMPILER.test(f))) return 'JIT compiler (V8 threads)';
  const stack = frames.map((f, i) => {
    if (f.startsWith('JS:')) {
      const at = f.lastIndexOf(' ');
      const url = at < 0 ? '' : f.slice(at + 1).replace(/:\d+:\d+$/, '');
      return { functionName: f.slice(3, at < 0 ? undefined : at), url: url.replace(/^\//, 'file:///') };
    }
    // Outside the innermost JavaScript frame, native frames only dispatch: a response written on a
    // message from a shard worker has the message port at the root of its stack, and is HTTP work.
    if (firstJs >= 0 && i > firstJs) return { functionName: f, url: '' };
    if (NATIVE_HOP.test(f)) return { functionName: f, url: 'node:worker_threads' };
    if (NATIVE_IO.test(f)) return { functionName: f, url: 'node:net' };
    return { functionName: f, url: '' };
  });
  return categoryOf(stack) ?? 'V8 & native, unattributed';
}

/** The frame a sample is charged to in the "costliest frames" list: the innermost with a name worth reading. */
export function perfLeaf(sample: Sample): string {
  const js = sample.frames.find((f) => f.startsWith('JS:'));
  const leaf = sample.frames[0] ?? '(none)';
  if (!js || js === leaf) return shorten(leaf);
  return `${shorten(leaf)} ← ${shorten(js)}`;
}

function shorten(frame: string): string {
  const root = new URL('../', import.meta.url).pathname;
  return frame
    .replace(/^JS:[*+^~]?'?/, '')
    .replaceAll(`file://${root}`, '')
    .replaceAll(root, '');
}
