// One check of a probe against the cluster: an http request, a command, or an object's field
// compared with a value; and the consistency probe's clients, which increment and read a few
// registers (Leases) by compare-and-swap through the apiserver and record every operation for the
// checker (checker.ts).
import { spawn } from 'node:child_process';
import type { ApiClient } from '../../actors/client/client.ts';
import { Conflict } from '../../protocol/errors.ts';
import type { KubeObject, Lease } from '../../protocol/types.ts';
import type { Op } from './checker.ts';
import type { Probe, PromProbe } from './experiment.ts';

export interface Check {
  ok: boolean;
  detail?: string;
}

/** The value at a dotted field path (`status.availableReplicas`, `spec.ports[0].port`). */
export function fieldAt(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.replace(/\[(\d+)\]/g, '.$1').split('.').filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export async function checkOnce(p: Probe, client: ApiClient): Promise<Check> {
  if (p.http) {
    try {
      const res = await fetch(p.http.url, { signal: AbortSignal.timeout(p.http.timeoutMs), headers: { connection: 'close' } });
      await res.arrayBuffer();
      return res.status === p.http.expectStatus ? { ok: true } : { ok: false, detail: `status ${res.status}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).name === 'TimeoutError' ? `no answer in ${p.http.timeoutMs} ms` : (err as Error).message };
    }
  }
  if (p.cmd) {
    const [cmd, ...args] = p.cmd.command;
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { stdio: 'ignore', timeout: p.cmd!.timeoutMs });
      child.on('error', (err) => resolve({ ok: false, detail: err.message }));
      child.on('exit', (code, signal) => resolve(code === 0 ? { ok: true } : { ok: false, detail: signal ? `killed by ${signal}` : `exit ${code}` }));
    });
  }
  if (p.object) {
    const o = p.object;
    try {
      const obj = await client.get<KubeObject>(o.resource, o.name, o.namespace);
      const v = fieldAt(obj, o.path);
      return String(v) === String(o.equals) ? { ok: true } : { ok: false, detail: `${o.path} is ${JSON.stringify(v)}, not ${JSON.stringify(o.equals)}` };
    } catch (err) {
      return { ok: false, detail: (err as Error).message };
    }
  }
  if (p.prom) return checkProm(p.prom);
  return { ok: false, detail: 'nothing to check' };
}

const COMPARE: Record<PromProbe['comparator'], (a: number, b: number) => boolean> = {
  '>': (a, b) => a > b, '>=': (a, b) => a >= b, '<': (a, b) => a < b, '<=': (a, b) => a <= b, '==': (a, b) => a === b,
};

/** A PromQL instant query: its first sample compared with the probe's value. */
async function checkProm(q: PromProbe): Promise<Check> {
  try {
    const res = await fetch(`${q.url.replace(/\/$/, '')}/api/v1/query?query=${encodeURIComponent(q.query)}`, { signal: AbortSignal.timeout(5000) });
    const body = await res.json() as { status: string; error?: string; data?: { result?: { value?: [number, string] }[] } };
    if (body.status !== 'success') return { ok: false, detail: `Prometheus: ${body.error ?? res.status}` };
    const sample = body.data?.result?.[0]?.value?.[1];
    if (sample === undefined) return { ok: false, detail: `${q.query}: no sample` };
    const v = Number(sample);
    return COMPARE[q.comparator](v, q.value) ? { ok: true } : { ok: false, detail: `${q.query} is ${v}, not ${q.comparator} ${q.value}` };
  } catch (err) {
    return { ok: false, detail: `Prometheus at ${q.url}: ${(err as Error).message}` };
  }
}

/** Each consistency client waits this long after each compare-and-swap. */
const OP_PAUSE_MS = 20;

/** The consistency probe's registers: Leases whose spec.leaseTransitions is the value. */
export class ConsistencyClients {
  readonly ops: Op[] = [];
  readonly uids: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly started = performance.now();

  constructor(private readonly client: ApiClient, private readonly prefix: string, private readonly keys: number, private readonly clients: number) {}

  private key(i: number): string {
    return `${this.prefix}-${i}`;
  }

  private now(): number {
    return performance.now() - this.started;
  }

  /** Makes the registers at 0 (again, if a run before left them). */
  async setUp(): Promise<void> {
    for (let i = 0; i < this.keys; i++) {
      await this.client.delete('leases', this.key(i), 'default').catch(() => {});
      const made = await this.client.create<Lease>({ apiVersion: 'v1', kind: 'Lease', metadata: { name: this.key(i), namespace: 'default' }, spec: { leaseTransitions: 0 } }) as Lease;
      this.uids.push(made.metadata.uid!);
    }
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.clients }, (_, p) => this.loop(p + 1));
  }

  private async loop(process: number): Promise<void> {
    let n = 0;
    while (this.running) {
      const key = this.key((process + n++) % this.keys);
      const invoke = this.now();
      let lease: Lease;
      try {
        lease = await this.client.get<Lease>('leases', key, 'default');
      } catch {
        this.ops.push({ process, key, f: 'read', invoke, outcome: 'unknown' });
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const value = lease.spec.leaseTransitions ?? 0;
      this.ops.push({ process, key, f: 'read', invoke, complete: this.now(), outcome: 'ok', value });
      if (n % 2 === 0) continue;
      const cas: Op = { process, key, f: 'cas', invoke: this.now(), outcome: 'unknown', from: value, to: value + 1 };
      try {
        await this.client.update<Lease>({ ...lease, spec: { ...lease.spec, leaseTransitions: value + 1 } });
        cas.outcome = 'ok';
        cas.complete = this.now();
      } catch (err) {
        if (err instanceof Conflict) {
          cas.outcome = 'fail';
          cas.complete = this.now();
        }
      }
      this.ops.push(cas);
      // A steady trickle, not a flood: the clients are to watch the store, not to load it.
      await new Promise((r) => setTimeout(r, OP_PAUSE_MS));
    }
  }

  /** Stops the clients, reads each register's final value, and removes them. */
  async finish(): Promise<Map<string, number>> {
    this.running = false;
    await Promise.all(this.loops);
    const finals = new Map<string, number>();
    for (let i = 0; i < this.keys; i++) {
      // The store may still be healing from the method's faults: up to half a minute.
      for (let attempt = 0; attempt < 60; attempt++) {
        try {
          finals.set(this.key(i), (await this.client.get<Lease>('leases', this.key(i), 'default')).spec.leaseTransitions ?? 0);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      await this.client.delete('leases', this.key(i), 'default').catch(() => {});
    }
    return finals;
  }
}
