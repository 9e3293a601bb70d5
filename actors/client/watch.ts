// A resumable watch. The apiserver streams numbered events to a subject of ours; a gap in the
// numbers, a missed heartbeat or a reconnect makes us watch again from the last resourceVersion
// we saw, and a `Gone` (that version has left the watch cache) makes us relist. Either way the
// caller sees every change, and a relist is framed by RESYNC ... SYNCED so that a cache can drop
// what no longer exists: a delete is never missed.
import { type Msg, type Subscription } from 'nats';
import { connectionInbox } from '../platform/nats.ts';
import { decode, encode } from '../../protocol/codec.ts';
import { WATCH_DEADLINE_CHECK_MIN_MS, WATCH_RETRY_MS } from '../../protocol/config.ts';
import { Gone } from '../../protocol/errors.ts';
import type { KubeObject, WatchEventType } from '../../protocol/types.ts';
import type { ApiClient } from './client.ts';
import { createLogger } from '../platform/log.ts';

const log = createLogger({ component: 'watch' });

export type WatchUpdate =
  | { type: Exclude<WatchEventType, 'BOOKMARK'>; object: KubeObject }
  /** A full listing follows: every object arrives as ADDED, then SYNCED. */
  | { type: 'RESYNC' }
  | { type: 'SYNCED'; resourceVersion: string };

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Resume after this version; without it the watch starts with a full listing. */
  resourceVersion?: string;
  /** Where events are delivered; a node passes a subject carrying its name. */
  inbox?: () => string;
  /** Re-watch when nothing (not even a heartbeat) arrived for this long. */
  deadlineMs: number;
  /** Called on every restart, with the reason; for logs and metrics. */
  onRestart?: (reason: string) => void;
}

export interface WatchHandle {
  stop(): void;
  resourceVersion(): string | undefined;
}

interface StreamEvent {
  type: WatchEventType;
  object: KubeObject;
  initialEventsEnd?: boolean;
}

/** One event, several (numbered from seq: a turn's worth from the apiserver), or a heartbeat. */
interface StreamMessage {
  seq: number;
  event?: StreamEvent;
  events?: StreamEvent[];
  resourceVersion?: string;
}

export function startWatch(client: ApiClient, resource: string, opts: WatchOptions, emit: (u: WatchUpdate) => void): WatchHandle {
  let lastRv = opts.resourceVersion;
  let stopped = false;
  let sub: Subscription | undefined;
  let expectSeq = 1;
  let lastHeard = Date.now();
  let attempt = 0;
  let generation = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  /** The first listing is under way: its objects come in no order of version. */
  let listing = false;

  const restart = (reason: string) => {
    if (stopped) return;
    opts.onRestart?.(reason);
    // Cut off part-way through a listing, the last version seen says nothing of what came before
    // it: list again.
    if (listing) lastRv = undefined;
    sub?.unsubscribe();
    sub = undefined;
    clearTimeout(retryTimer);
    const delay = attempt === 0 ? 0 : WATCH_RETRY_MS[Math.min(attempt - 1, WATCH_RETRY_MS.length - 1)];
    attempt++;
    retryTimer = setTimeout(begin, delay);
  };

  const onMessage = (gen: number, msg: Msg) => {
    if (gen !== generation || stopped) return;
    let m: StreamMessage;
    try {
      m = decode(msg.data) as unknown as StreamMessage;
    } catch {
      return restart('undecodable watch message');
    }
    if (m.seq !== expectSeq) return restart(`gap: expected event ${expectSeq}, got ${m.seq}`);
    const events = Array.isArray(m.events) ? m.events : m.event ? [m.event] : [];
    expectSeq += Math.max(1, events.length);
    lastHeard = Date.now();
    if (msg.reply) msg.respond(encode('heartbeat-ack'));
    if (events.length === 0) {
      attempt = 0;
      if (m.resourceVersion) lastRv = m.resourceVersion;
      return;
    }
    for (const ev of events) {
      // A handler may have stopped the watch part-way through a batch.
      if (stopped) return;
      const before = lastRv;
      lastRv = ev.object.metadata.resourceVersion ?? lastRv;
      try {
        if (ev.type !== 'BOOKMARK') emit({ type: ev.type, object: ev.object });
        else if (ev.initialEventsEnd) {
          emit({ type: 'SYNCED', resourceVersion: lastRv ?? '0' });
          listing = false;
        }
      } catch (err) {
        // A bug in the caller, said as loudly as one; the rest of the batch is not lost with it:
        // watch again from before this event (or list again, during the listing), after the
        // usual pause, which grows while it keeps failing.
        log.error('a watch handler failed; watching again from before the event', { resource, event: ev.type, object: ev.object.metadata.name, err });
        lastRv = before;
        return restart(`a watch handler failed: ${(err as Error).message}`);
      }
    }
    attempt = 0;
  };

  const begin = async () => {
    if (stopped) return;
    if (client.nc.isClosed()) return stop();
    const gen = ++generation;
    expectSeq = 1;
    lastHeard = Date.now();
    const deliver = opts.inbox ? opts.inbox() : connectionInbox(client.nc);
    sub = client.nc.subscribe(deliver, { callback: (err, msg) => { if (!err) onMessage(gen, msg); } });
    const initial = lastRv === undefined;
    listing = initial;
    if (initial) emit({ type: 'RESYNC' });
    try {
      await client.call(resource, 'watch', {
        namespace: opts.namespace,
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        resourceVersion: lastRv,
        sendInitialEvents: initial,
        deliver,
      });
    } catch (err) {
      if (gen !== generation) return;
      if (err instanceof Gone) {
        lastRv = undefined;
        attempt = 0;
      }
      return restart(`watch request failed: ${(err as Error).message}`);
    }
  };

  const deadline = setInterval(() => {
    if (!stopped && sub && Date.now() - lastHeard > opts.deadlineMs) restart('no heartbeat from the apiserver');
  }, Math.max(WATCH_DEADLINE_CHECK_MIN_MS, Math.floor(opts.deadlineMs / 4)));
  deadline.unref?.();

  // A reconnect may have lost events in flight; the sequence check would only notice at the
  // next message, so resume at once.
  (async () => {
    for await (const s of client.nc.status()) {
      if (stopped) break;
      if (s.type === 'reconnect') restart('reconnected to NATS');
    }
  })().catch(() => {});

  function stop() {
    stopped = true;
    clearInterval(deadline);
    clearTimeout(retryTimer);
    if (!client.nc.isClosed()) sub?.unsubscribe();
  }

  void begin();
  return { stop, resourceVersion: () => lastRv };
}
