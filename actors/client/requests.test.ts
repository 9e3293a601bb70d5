// The request mux on a real nats-server that is restarted under it.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectNats } from '../platform/nats.ts';
import { setup, startNats, type Nats } from '../../test/harness.ts';
import { ConnectionLostError, RequestMux, RequestTimeoutError } from './requests.ts';

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

s.run();
