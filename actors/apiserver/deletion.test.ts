// Deleting races other writers: without a resourceVersion precondition the delete is tried again
// on the fresh object, as Kubernetes' storage layer does; with one, the race is the caller's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../protocol/config.ts';
import { Conflict } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import type { Pod } from '../../protocol/types.ts';
import { deleteByName } from './deletion.ts';
import type { ApiContext } from './request.ts';

const PODS = kindInfo('Pod')!;

async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  assert.unreachable('it succeeded');
}

/** A store whose object a "kubelet" rewrites `races` times, each just before our delete lands. */
function racingStore(races: number) {
  let revision = 1;
  let pod: Pod | undefined = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'default', uid: 'u1' }, spec: { containers: [] } };
  const store = {
    async get() {
      return pod ? { object: pod, revision } : undefined;
    },
    async delete(_info: unknown, _name: string, _ns: string | undefined, expected: number) {
      if (races > 0) {
        races--;
        revision++;
        throw new Conflict('the object has been modified');
      }
      if (expected !== revision) throw new Conflict('the object has been modified');
      pod = undefined;
    },
  };
  const ctx = { store, caches: new Map(), admission: { admit: async () => {}, deleted: async () => {} }, cfg: loadConfig({}), now: () => new Date() } as unknown as ApiContext;
  return { ctx, exists: () => pod !== undefined };
}

test('a delete that loses a race with another write is retried on the new version', async () => {
  const { ctx, exists } = racingStore(2);
  await deleteByName(ctx, PODS, 'p', 'default', { dryRun: false, strict: true, propagationPolicy: 'Background', gracePeriodSeconds: 0 });
  assert.not.ok(exists());
});

test('a delete that keeps losing gives up with Conflict', async () => {
  const { ctx, exists } = racingStore(100);
  assert.instance(await rejection(() => deleteByName(ctx, PODS, 'p', 'default', { dryRun: false, strict: true, propagationPolicy: 'Background', gracePeriodSeconds: 0 })), Conflict);
  assert.ok(exists());
});

test('with a resourceVersion precondition the race is reported, not retried', async () => {
  const { ctx, exists } = racingStore(1);
  const err = await rejection(() => deleteByName(ctx, PODS, 'p', 'default', { dryRun: false, strict: true, propagationPolicy: 'Background', gracePeriodSeconds: 0, preconditions: { resourceVersion: '1' } }));
  assert.instance(err, Conflict);
  assert.ok(exists());
});

test.run();
