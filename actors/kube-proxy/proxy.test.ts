// The proxy's data path against real sockets on 127.0.0.1: which backend failures a client never
// sees (refused, reset or closed before any answer) and which it must see (a backend that dies
// mid-answer, or after more was sent than can be replayed).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { PROXY_LISTEN_RETRY_MS, PROXY_OPTIONAL_LISTEN_RETRY_MS } from '../../protocol/config.ts';
import { Proxy, type ProxyEvents } from './proxy.ts';
import { waitFor } from '../../test/harness.ts';
import type { Backend } from './balancer.ts';

type Behaviour = (socket: Socket) => void;

async function backend(behaviour: Behaviour): Promise<{ server: Server; backend: Backend; accepted: () => number }> {
  let accepted = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    socket.on('error', () => {});
    behaviour(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, backend: { key: `127.0.0.1:${port}`, ip: '127.0.0.1', port }, accepted: () => accepted };
}

/** Answers `name:<everything received>` once the client half-closes. */
const echoAs = (name: string): Behaviour => (socket) => {
  const got: Buffer[] = [];
  socket.on('data', (c) => got.push(c));
  socket.on('end', () => socket.end(`${name}:${Buffer.concat(got).toString()}`));
};
/** Resets the connection as soon as anything arrives, as a killed process's kernel does. */
const resetOnData: Behaviour = (socket) => socket.once('data', () => socket.resetAndDestroy());
/** Closes cleanly without a byte of answer. */
const closeOnData: Behaviour = (socket) => socket.once('data', () => socket.end());
/** Answers part, then resets (a moment later: reset inside the write callback goes out as a FIN). */
const breakMidAnswer: Behaviour = (socket) => socket.once('data', () => socket.write('partial', () => setTimeout(() => socket.resetAndDestroy(), 10)));

function recorder(): { events: ProxyEvents; refused: string[] } {
  const refused: string[] = [];
  return {
    refused,
    events: { connection() {}, refused: (_t, b) => refused.push(b.key), noBackend() {}, listenFailed() {}, listening() {} },
  };
}

async function proxyFor(backends: Backend[], events: ProxyEvents): Promise<{ proxy: Proxy; port: number }> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const proxy = new Proxy(events);
  const target = proxy.target('default/web:80', { policy: 'round-robin' });
  target.balancer.setBackends(backends);
  proxy.listen(target, '127.0.0.1', port, false);
  await new Promise((r) => setTimeout(r, 20));
  return { proxy, port };
}

/** Sends `payload`, half-closes, and resolves with the whole answer, or rejects if the connection breaks. */
function exchange(port: number, payload: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const got: Buffer[] = [];
    socket.on('data', (c) => got.push(c));
    socket.on('error', reject);
    socket.on('close', (hadError) => (hadError ? reject(new Error('reset')) : resolve(Buffer.concat(got).toString())));
    socket.end(payload);
  });
}

type Backendish = Awaited<ReturnType<typeof backend>>;

/**
 * Backends with the given behaviours, of which the first `served` (default all) are the proxy's
 * endpoints; runs `body` and closes everything.
 */
async function withProxy(
  behaviours: Behaviour[], body: (r: { port: number; backends: Backendish[]; refused: string[] }) => Promise<void>, served = behaviours.length,
): Promise<void> {
  const backends = await Promise.all(behaviours.map(backend));
  const rec = recorder();
  const { proxy, port } = await proxyFor(backends.slice(0, served).map((b) => b.backend), rec.events);
  try {
    await body({ port, backends, refused: rec.refused });
  } finally {
    proxy.close();
    for (const b of backends) b.server.close();
  }
}

/** Resolves if the exchange breaks; fails the test if it ends cleanly. */
const breaks = (port: number, payload: Buffer | string) => exchange(port, payload).then(
  (answer) => assert.unreachable(`got a clean answer of ${answer.length} bytes`),
  (err: Error) => assert.instance(err, Error),
);

test('a backend that resets before answering is skipped and the request replayed to the next', () =>
  withProxy([resetOnData, echoAs('good')], async ({ port, backends: [bad], refused }) => {
    for (let i = 0; i < 10; i++) assert.is(await exchange(port, `req${i}`), `good:req${i}`);
    assert.ok(bad.accepted() >= 5, `the resetting backend got its turns (${bad.accepted()})`);
    assert.ok(refused.every((k) => k === bad.backend.key));
    assert.is(refused.length, bad.accepted());
  }));

test('a backend that closes without a byte of answer counts as one that refused', () =>
  withProxy([closeOnData, echoAs('good')], async ({ port, backends: [quiet] }) => {
    for (let i = 0; i < 6; i++) assert.is(await exchange(port, 'x'), 'good:x');
    assert.ok(quiet.accepted() >= 3);
  }));

test('a backend that breaks mid-answer breaks the client connection: nothing is replayed', () =>
  withProxy([breakMidAnswer, echoAs('good')], async ({ port, backends: [, good] }) => {
    await breaks(port, 'x');
    assert.is(good.accepted(), 0);
  }, 1));

test('a request larger than the replay buffer is not replayed: the client sees the failure', () => {
  const resetPast200k: Behaviour = (socket) => {
    let n = 0;
    socket.on('data', (c) => {
      n += c.length;
      if (n > 200_000) socket.resetAndDestroy();
    });
  };
  return withProxy([resetPast200k, echoAs('good')], async ({ port }) => {
    const big = Buffer.alloc(300_000, 'a');
    await breaks(port, big);
    // The next connection goes to the good backend and carries the whole payload.
    assert.is((await exchange(port, big)).length, 'good:'.length + big.length);
  });
});

test('with every backend failing before an answer the client is closed, once each was tried', () =>
  withProxy([resetOnData, closeOnData], async ({ port, backends: [a, b], refused }) => {
    assert.is(await exchange(port, 'x').catch(() => ''), '');
    assert.equal(refused.sort(), [a.backend.key, b.backend.key].sort());
  }));

/** A proxy whose listen failures and recoveries are written down, as `failed PORT CODE` and `listening PORT`. */
function tellingProxy(): { proxy: Proxy; told: string[] } {
  const told: string[] = [];
  const proxy = new Proxy({
    connection() {}, refused() {}, noBackend() {},
    listenFailed: (_t, _a, p, err) => told.push(`failed ${p} ${err.code}`),
    listening: (_t, _a, p) => told.push(`listening ${p}`),
  });
  return { proxy, told };
}

test('a port in use is told once, tried again after PROXY_LISTEN_RETRY_MS on its own (not at every sync), and reported when it is served', async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as AddressInfo).port;
  const { proxy, told } = tellingProxy();
  const target = proxy.target('default/web:80', { policy: 'round-robin' });
  proxy.listen(target, '127.0.0.1', port, false);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(told, [`failed ${port} EADDRINUSE`]);
  for (let i = 0; i < 5; i++) proxy.listen(target, '127.0.0.1', port, false); // syncs before the retry is due
  await new Promise((r) => setTimeout(r, 50));
  assert.is(told.length, 1, 'not tried again before it is due');
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  // No sync comes: the retry is the proxy's own.
  await waitFor('the port served', () => told.includes(`listening ${port}`), PROXY_LISTEN_RETRY_MS + 2000);
  assert.equal(told, [`failed ${port} EADDRINUSE`, `listening ${port}`]);
  assert.equal(proxy.listening(), [`127.0.0.1:${port}`]);
  proxy.close();
});

test('an optional port (127.0.0.1, maybe another node\'s) in use fails quietly and is tried again on its own, less often', async () => {
  const squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as AddressInfo).port;
  const { proxy, told } = tellingProxy();
  proxy.listen(proxy.target('default/web:80', { policy: 'round-robin' }), '127.0.0.1', port, true);
  await new Promise<void>((resolve) => setTimeout(resolve, 50));
  await new Promise<void>((resolve) => squatter.close(() => resolve()));
  // No sync comes (the service is quiet): the proxy's own retry serves it.
  await waitFor('the port served', () => proxy.listening().includes(`127.0.0.1:${port}`), PROXY_OPTIONAL_LISTEN_RETRY_MS + 3000);
  assert.equal(told, [], 'nothing told, either way');
  proxy.close();
});

test('an optional address that cannot be had for another reason than use is told', async () => {
  const { proxy, told } = tellingProxy();
  // TEST-NET-1: no interface of this host has it.
  proxy.listen(proxy.target('default/web:80', { policy: 'round-robin' }), '192.0.2.1', 8080, true);
  await waitFor('the failure told', () => told.length > 0, 2000);
  assert.equal(told, ['failed 8080 EADDRNOTAVAIL']);
  proxy.close();
});

test('traffic by pod: each read that begins an HTTP/1.x request counts one, a connection that is not HTTP counts one; a pod no longer served is forgotten', async () => {
  // Answers each read at once and keeps the connection (keep-alive) until the client ends it.
  const { server, backend: b } = await backend((socket) => {
    socket.on('data', () => socket.write('ok'));
    socket.on('end', () => socket.end());
  });
  const { proxy, port } = await proxyFor([{ ...b, pod: 'default/web-1' }], recorder().events);
  try {
    const talk = (reads: string[]) => new Promise<void>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port });
      let i = 0;
      socket.on('error', reject);
      socket.on('data', () => (++i < reads.length ? socket.write(reads[i]) : socket.end()));
      socket.on('close', () => resolve());
      socket.write(reads[0]);
    });
    await talk(['GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'GET /2 HTTP/1.1\r\nHost: a\r\n\r\n', 'POST /3 HTTP/1.1\r\nContent-Length: 0\r\n\r\n']);
    await talk(['\x16\x03\x01 not http', 'more']);
    await waitFor('both connections closed', () => proxy.trafficCounts().get('default/web-1')?.active === 0);
    assert.equal(proxy.trafficCounts().get('default/web-1'), { requests: 4, connections: 2, active: 0 });
    // Still a backend: kept, though idle. Gone from the Endpoints: forgotten.
    assert.ok(proxy.trafficCounts().has('default/web-1'));
    proxy.target('default/web:80', { policy: 'round-robin' }).balancer.setBackends([]);
    assert.not.ok(proxy.trafficCounts().has('default/web-1'));
  } finally {
    proxy.close();
    server.close();
  }
});

test.run();
