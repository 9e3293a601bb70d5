// A conditional write whose answer was lost, over a real nats-server.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { headers, StorageType, type NatsConnection } from 'nats';
import { connectNats } from '../platform/nats.ts';
import { Timeout } from '../../protocol/errors.ts';
import { kvKeySubject } from '../../protocol/subjects.ts';
import { setup, startNats, type Nats } from '../../test/harness.ts';
import { KvRequests } from './kv-requests.ts';

const s = suite<{ nats: Nats; nc: NatsConnection }>('kv requests');
s.before(setup(async (ctx) => {
  ctx.nats = await startNats();
  ctx.nc = await connectNats({ url: ctx.nats.url, name: 'kv-requests-test', persistent: true });
  await ctx.nc.jetstream().views.kv('lost', { history: 1, storage: StorageType.File });
}));
s.after(async (ctx) => {
  await ctx.nc?.close();
  await ctx.nats?.stop();
});

s('a write repeated after a lost answer, refused by its own first attempt, is found stored; one replaced since is neither success nor conflict', async ({ nc }) => {
  const kv = new KvRequests(nc, 5000);
  const first = await kv.put('lost', 'k', new TextEncoder().encode('v1'), 0);
  // The first attempt of a write, stored, its answer lost: what the repeat's refusal hides.
  const h = headers();
  h.set('Nats-Msg-Id', 'attempt-1');
  h.set('Nats-Expected-Last-Subject-Sequence', String(first));
  const stored = await nc.jetstream().publish(kvKeySubject('lost', 'k'), new TextEncoder().encode('v2'), { headers: h });
  assert.is(await kv.afterLostAnswer('lost', 'k', 'attempt-1'), stored.seq, 'found by its message id');
  await kv.put('lost', 'k', new TextEncoder().encode('v3'), stored.seq);
  const err = await kv.afterLostAnswer('lost', 'k', 'attempt-1').then(() => undefined, (e: Error) => e);
  assert.instance(err, Timeout, 'replaced since: it cannot be told whether it was stored');
  assert.match(err!.message, /may or may not have been stored/);
});

s.run();
