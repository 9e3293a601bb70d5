// A chaos experiment (`kind: ChaosExperiment`, `skiff.io/v1`), as Chaos Toolkit shapes one: a
// steady-state hypothesis (probes that must hold before and after), a method (faults on a
// schedule, on targets chosen by selector and mode, as Chaos Mesh chooses them), probes checked
// all through the method, and rollbacks. This file reads and checks one, naming the field and the
// fix for each mistake, before anything is done to the cluster.
import { parse } from 'yaml';
import { DurationError, parseDuration } from '../../protocol/duration.ts';
import { memoryBytes } from '../../protocol/quantity.ts';
import { randomTimes, seededRandom } from './select.ts';

export type Mode = 'one' | 'all' | 'fixed' | 'fixed-percent' | 'random-max-percent';
export const MODES: Mode[] = ['one', 'all', 'fixed', 'fixed-percent', 'random-max-percent'];

export type Action =
  | 'kill-node' | 'pause-node' | 'kill-pod' | 'kill-leader' | 'kill-nats' | 'lame-duck-nats' | 'burn-cpu' | 'burn-memory'
  | 'network-delay' | 'network-loss' | 'network-partition';
export const ACTIONS: Action[] = [
  'kill-node', 'pause-node', 'kill-pod', 'kill-leader', 'kill-nats', 'lame-duck-nats', 'burn-cpu', 'burn-memory',
  'network-delay', 'network-loss', 'network-partition',
];
/** Faults on a node's link to NATS (its fault link), as Chaos Mesh's NetworkChaos delay, loss and partition. */
export const NETWORK_ACTIONS: Action[] = ['network-delay', 'network-loss', 'network-partition'];

/** Which processes or pods a fault acts on. */
export interface Target {
  /** Names to choose among (nodes: node-1; pods: their names); none: every one of the kind. */
  names?: string[];
  /** Labels of the Node or Pod objects to choose among. */
  labels?: Record<string, string>;
  /** Pods only: their namespace (default `default`). */
  namespace?: string;
  mode: Mode;
  /** fixed: how many; fixed-percent and random-max-percent: what share (0-100). */
  value?: number;
}

export interface Fault {
  name: string;
  action: Action;
  target: Target;
  /** When, after the method starts: fixed times. */
  at: number[];
  /** How long a pause or a burn lasts (ms). */
  durationMs: number;
  /** burn-memory: how much to hold (bytes). */
  bytes?: number;
  /** network-delay: added each way, and how much it varies either side (ms). */
  latencyMs?: number;
  jitterMs?: number;
  /** network-loss: the share of segments lost (0-100). */
  lossPercent?: number;
}

export interface HttpProbe { url: string; expectStatus: number; timeoutMs: number; successRate: number }
export interface CmdProbe { command: string[]; timeoutMs: number; successRate: number }
export interface ObjectProbe { resource: string; namespace?: string; name: string; path: string; equals: string | number | boolean }
export interface ConsistencyProbe { clients: number; keys: number }
/** A PromQL query against the cluster's Prometheus: its first sample compared with a value. */
export interface PromProbe { url: string; query: string; comparator: '>' | '>=' | '<' | '<=' | '=='; value: number; successRate: number }

export interface Probe {
  name: string;
  /** How often a continuous probe is checked (ms). */
  intervalMs: number;
  http?: HttpProbe;
  cmd?: CmdProbe;
  object?: ObjectProbe;
  prom?: PromProbe;
  /** recovery: after each fault, the time until `object` (or `http`) holds again, at most `withinMs`. */
  recovery?: { withinMs: number };
  consistency?: ConsistencyProbe;
}

export interface Experiment {
  name: string;
  seed: number;
  steadyState: Probe[];
  durationMs: number;
  faults: Fault[];
  probes: Probe[];
  /** Weight of the experiment in the resilience score (Litmus' experiment weight). */
  weight: number;
}

export class ExperimentError extends Error {}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Reads an experiment's YAML; every mistake is named with its field and how to put it right.
 * `durationMs` runs a short form: the method lasts that long, random faults are fewer in
 * proportion (at least one each) and drawn over it, and fixed times after it are left out.
 */
export function parseExperiment(text: string, opts: { durationMs?: number } = {}): Experiment {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ExperimentError(`not YAML: ${(err as Error).message}`);
  }
  const errs: string[] = [];
  const fail = (path: string, message: string) => errs.push(`${path}: ${message}`);
  if (!isObj(doc)) throw new ExperimentError('an experiment is a map: apiVersion: skiff.io/v1, kind: ChaosExperiment, metadata, spec');
  if (doc.apiVersion !== 'skiff.io/v1') fail('apiVersion', `must be skiff.io/v1 (got ${JSON.stringify(doc.apiVersion)})`);
  if (doc.kind !== 'ChaosExperiment') fail('kind', `must be ChaosExperiment (got ${JSON.stringify(doc.kind)})`);
  const name = isObj(doc.metadata) && typeof doc.metadata.name === 'string' ? doc.metadata.name : '';
  if (!name) fail('metadata.name', 'required');
  const spec = isObj(doc.spec) ? doc.spec : {};
  if (!isObj(doc.spec)) fail('spec', 'required: steadyState, method, probes');

  const duration = (v: unknown, path: string, fallback?: number): number => {
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'string') {
      fail(path, 'a duration is needed, such as 500ms, 10s or 2m');
      return 0;
    }
    try {
      return parseDuration(v, path);
    } catch (err) {
      if (!(err instanceof DurationError)) throw err;
      fail(path, `${JSON.stringify(v)} is not a duration: use one such as 500ms, 10s or 2m`);
      return 0;
    }
  };
  const number = (v: unknown, path: string, fallback: number, min = 0, max = Infinity): number => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || v < min || v > max) {
      fail(path, `must be a number from ${min}${max === Infinity ? ' up' : ` to ${max}`} (got ${JSON.stringify(v)})`);
      return fallback;
    }
    return v;
  };

  const memoryBytesOf = (v: unknown, path: string): number => {
    try {
      return memoryBytes(String(v ?? '256Mi'));
    } catch {
      fail(path, `${JSON.stringify(v)} is not a size: use one such as 256Mi or 1Gi`);
      return 0;
    }
  };
  const probe = (p: unknown, path: string): Probe | undefined => {
    if (!isObj(p)) {
      fail(path, 'a probe is a map with a name and one of http, cmd, object, recovery, consistency');
      return undefined;
    }
    const out: Probe = { name: typeof p.name === 'string' ? p.name : '', intervalMs: duration(p.interval, `${path}.interval`, 500) };
    if (!out.name) fail(`${path}.name`, 'required');
    if (isObj(p.http)) {
      if (typeof p.http.url !== 'string' || !/^https?:\/\//.test(p.http.url)) fail(`${path}.http.url`, 'required: an http:// URL');
      out.http = {
        url: String(p.http.url), expectStatus: number(p.http.expectStatus, `${path}.http.expectStatus`, 200, 100, 599),
        timeoutMs: duration(p.http.timeout, `${path}.http.timeout`, 2000), successRate: number(p.http.successRate, `${path}.http.successRate`, 100, 0, 100),
      };
    }
    if (isObj(p.cmd)) {
      const c = p.cmd.command;
      if (!Array.isArray(c) || c.length === 0 || !c.every((x) => typeof x === 'string')) fail(`${path}.cmd.command`, 'required: a list of strings, such as [curl, -sf, http://...]');
      out.cmd = { command: (c ?? []) as string[], timeoutMs: duration(p.cmd.timeout, `${path}.cmd.timeout`, 5000), successRate: number(p.cmd.successRate, `${path}.cmd.successRate`, 100, 0, 100) };
    }
    if (isObj(p.object)) {
      const o = p.object;
      for (const f of ['resource', 'name', 'path']) if (typeof o[f] !== 'string') fail(`${path}.object.${f}`, 'required');
      if (!['string', 'number', 'boolean'].includes(typeof o.equals)) fail(`${path}.object.equals`, 'required: the value the field must have');
      out.object = { resource: String(o.resource), namespace: typeof o.namespace === 'string' ? o.namespace : undefined, name: String(o.name), path: String(o.path), equals: o.equals as string | number | boolean };
    }
    if (isObj(p.recovery)) {
      out.recovery = { withinMs: duration(p.recovery.within, `${path}.recovery.within`) };
      if (!out.object && !out.http) fail(`${path}.recovery`, 'says how long the probe\'s object or http check may take to hold again after each fault: give object or http beside it');
    }
    if (isObj(p.prom)) {
      const q = p.prom;
      const comparators = ['>', '>=', '<', '<=', '=='];
      if (typeof q.query !== 'string' || !q.query) fail(`${path}.prom.query`, 'required: a PromQL query, such as sum(up)');
      if (q.comparator !== undefined && !comparators.includes(q.comparator as string)) fail(`${path}.prom.comparator`, `one of ${comparators.join(' ')} (got ${JSON.stringify(q.comparator)})`);
      if (typeof q.value !== 'number') fail(`${path}.prom.value`, 'required: the number the query\'s first sample is compared with');
      out.prom = {
        url: typeof q.url === 'string' ? q.url : 'http://127.0.0.1:5300', query: String(q.query), comparator: (q.comparator ?? '>=') as PromProbe['comparator'],
        value: Number(q.value), successRate: number(q.successRate, `${path}.prom.successRate`, 100, 0, 100),
      };
    }
    if (p.consistency !== undefined) {
      const c = isObj(p.consistency) ? p.consistency : {};
      out.consistency = { clients: number(c.clients, `${path}.consistency.clients`, 3, 1, 16), keys: number(c.keys, `${path}.consistency.keys`, 3, 1, 16) };
    }
    if (!out.http && !out.cmd && !out.object && !out.prom && !out.consistency) fail(path, 'needs one of http, cmd, object (with recovery, or alone), prom or consistency');
    return out;
  };
  const probes = (v: unknown, path: string): Probe[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      fail(path, 'a list of probes');
      return [];
    }
    return v.flatMap((p, i) => probe(p, `${path}[${i}]`) ?? []);
  };

  const method = isObj(spec.method) ? spec.method : {};
  if (spec.method !== undefined && !isObj(spec.method)) fail('spec.method', 'a map: duration and faults');
  const durationMs = opts.durationMs ?? duration(method.duration, 'spec.method.duration', 30_000);
  const faults: Fault[] = [];
  const list = method.faults ?? [];
  if (!Array.isArray(list)) fail('spec.method.faults', 'a list of faults');
  for (const [i, f] of (Array.isArray(list) ? list : []).entries()) {
    const path = `spec.method.faults[${i}]`;
    if (!isObj(f)) {
      fail(path, `a fault is a map: name, action (${ACTIONS.join(', ')}), target, at`);
      continue;
    }
    const action = f.action as Action;
    if (!ACTIONS.includes(action)) fail(`${path}.action`, `must be one of ${ACTIONS.join(', ')} (got ${JSON.stringify(f.action)})`);
    const t = isObj(f.target) ? f.target : {};
    const mode = (t.mode ?? 'one') as Mode;
    if (!MODES.includes(mode)) fail(`${path}.target.mode`, `must be one of ${MODES.join(', ')} (got ${JSON.stringify(t.mode)})`);
    if ((mode === 'fixed' || mode === 'fixed-percent' || mode === 'random-max-percent') && typeof t.value !== 'number') fail(`${path}.target.value`, `required with mode ${mode}: ${mode === 'fixed' ? 'how many' : 'a percentage, 0 to 100'}`);
    // Fixed times (at), or `random: {count: N}`: N times over the method, from the experiment's seed.
    // A short form keeps the faults' density: fewer random ones, over less time.
    const full = duration(method.duration, 'spec.method.duration', 30_000);
    const count = isObj(f.random) ? number(f.random.count, `${path}.random.count`, 1, 1) : undefined;
    const random = count === undefined ? undefined : Math.max(1, Math.round((count * durationMs) / Math.max(durationMs, full)));
    const at = random !== undefined
      ? randomTimes(random, durationMs, seededRandom(number(spec.seed, 'spec.seed', 1) + i))
      : f.at === undefined ? [0] : (Array.isArray(f.at) ? f.at : [f.at]).map((x, j) => duration(x, `${path}.at${Array.isArray(f.at) ? `[${j}]` : ''}`));
    if (opts.durationMs === undefined) for (const ms of at) if (ms > durationMs) fail(`${path}.at`, `${ms / 1000}s is after the method's end (spec.method.duration ${durationMs / 1000}s)`);
    faults.push({
      name: typeof f.name === 'string' && f.name ? f.name : `${action}-${i + 1}`, action,
      target: {
        mode, value: typeof t.value === 'number' ? t.value : undefined, namespace: typeof t.namespace === 'string' ? t.namespace : undefined,
        names: Array.isArray(t.names) ? t.names.map(String) : undefined, labels: isObj(t.labels) ? (t.labels as Record<string, string>) : undefined,
      },
      at: at.filter((ms) => ms <= durationMs), durationMs: duration(f.duration, `${path}.duration`, 5000),
      ...(action === 'burn-memory' ? { bytes: memoryBytesOf(f.size, `${path}.size`) } : {}),
      ...(action === 'network-delay' ? { latencyMs: duration(f.latency, `${path}.latency`), jitterMs: duration(f.jitter, `${path}.jitter`, 0) } : {}),
      ...(action === 'network-loss' ? { lossPercent: f.loss === undefined ? (fail(`${path}.loss`, 'required: the share of packets lost, 0 to 100'), 0) : number(f.loss, `${path}.loss`, 0, 0, 100) } : {}),
    });
  }
  const hypothesis = isObj(spec.steadyState) ? spec.steadyState.probes : undefined;
  const out: Experiment = {
    name, seed: number(spec.seed, 'spec.seed', 1), weight: number(spec.weight, 'spec.weight', 10, 0),
    steadyState: probes(hypothesis, 'spec.steadyState.probes'), durationMs, faults, probes: probes(spec.probes, 'spec.probes'),
  };
  if (out.steadyState.some((p) => p.recovery || p.consistency)) fail('spec.steadyState.probes', 'recovery and consistency probes watch the method: put them in spec.probes');
  if (errs.length) throw new ExperimentError(`the experiment is not valid:\n  ${errs.join('\n  ')}`);
  return out;
}
