// Recording Events about objects, as client-go's event recorder does: a repeat of the same event
// (same object, reason and message) within ten minutes bumps the existing Event's count instead of
// creating another, and a token bucket keeps a burst (a thousand pods scheduled in a second) from
// flooding the apiserver: past it, events are dropped and counted.
import { randomBytes } from 'node:crypto';
import { Counter, type Registry } from 'prom-client';
import { EVENT_AGGREGATE_MS } from '../../protocol/config.ts';
import type { Event, KubeObject } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';

export interface EventRecorderOptions {
  component: string;
  host?: string;
  /** Events per second, sustained. */
  ratePerSecond: number;
  burst: number;
  registry?: Registry;
}

export class EventRecorder {
  private tokens: number;
  private last = Date.now();
  private readonly recent = new Map<string, { name: string; namespace: string; count: number; at: number }>();
  private readonly dropped?: Counter;

  constructor(private readonly client: ApiClient, private readonly opts: EventRecorderOptions) {
    this.tokens = opts.burst;
    if (opts.registry) {
      this.dropped = new Counter({ name: 'skiff_events_dropped_total', help: 'Events not recorded because of the rate limit.', registers: [opts.registry] });
    }
  }

  private take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.last) / 1000) * this.opts.ratePerSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Fire and forget: an event that cannot be written is not worth failing the caller for. */
  record(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (!this.take()) {
      this.dropped?.inc();
      return;
    }
    const namespace = obj.metadata.namespace ?? 'default';
    const key = `${obj.metadata.uid}\u0000${reason}\u0000${message}`;
    const now = Date.now();
    const ts = new Date(now).toISOString();
    const seen = this.recent.get(key);
    if (seen && now - seen.at < EVENT_AGGREGATE_MS) {
      seen.count++;
      seen.at = now;
      void this.client.patch('events', seen.name, seen.namespace, { count: seen.count, lastTimestamp: ts }).catch(() => this.recent.delete(key));
      return;
    }
    if (this.recent.size > 10_000) this.recent.clear();
    const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
    this.recent.set(key, { name, namespace, count: 1, at: now });
    const ev: Event = {
      apiVersion: 'v1', kind: 'Event',
      metadata: { name, namespace },
      involvedObject: { kind: obj.kind, name: obj.metadata.name!, namespace: obj.metadata.namespace, uid: obj.metadata.uid, apiVersion: obj.apiVersion },
      reason, message, type, count: 1, firstTimestamp: ts, lastTimestamp: ts,
      source: { component: this.opts.component, ...(this.opts.host ? { host: this.opts.host } : {}) },
      reportingComponent: this.opts.component,
    };
    void this.client.create(ev, { returnObject: false }).catch(() => this.recent.delete(key));
  }
}
