// What the autoscaler's end-to-end test and its benchmark share: a pod that burns CPU on every
// request (fixtures/burn-server.mjs), load at a fixed rate with a new connection per request (so
// that new replicas get their share at once, as they would not with a few kept-alive
// connections), and a timeline of the target's replicas as the HPA moves them.
import { request } from 'node:http';
import { join } from 'node:path';
import type { ApiClient } from '../actors/client/client.ts';
import type { Deployment, HorizontalPodAutoscaler, MetricSpec, Service } from '../protocol/types.ts';
import { ROOT } from './harness.ts';

export const BURN_SERVER = join(ROOT, 'test/fixtures/burn-server.mjs');

/** A Deployment of the burning server, `burnMs` of CPU a request, with a CPU request of `cpu`, behind a Service. */
export async function createBurner(client: ApiClient, name: string, opts: { burnMs: number; cpu: string; port: number; replicas?: number }): Promise<Service> {
  await client.create<Deployment>({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name },
    spec: {
      replicas: opts.replicas ?? 1, selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { terminationGracePeriodSeconds: 2, containers: [{
        name: 'burn', command: ['node', BURN_SERVER], env: [{ name: 'BURN_MS', value: String(opts.burnMs) }],
        ports: [{ name: 'http', containerPort: 8080 }], resources: { requests: { cpu: opts.cpu } },
        readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1, failureThreshold: 1 },
      }] } },
    },
  });
  return client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: opts.port, targetPort: 'http' }] } });
}

/** An HPA on `name`'s Deployment, scaling down `downWindowSeconds` after its figures fall. */
export function createHpa(client: ApiClient, name: string, opts: { min: number; max: number; metric: MetricSpec; downWindowSeconds: number }): Promise<HorizontalPodAutoscaler> {
  return client.create<HorizontalPodAutoscaler>({
    apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', metadata: { name },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name }, minReplicas: opts.min, maxReplicas: opts.max, metrics: [opts.metric],
      behavior: { scaleDown: { stabilizationWindowSeconds: opts.downWindowSeconds } },
    },
  });
}

/** What the load saw. */
export interface LoadResult {
  sent: number;
  ok: number;
  failed: number;
  /** The first few failures' reasons. */
  errors: string[];
  /** Per whole second since the start: requests answered 200, and failed. */
  perSecond: { ok: number; failed: number }[];
}

/**
 * Sends `rate` requests a second to host:port, each on a new connection, on a fixed schedule
 * (open loop: a slow answer does not slow the sending) until stopped; `stop` waits for the last
 * answers.
 */
export function startLoad(host: string, port: number, rate: number, timeoutMs = 5000): { stop(): Promise<LoadResult>; result(): LoadResult } {
  const started = performance.now();
  const r: LoadResult = { sent: 0, ok: 0, failed: 0, errors: [], perSecond: [] };
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const bin = () => {
    const s = Math.floor((performance.now() - started) / 1000);
    while (r.perSecond.length <= s) r.perSecond.push({ ok: 0, failed: 0 });
    return r.perSecond[s];
  };
  const done = (ok: boolean, why?: string) => {
    if (ok) {
      r.ok++;
      bin().ok++;
    } else {
      r.failed++;
      bin().failed++;
      if (r.errors.length < 10) r.errors.push(why ?? 'failed');
    }
    if (--inFlight === 0) drained?.();
  };
  const one = () => {
    r.sent++;
    inFlight++;
    let settled = false;
    const settle = (ok: boolean, why?: string) => {
      if (!settled) {
        settled = true;
        done(ok, why);
      }
    };
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => settle(res.statusCode === 200, `status ${res.statusCode}`));
      res.on('error', (err) => settle(false, err.message));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', (err) => settle(false, err.message));
    req.end();
  };
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000);
    while (r.sent < due) one();
  }, 5);
  return {
    result: () => r,
    async stop() {
      clearInterval(timer);
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
      return r;
    },
  };
}

/** One moment of the timeline: seconds since its start, and the target's replicas then. */
export interface TimelineEntry {
  t: number;
  /** The Deployment's spec.replicas (what the HPA set), and how many of its pods are ready. */
  replicas: number;
  ready: number;
  /** The HPA's status.desiredReplicas and its first current metric, as `get hpa` shows it. */
  desired?: number;
  metric?: string;
}

/** Records `name`'s Deployment and HPA every `everyMs`, an entry whenever something changed. */
export function recordTimeline(client: ApiClient, name: string, everyMs = 200): { entries: TimelineEntry[]; mark(): void; elapsed(): number; stop(): Promise<TimelineEntry[]> } {
  const entries: TimelineEntry[] = [];
  let zero = performance.now();
  let running = true;
  const look = async () => {
    const [d, h] = await Promise.all([
      client.get<Deployment>('deployments', name, 'default'),
      client.get<HorizontalPodAutoscaler>('horizontalpodautoscalers', name, 'default').catch(() => undefined),
    ]);
    const m = h?.status?.currentMetrics?.[0] as { pods?: { current: { averageValue: string } }; resource?: { current: { averageUtilization?: number } } } | undefined;
    const e: TimelineEntry = {
      t: Math.round(performance.now() - zero) / 1000, replicas: d.spec.replicas ?? 1, ready: d.status?.readyReplicas ?? 0,
      desired: h?.status?.desiredReplicas, metric: m?.pods?.current.averageValue ?? (m?.resource ? `${m.resource.current.averageUtilization}%` : undefined),
    };
    const last = entries.at(-1);
    if (!last || last.replicas !== e.replicas || last.ready !== e.ready || last.desired !== e.desired || last.metric !== e.metric) entries.push(e);
  };
  const loop = (async () => {
    while (running) {
      await look().catch(() => undefined);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    entries,
    /** Times from now on count from here (the load's step). */
    mark() {
      const now = performance.now();
      const shift = (now - zero) / 1000;
      for (const e of entries) e.t = Math.round((e.t - shift) * 1000) / 1000;
      zero = now;
    },
    /** Seconds since the mark. */
    elapsed: () => (performance.now() - zero) / 1000,
    async stop() {
      running = false;
      await loop;
      return entries;
    },
  };
}

/** The timeline as lines to print: `+2.3s replicas 4 ready 1 desired 4 (61500m)`. */
export function formatTimeline(entries: TimelineEntry[]): string {
  return entries.map((e) => `${e.t >= 0 ? '+' : ''}${e.t.toFixed(1)}s replicas ${e.replicas} ready ${e.ready}${e.desired === undefined ? '' : ` desired ${e.desired}`}${e.metric ? ` (${e.metric})` : ''}`).join('\n');
}
