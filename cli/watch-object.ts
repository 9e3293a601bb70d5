// Waiting on one object by watching it, never by polling: each state it passes through (or its
// absence, once it is gone) goes to a `settle` function until that returns a verdict.
import type { ApiClient } from '../actors/client/client.ts';
import type { WatchHandle } from '../actors/client/watch.ts';
import type { Config } from '../protocol/config.ts';
import type { KubeObject, Pod } from '../protocol/types.ts';
import type { CliContext } from './command.ts';

export interface ObjectKey {
  resource: string;
  name: string;
  namespace?: string;
}

export type WatchOutcome<R> =
  | { type: 'settled'; value: R }
  | { type: 'timeout' }
  | { type: 'aborted' };

export interface WaitOptions {
  /** Give up after this long; none waits for ever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * Watches `key` from a fresh listing, so that an object already gone is seen as gone, and hands
 * `settle` the object after every change (undefined once it is deleted).
 */
export function watchObject<T extends KubeObject, R>(
  client: ApiClient, cfg: Config, key: ObjectKey, settle: (obj: T | undefined) => R | undefined, opts: WaitOptions = {},
): Promise<WatchOutcome<R>> {
  if (opts.signal?.aborted) return Promise.resolve({ type: 'aborted' });
  return new Promise((resolve) => {
    let syncing = false;
    let listed: T | undefined;
    let finished = false;
    let handle: WatchHandle | undefined;
    const finish = (outcome: WatchOutcome<R>) => {
      if (finished) return;
      finished = true;
      handle?.stop();
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(outcome);
    };
    const offer = (obj: T | undefined) => {
      if (finished) return;
      const value = settle(obj);
      if (value !== undefined) finish({ type: 'settled', value });
    };
    const onAbort = () => finish({ type: 'aborted' });
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => finish({ type: 'timeout' }), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    handle = client.watch(key.resource, {
      namespace: key.namespace,
      fieldSelector: `metadata.name=${key.name}`,
      deadlineMs: cfg.watchHeartbeatMs * 2.5,
    }, (u) => {
      // A listing is framed by RESYNC ... SYNCED; only its end says whether the object exists.
      if (u.type === 'RESYNC') {
        syncing = true;
        listed = undefined;
      } else if (u.type === 'SYNCED') {
        syncing = false;
        offer(listed);
      } else if (u.object.metadata.name !== key.name) {
        return;
      } else if (syncing) {
        if (u.type !== 'DELETED') listed = u.object as T;
      } else {
        offer(u.type === 'DELETED' ? undefined : (u.object as T));
      }
    });
    if (finished) handle.stop();
  });
}

/** Resolves once the pod is gone: deleted, or replaced by a new pod of the same name. */
export async function waitPodGone(client: ApiClient, cfg: Config, pod: Pod, opts: WaitOptions): Promise<WatchOutcome<true>> {
  const uid = pod.metadata.uid;
  return watchObject<Pod, true>(client, cfg, { resource: 'pods', name: pod.metadata.name!, namespace: pod.metadata.namespace },
    (p) => (!p || p.metadata.uid !== uid ? true : undefined), opts);
}

/** Aborts when the user presses Ctrl-C. */
export function interruptSignal(ctx: CliContext): AbortSignal {
  const ac = new AbortController();
  void ctx.interrupted.then(() => ac.abort());
  return ac.signal;
}
