// Which apiservers answer, as a client sees them. Every apiserver publishes a beat every
// APISERVER_BEAT_MS on APISERVER_BEAT; a client sends each request to one it has heard from
// within APISERVER_HEALTHY_MS, on that apiserver's own subject, and falls back to the queue group
// while it knows of none (just connected, or every apiserver silent). An apiserver that stops
// (SIGSTOP, a hung event loop) stops beating and stops getting requests within
// APISERVER_HEALTHY_MS; through the queue group alone it would keep getting its share for as long
// as NATS has data to send it, since NATS does not ping a connection it is busy writing to. One
// per connection.
import type { NatsConnection } from 'nats';
import { APISERVER_HEALTHY_MS } from '../../protocol/config.ts';
import { APISERVER_BEAT } from '../../protocol/subjects.ts';
import { onePerConnection } from '../platform/nats.ts';
import { fnv1a } from '../../protocol/hash.ts';

export class ApiServers {
  private readonly lastBeat = new Map<string, number>();
  private next = 0;

  constructor(nc: NatsConnection, private readonly now: () => number = Date.now) {
    const decoder = new TextDecoder();
    nc.subscribe(APISERVER_BEAT, { callback: (err, msg) => { if (!err) this.heard(decoder.decode(msg.data)); } });
  }

  heard(instance: string): void {
    if (instance) this.lastBeat.set(instance, this.now());
  }

  /** An apiserver that is gone (nobody on its subject): passed over until it beats again. */
  forget(instance: string): void {
    this.lastBeat.delete(instance);
  }

  /**
   * An apiserver heard from lately and not in `exclude`, round robin; undefined if none. With an
   * `affinity` (a write's object), the same one for the same object, from every client that knows
   * the same apiservers: the apiserver then sends that object's writes to the store one at a time
   * (kv-requests.ts says why).
   */
  pick(exclude: ReadonlySet<string> = new Set(), affinity?: string): string | undefined {
    const since = this.now() - APISERVER_HEALTHY_MS;
    const healthy: string[] = [];
    for (const [instance, at] of this.lastBeat) {
      if (at < since) this.lastBeat.delete(instance);
      else if (!exclude.has(instance)) healthy.push(instance);
    }
    if (healthy.length === 0) return undefined;
    if (affinity !== undefined) return healthy.sort()[fnv1a(affinity) % healthy.length];
    return healthy[this.next++ % healthy.length];
  }
}

/** The connection's view of the apiservers, made on first use. */
export const apiServers = onePerConnection((nc) => new ApiServers(nc));
