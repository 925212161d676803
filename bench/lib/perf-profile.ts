import { spawn, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

// On-CPU profile of a running Node process with Linux `perf` (issue 15's profiles). V8's own profiler
// (`--cpu-prof`) samples wall time: on these 2 shared cores a write to a loopback socket wakes its reader (the
// load generator, the mock, Redis), which often takes the writer's core before the syscall returns, and every
// sample taken meanwhile lands on `writev`/`writeUtf8String`. So `--cpu-prof` put a third of the gateway's busy
// time in socket writes, where `perf` (on-CPU only, kernel included) finds half as much, and /proc's
// utime + stime agree with `perf`: read CPU cost from this, wall-time stalls from `--cpu-prof`.
//
// The process must run with `--perf-basic-prof` (its JIT symbols in /tmp/perf-<pid>.map) and
// `--interpreted-frames-native-stack` (interpreted frames on the native stack, so call chains stay whole).

export const PERF_NODE_ARGS = ['--perf-basic-prof', '--interpreted-frames-native-stack'];

export const perfAvailable = (): boolean => spawnSync('perf', ['--version']).status === 0;

export interface PerfRecording {
  stop(): Promise<void>;
}

// Samples `pid` (every thread) with call chains at `hz` until stop().
export const recordPerf = (pid: number, out: string, hz = 999): PerfRecording => {
  const perf = spawn('perf', ['record', '-F', String(hz), '-g', '-o', out, '-p', String(pid)], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => perf.once('exit', () => resolve()));
  return {
    stop: async () => {
      perf.kill('SIGINT');
      await exited;
    },
  };
};

interface Sample {
  thread: string;
  frames: string[]; // leaf first
}

const parseScript = (text: string): Sample[] => {
  const samples: Sample[] = [];
  let current: Sample | null = null;
  for (const line of text.split('\n')) {
    if (!line.trim()) {
      if (current) samples.push(current);
      current = null;
    } else if (!line.startsWith('\t')) current = { thread: line.trim().split(/\s+/)[0], frames: [] };
    else if (current) {
      const [ip, ...sym] = line.trim().split(' ');
      const name = sym.join(' ') || '?';
      current.frames.push(ip.startsWith('ffffffff') ? `[kernel] ${name}` : name);
    }
  }
  if (current) samples.push(current);
  return samples;
};

// A frame's owner: a package, keygate's app or lib, or a Node.js internal module; null for native frames.
const owner = (frame: string): string | null => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(frame);
  if (pkg) return pkg[1];
  const own = /\/dist\/(apps|libs)\/([^/]+)\//.exec(frame);
  if (own) return `keygate ${own[1]}/${own[2]}`;
  const internal = /^JS:\S* .*?node:(?:internal\/)?([\w/]+)/.exec(frame);
  if (internal) return `node:${internal[1].split('/')[0]}`;
  return frame.startsWith('JS:wasm') ? 'wasm (undici llhttp)' : null;
};

const jsName = (frame: string): string => frame.replace(/^JS:[*+^~']*/, '').replace(/^'/, '');

const share = (counts: Map<string, number>, total: number, top: number): string =>
  [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, n]) => `${((n / total) * 100).toFixed(1).padStart(5)}%  ${k}`)
    .join('\n');

const add = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

// Time by thread; then, for the main thread, each sample charged to the first JavaScript frame above its leaf
// (the builtins, runtime, GC and kernel work that frame caused are its cost), by owner and by function; and the
// share of samples each owner appears in at all (inclusive).
export const summarizePerf = (out: string, top = 25): string => {
  const script = spawnSync('perf', ['script', '-i', out, '-F', 'comm,tid,ip,sym'], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr}`);
  const samples = parseScript(script.stdout);
  const threads = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let main = 0;
  let kernel = 0;
  for (const s of samples) {
    add(threads, s.thread);
    if (s.thread !== 'MainThread') continue;
    main++;
    if (s.frames[0]?.startsWith('[kernel]')) kernel++;
    const js = s.frames.find((f) => owner(f) !== null);
    add(byOwner, js ? owner(js)! : '(no JavaScript frame: event loop, epoll, GC, malloc)');
    add(byFunction, js ? `${jsName(js)}` : `(native) ${s.frames[0] ?? '?'}`);
    const seen = new Set<string>();
    for (const f of s.frames) {
      const o = owner(f);
      if (o && !seen.has(o)) {
        seen.add(o);
        add(inclusive, o);
      }
    }
  }
  return (
    `perf: ${samples.length} on-CPU samples; by thread (MainThread: JavaScript; V8Worker: GC and the optimizing ` +
    `compiler; WorkerThread: the usage-event producer):\n${share(threads, samples.length, 8)}\n\n` +
    `main thread, ${((kernel / Math.max(1, main)) * 100).toFixed(1)}% of it in the kernel; each sample charged to ` +
    `the first JavaScript frame above it, by owner:\n${share(byOwner, main, top)}\n\n` +
    `by function:\n${share(byFunction, main, top)}\n\n` +
    `share of main-thread samples each owner is on the stack of (inclusive):\n${share(inclusive, main, top)}\n`
  );
};

// perf's map of the process's JIT code, left in /tmp by --perf-basic-prof. BENCH_KEEP_PERF_MAP=1 leaves it there,
// for `perf script` / `perf report` with JavaScript names afterwards.
export const removePerfMap = (pid: number): void => {
  if (process.env.BENCH_KEEP_PERF_MAP !== '1') rmSync(`/tmp/perf-${pid}.map`, { force: true });
};
