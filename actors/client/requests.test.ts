// The request mux on a real nats-server that is restarted under it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNats } from '../platform/nats.ts';
import { setup, startNats, type Nats } from '../../test/harness.ts';
import { ConnectionLostError, RequestMux, RequestTimeoutError } from './requests.ts';
import { ApiClient } from './client.ts';
import { encode } from '../../protocol/codec.ts';
import { Conflict, StaleLeader, Timeout, toWire } from '../../protocol/errors.ts';
import { API_WILDCARD } from '../../protocol/subjects.ts';

const s = suite<{ nats: Nats }>('request mux');
s.before(setup(async (ctx) => {
  ctx.nats = await startNats();
}));
s.after(async (ctx) => {
  await ctx.nats?.stop();
});

s('a broken connection fails the reads waiting on it at once; writes wait out their time', async (ctx) => {
  const nc = await connectNats({ url: ctx.nats.url, name: 'mux', persistent: true });
  // Someone listens but never answers: without the break, both would wait their whole timeout.
  const quiet = await connectNats({ url: ctx.nats.url, name: 'quiet', persistent: true });
  quiet.subscribe('mux.test.*', { callback: () => {} });
  await quiet.flush();
  try {
    const mux = new RequestMux(nc);
    const started = Date.now();
    const read = mux.request('mux.test.read', new Uint8Array(), 20_000, undefined, true).then(() => 'answered', (e: Error) => e);
    const write = mux.request('mux.test.write', new Uint8Array(), 4000).then(() => 'answered', (e: Error) => e);
    await nc.flush();
    await ctx.nats.restart();
    const readOutcome = await read;
    assert.instance(readOutcome, ConnectionLostError);
    assert.ok(Date.now() - started < 15_000, 'failed when the connection broke, not at its timeout');
    assert.instance(await write, RequestTimeoutError);
  } finally {
    await nc.close();
    await quiet.close();
  }
});

s('a write retried after an unanswered attempt that meets a conflict is "not known", not "not done"; a fenced leader\'s refusal stays what it is', async (ctx) => {
  const nc = await connectNats({ url: ctx.nats.url, name: 'writer', persistent: true });
  const server = await connectNats({ url: ctx.nats.url, name: 'fake-apiserver', persistent: true });
  // An apiserver whose first answer is lost (it carried the write out), and which then finds the
  // object changed: by that very write.
  let asked = 0;
  let refusal: Error = new Conflict('the object has been modified');
  server.subscribe(API_WILDCARD, { callback: (_e, m) => { if (asked++ % 2 === 1) m.respond(encode('error', { error: toWire(refusal) })); } });
  await server.flush();
  try {
    const client = new ApiClient(nc, { timeoutMs: 3000, attemptTimeoutMs: 300 });
    const err = await client.call('leases', 'update', { object: {} }).then(() => undefined, (e: Error) => e);
    assert.instance(err, Timeout);
    assert.match(err!.message, /may or may not have been carried out/);
    refusal = new StaleLeader('not the leader');
    assert.instance(await client.call('leases', 'update', { object: {} }).then(() => undefined, (e: Error) => e), StaleLeader);
    // A conflict on the first attempt is a conflict.
    asked = 1;
    refusal = new Conflict('the object has been modified');
    assert.instance(await client.call('leases', 'update', { object: {} }).then(() => undefined, (e: Error) => e), Conflict);
  } finally {
    await nc.close();
    await server.close();
  }
});

s.run();
