/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and per
 * file, and total time per function (self + callees), as shares of the busy (non-idle) time.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { originalPosition } from './sourcemap.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HotSpot {
  readonly name: string;
  readonly where: string;
  readonly selfMs: number;
  readonly selfShare: number;
  readonly totalMs: number;
  readonly totalShare: number;
}

export interface FileShare {
  readonly file: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  /** True when only the samples inside the requested window were counted. */
  readonly windowed: boolean;
  readonly wallMs: number;
  readonly idleMs: number;
  readonly busyMs: number;
  readonly gcMs: number;
  readonly bySelf: readonly HotSpot[];
  readonly byTotal: readonly HotSpot[];
  readonly byFile: readonly FileShare[];
}

/**
 * `window`: CLOCK_MONOTONIC microseconds (process.hrtime in any process on the machine,
 * which is also V8's profiler clock on Linux); only samples inside it are counted, so
 * start-up and shutdown stay out. Ignored when it does not overlap the profile.
 */
export function summariseCpuProfile(
  file: string,
  root: string,
  window?: { readonly fromUs: number; readonly toUs: number },
  top = 20,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const windowed = window !== undefined && window.fromUs < profile.endTime && window.toUs > profile.startTime;
  const from = windowed ? window.fromUs : -Infinity;
  const to = windowed ? window.toUs : Infinity;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time *before* sample i; attributing it to sample i is what DevTools does.
  let t = profile.startTime;
  let firstUs = Infinity;
  let lastUs = -Infinity;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = Math.max(0, profile.timeDeltas[i] ?? 0);
    t += delta;
    if (t < from || t > to) continue;
    firstUs = Math.min(firstUs, t);
    lastUs = Math.max(lastUs, t);
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }

  const labels = new Map<CallFrame, { name: string; where: string; file: string }>();
  const label = (cf: CallFrame): { name: string; where: string; file: string } => {
    let l = labels.get(cf);
    if (!l) labels.set(cf, (l = computeLabel(cf)));
    return l;
  };
  const computeLabel = (cf: CallFrame): { name: string; where: string; file: string } => {
    const name = cf.functionName || '(anonymous)';
    if (!cf.url) return { name, where: '', file: name.startsWith('(') ? name : '(native)' };
    let url = cf.url.startsWith('file://') ? fileURLToPath(cf.url) : cf.url;
    let line = cf.lineNumber + 1;
    // Our own compiled code: name the TypeScript source line instead.
    const original = url.startsWith(root) && !url.includes('node_modules') ? originalPosition(url, cf.lineNumber, cf.columnNumber) : undefined;
    if (original) {
      url = original.file;
      line = original.line;
    }
    if (url.startsWith(root)) url = path.relative(root, url);
    return { name, where: `${url}:${line}`, file: url };
  };

  let idleUs = 0;
  let gcUs = 0;
  let totalUs = 0;
  const selfByKey = new Map<string, { name: string; where: string; us: number }>();
  const fileUs = new Map<string, number>();
  const inclusiveByKey = new Map<string, number>();

  for (const [id, us] of selfUs) {
    totalUs += us;
    const node = nodes.get(id)!;
    const { name, where, file } = label(node.callFrame);
    if (name === '(idle)') {
      idleUs += us;
      continue;
    }
    if (name === '(garbage collector)') gcUs += us;
    const key = `${name}@${where}`;
    const entry = selfByKey.get(key) ?? { name, where, us: 0 };
    entry.us += us;
    selfByKey.set(key, entry);
    fileUs.set(file, (fileUs.get(file) ?? 0) + us);
    // Inclusive: every distinct function on the stack gets this sample's time once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(nodes.get(cur)!.callFrame);
      const k = `${l.name}@${l.where}`;
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveByKey.set(k, (inclusiveByKey.get(k) ?? 0) + us);
    }
  }

  const busyUs = Math.max(1, totalUs - idleUs);
  const spot = (key: string, name: string, where: string): HotSpot => {
    const self = selfByKey.get(key)?.us ?? 0;
    const total = inclusiveByKey.get(key) ?? self;
    return { name, where, selfMs: self / 1000, selfShare: self / busyUs, totalMs: total / 1000, totalShare: total / busyUs };
  };
  const bySelf = [...selfByKey.entries()]
    .sort((a, b) => b[1].us - a[1].us)
    .slice(0, top)
    .map(([key, e]) => spot(key, e.name, e.where));
  const synthetic = new Set(['(root)', '(program)', '(garbage collector)']);
  const byTotal = [...inclusiveByKey.entries()]
    .filter(([key]) => !synthetic.has(key.split('@')[0]!))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key]) => {
      const at = key.indexOf('@');
      return spot(key, key.slice(0, at), key.slice(at + 1));
    });
  const byFile = [...fileUs.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([file, us]) => ({ file, selfMs: us / 1000, share: us / busyUs }));

  return {
    windowed,
    wallMs: lastUs > firstUs ? (lastUs - firstUs) / 1000 : 0,
    idleMs: idleUs / 1000,
    busyMs: busyUs / 1000,
    gcMs: gcUs / 1000,
    bySelf,
    byTotal,
    byFile,
  };
}

/**
 * The profile a gateway wrote to `dir/name` when it stopped, copied to bench/out as
 * `<prefix>-<name>` (kept with the report); throws, with the gateway's output, if it wrote none.
 */
export function keepProfile(dir: string, name: string, root: string, prefix: string, gatewayOutput: () => string): { produced: string; kept: string } {
  const produced = path.join(dir, name);
  if (!existsSync(produced)) throw new Error(`the gateway wrote no profile (${produced}); it may not have exited cleanly:\n${gatewayOutput()}`);
  const kept = path.join(root, 'bench', 'out', `${prefix}-${name}`);
  mkdirSync(path.dirname(kept), { recursive: true });
  copyFileSync(produced, kept);
  return { produced, kept };
}
