/** Self time of a V8 .cpuprofile (as written by `node --cpu-prof`), by function and by package. */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
  /** Share of the busy (non-idle) time. */
  pct: number;
}

export interface ProfileSummary {
  file: string;
  wallMs: number;
  idleMs: number;
  busyMs: number;
  functions: SelfTime[];
  packages: SelfTime[];
}

/** `server/outbox/dispatcher.ts`, `socket.io-adapter`, `node:internal/…`, `(garbage collector)`. */
function place(url: string, root: string): { where: string; pkg: string } {
  if (!url) return { where: '', pkg: '' };
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = rest.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
    return { where: rest, pkg };
  }
  if (u.startsWith(root)) u = u.slice(root.length).replace(/^\//, '');
  if (u.startsWith('node:')) return { where: u, pkg: 'node (built-in modules)' };
  if (u.startsWith('server/')) return { where: u, pkg: `spotcast ${u.split('/').slice(0, 2).join('/')}` };
  return { where: u, pkg: u };
}

/**
 * `window` ([from, to] in µs of the monotonic clock, from the process's `process.hrtime`, which is
 * the clock V8 stamps samples with) keeps only the samples of the workload, not start-up.
 */
export function summarizeProfile(file: string, root: string, window?: [number, number], top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const selfUs = new Map<number, number>();
  // The time of sample i runs until sample i+1.
  let at = profile.startTime;
  let first = Infinity;
  let last = -Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    if (window && (at < window[0] || at > window[1])) continue;
    first = Math.min(first, at);
    last = Math.max(last, at);
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
  }
  if (window && !Number.isFinite(first)) throw new Error(`no sample of ${file} falls in the workload's window`);
  const fn = new Map<string, SelfTime>();
  const pk = new Map<string, SelfTime>();
  let idle = 0;
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    const { where, pkg } = place(url, root);
    const name = functionName || '(anonymous)';
    const key = `${name}@${where}:${lineNumber}`;
    const f = fn.get(key) ?? { name, where: where ? `${where}:${lineNumber + 1}` : '', ms: 0, pct: 0 };
    f.ms += us / 1000;
    fn.set(key, f);
    const pkey = pkg || name; // (garbage collector), (program), native V8 builtins
    const p = pk.get(pkey) ?? { name: pkey, where: '', ms: 0, pct: 0 };
    p.ms += us / 1000;
    pk.set(pkey, p);
  }
  const busyMs = (total - idle) / 1000;
  const rank = (m: Map<string, SelfTime>) =>
    [...m.values()]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, top)
      .map((x) => ({ ...x, pct: busyMs > 0 ? (100 * x.ms) / busyMs : 0 }));
  const wallMs = window ? (last - first) / 1000 : (profile.endTime - profile.startTime) / 1000;
  return { file, wallMs, idleMs: idle / 1000, busyMs, functions: rank(fn), packages: rank(pk) };
}
