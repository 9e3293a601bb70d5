// Pod status writes, coalesced: the latest status of each pod is kept, at most one write per pod
// is in flight, and whatever changed meanwhile goes out as one write after it. A status equal to
// the last one written is not written again, so probe ticks cost nothing.
import { POD_STATUS_SETTLE_POLL_MS } from '../../protocol/config.ts';
import { Conflict, NotFound } from '../../protocol/errors.ts';
import { deepEqual } from '../../protocol/merge-patch.ts';
import type { Pod, PodStatus } from '../../protocol/types.ts';
import type { ApiClient } from '../client/client.ts';

interface Entry {
  pod: Pod;
  status: PodStatus;
  written?: PodStatus;
  inFlight: boolean;
  timer?: NodeJS.Timeout;
}

export interface StatusWriter {
  write(pod: Pod, status: PodStatus): Promise<void>;
}

/**
 * Writes through the status subresource, which reads only the name, the uid (a pod deleted and
 * made again under its name is not written to) and the status: the spec is not sent, and only the
 * version written comes back.
 */
export function apiStatusWriter(client: ApiClient): StatusWriter {
  return {
    write: async (pod, status) => {
      const { name, namespace, uid } = pod.metadata;
      await client.updateStatus({ apiVersion: pod.apiVersion, kind: pod.kind, metadata: { name, namespace, uid }, status } as Pod, { returnObject: false });
    },
  };
}

export class StatusManager {
  private readonly entries = new Map<string, Entry>();
  writes = 0;

  /**
   * `batchMs`: a change waits this long before it is written, so that the steps of a pod start
   * (created, running, started, ready), which follow each other within milliseconds, go out as
   * one write. `retryMs`: a failed write is tried again after this.
   */
  constructor(
    private readonly writer: StatusWriter, private readonly onError: (pod: Pod, err: unknown) => void,
    private readonly batchMs: number, private readonly retryMs: number,
  ) {}

  set(pod: Pod, status: PodStatus): void {
    const uid = pod.metadata.uid!;
    let e = this.entries.get(uid);
    if (!e) this.entries.set(uid, (e = { pod, status, inFlight: false }));
    e.pod = pod;
    e.status = status;
    if (this.batchMs <= 0) return this.flush(uid, e);
    const entry = e;
    entry.timer ??= setTimeout(() => {
      entry.timer = undefined;
      this.flush(uid, entry);
    }, this.batchMs);
  }

  forget(uid: string): void {
    clearTimeout(this.entries.get(uid)?.timer);
    this.entries.delete(uid);
  }

  /** Resolves when no write is in flight or pending, or after `timeoutMs`. */
  async settled(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ([...this.entries.values()].some((e) => e.inFlight || e.timer || !deepEqual(e.status, e.written)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, POD_STATUS_SETTLE_POLL_MS));
    }
  }

  private flush(uid: string, e: Entry): void {
    if (e.inFlight || deepEqual(e.status, e.written)) return;
    e.inFlight = true;
    const status = e.status;
    this.writes++;
    let retryMs = 0;
    this.writer.write(e.pod, status).then(
      () => { e.written = status; },
      (err) => {
        // A pod deleted meanwhile (or replaced by another of its name) needs no status; anything
        // else is retried shortly.
        if (err instanceof NotFound || err instanceof Conflict) this.entries.delete(uid);
        else {
          this.onError(e.pod, err);
          retryMs = this.retryMs;
        }
      },
    ).finally(() => {
      e.inFlight = false;
      if (this.entries.get(uid) !== e) return;
      if (retryMs) setTimeout(() => this.flush(uid, e), retryMs);
      else this.flush(uid, e);
    });
  }
}
