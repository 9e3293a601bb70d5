// The fault link against real sockets: upstream echo servers stand in for nats-servers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAULTS_FILE, FaultLink, LINK_FILE, setLinkFaults } from './fault-link.ts';
import { createLogger } from './log.ts';
import { NO_FAULTS, type LinkFaults } from './link-faults.ts';

const lines: string[] = [];
const log = createLogger({ component: 'test' }, (l) => lines.push(l));

/** An echo server that says which one it is on connect (as a nats-server sends INFO first). */
async function echoServer(id: string): Promise<{ server: Server; url: string }> {
  const server = createServer((s) => {
    s.write(`${id}\n`);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { server, url: `nats://127.0.0.1:${(server.address() as { port: number }).port}` };
}

/** A connection to the link, with what it has received so far. */
async function dial(url: string): Promise<{ socket: Socket; received: () => string; until: (text: string) => Promise<number> }> {
  const { port } = new URL(url);
  const socket = createConnection({ host: '127.0.0.1', port: Number(port) });
  let got = '';
  const waiters: (() => void)[] = [];
  socket.on('data', (d) => {
    got += d.toString('latin1');
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const until = async (text: string) => {
    const t0 = Date.now();
    while (!got.includes(text)) await new Promise<void>((r) => waiters.push(r));
    return Date.now() - t0;
  };
  return { socket, received: () => got, until };
}

async function setUp() {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-link-'));
  const a = await echoServer('server-a');
  const b = await echoServer('server-b');
  const link = new FaultLink({ upstreams: [a.url, b.url], dir, log });
  const url = await link.start();
  const faults = ({ forMs, ...f }: Partial<LinkFaults> & { forMs?: number }) => setLinkFaults(dir, { ...NO_FAULTS, ...f, until: Date.now() + (forMs ?? 60_000) });
  const close = () => {
    link.close();
    a.server.close();
    b.server.close();
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, a, b, link, url, faults, close };
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('fault link - passes bytes both ways, says where it listens, and spreads new connections over the servers', async () => {
  const s = await setUp();
  try {
    const record = JSON.parse(readFileSync(join(s.dir, LINK_FILE), 'utf8'));
    assert.equal(record, { pid: process.pid, url: s.url, upstreams: [s.a.url, s.b.url] });
    const c1 = await dial(s.url);
    await c1.until('server-a');
    c1.socket.write('hello');
    await c1.until('hello');
    const c2 = await dial(s.url);
    await c2.until('server-b');
    c1.socket.destroy();
    c2.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - a server that refuses is passed over for the next', async () => {
  const s = await setUp();
  try {
    s.a.server.close();
    await sleep(20);
    const c1 = await dial(s.url);
    await c1.until('server-b');
    c1.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - latency delays each way: a round trip takes at least twice it', async () => {
  const s = await setUp();
  try {
    const c = await dial(s.url);
    await c.until('server-a');
    s.faults({ latencyMs: 150 });
    await sleep(250);
    const t0 = Date.now();
    c.socket.write('ping');
    await c.until('ping');
    assert.ok(Date.now() - t0 >= 300, `round trip ${Date.now() - t0} ms at 150 ms each way`);
    c.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - a partition passes nothing, new connections included, until it lifts; then everything, in order', async () => {
  const s = await setUp();
  try {
    const c = await dial(s.url);
    await c.until('server-a');
    s.faults({ partition: true });
    await sleep(250);
    for (let i = 0; i < 100; i++) c.socket.write(`<${i}>`);
    const late = await dial(s.url);
    await sleep(500);
    assert.not.ok(c.received().includes('<0>'), 'nothing came back through the partition');
    assert.is(late.received(), '', 'a connection made during the partition reached no server');
    rmSync(join(s.dir, FAULTS_FILE));
    await c.until('<99>');
    assert.is(c.received(), `server-a\n${Array.from({ length: 100 }, (_, i) => `<${i}>`).join('')}`);
    await late.until('server-');
    c.socket.destroy();
    late.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - faults end at their time with nobody to lift them', async () => {
  const s = await setUp();
  try {
    const c = await dial(s.url);
    await c.until('server-a');
    s.faults({ partition: true, forMs: 600 });
    await sleep(250);
    c.socket.write('after');
    await c.until('after');
    assert.ok(lines.some((l) => l.includes('msg="link faults"') && l.includes('partition=true')), 'the link said what it was given');
    assert.ok(lines.some((l) => l.includes('msg="link faults ended"')), 'and that they ended');
    c.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - loss delays but never drops or reorders a byte', async () => {
  const s = await setUp();
  try {
    const c = await dial(s.url);
    await c.until('server-a');
    s.faults({ lossPercent: 30 });
    await sleep(250);
    const chunks = Array.from({ length: 200 }, (_, i) => `[${i}:${'x'.repeat(i % 50)}]`);
    for (const ch of chunks) {
      c.socket.write(ch);
      await sleep(1);
    }
    await c.until('[199:');
    await c.until(chunks[199]!);
    assert.is(c.received(), `server-a\n${chunks.join('')}`);
    c.socket.destroy();
  } finally {
    s.close();
  }
});

test('fault link - a faults file that is not right puts no faults on, and is said so', async () => {
  const s = await setUp();
  try {
    writeFileSync(join(s.dir, FAULTS_FILE), '{"lossPercent": 500}');
    await sleep(250);
    assert.not.ok(s.link.current().lossPercent);
    assert.ok(lines.some((l) => l.includes('not right') && l.includes('lossPercent')));
  } finally {
    s.close();
  }
});

test.run();
