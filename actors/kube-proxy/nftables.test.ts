// kube-proxy's nftables mode in a network namespace this test makes: connections spread over the
// endpoints, an endpoint removed gets no new connection after one sync, ClientIP affinity keeps a
// client on one endpoint, a service with no endpoint refuses, and the table is gone when closed.
// It needs root and nft, as the multi-host tests do; it fails with the reason rather than skip.
import { execFileSync, spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnProc, waitFor, type Proc } from '../../test/harness.ts';
import { NftablesProxy, nftablesUnusable, type NftService } from './nftables.ts';

const NETNS = `sknft${process.pid}`;
const CLUSTER_IP = '127.1.0.10';
const BACKEND_PORTS = [9001, 9002, 9003];
let backends: Proc[] = [];

const inNetns = (cmd: string, args: string[]) => spawnSync('ip', ['netns', 'exec', NETNS, cmd, ...args], { encoding: 'utf8', timeout: 30_000 });

/** `n` connections, one after another, from inside the namespace: how many each answer (a backend's port, or an error code) got. */
function connect(n: number, port = 80): Record<string, number> {
  const code = `const net = require('net'); const counts = {};
    (async () => { for (let i = 0; i < ${n}; i++) await new Promise((done) => {
      const s = net.connect(${port}, '${CLUSTER_IP}'); let d = '';
      s.on('data', (x) => { d += x; }); s.on('end', () => { counts[d] = (counts[d] || 0) + 1; done(); });
      s.on('error', (e) => { counts[e.code] = (counts[e.code] || 0) + 1; done(); });
    }); console.log(JSON.stringify(counts)); })();`;
  const r = inNetns(process.execPath, ['-e', code]);
  assert.is(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Record<string, number>;
}

const web = (ports: number[], affinity = false): NftService => ({
  key: 'default/web:80', frontends: [{ address: CLUSTER_IP, port: 80 }], affinity,
  backends: ports.map((port) => ({ key: `127.0.0.1:${port}`, ip: '127.0.0.1', port })),
});

test.before(async () => {
  const why = nftablesUnusable();
  if (why) throw new Error(`nftables mode cannot be tested here: ${why}`);
  execFileSync('ip', ['netns', 'add', NETNS]);
  process.once('exit', () => spawnSync('ip', ['netns', 'del', NETNS])); // also when a test fails half-way
  execFileSync('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
  backends = BACKEND_PORTS.map((port) => spawnProc('ip', ['netns', 'exec', NETNS, process.execPath, '-e',
    `require('net').createServer((s) => s.end('${port}')).listen(${port}, '127.0.0.1', () => console.log('listening'))`]));
  await waitFor('the backends', () => backends.every((b) => b.output().includes('listening')), 10_000);
});

test.after(async () => {
  for (const b of backends) await b.stop();
  spawnSync('ip', ['netns', 'del', NETNS]);
});

test('connections spread over the endpoints; one removed gets none after one sync; the others are not rewritten', async () => {
  const nft = new NftablesProxy('skiff_test', { netns: NETNS });
  const other: NftService = { key: 'default/other:81', frontends: [{ address: '127.1.0.11', port: 81 }], affinity: false, backends: [{ key: '127.0.0.1:9003', ip: '127.0.0.1', port: 9003 }] };
  await nft.sync([web(BACKEND_PORTS), other]);
  const spread = connect(300);
  assert.equal(Object.keys(spread).sort(), BACKEND_PORTS.map(String));
  for (const [who, n] of Object.entries(spread)) assert.ok(n >= 60 && n <= 140, `${who} got ${n} of 300`);
  const handleOf = () => /chain svc_\w+ \{ # handle (\d+)\n\s+comment "default\/other:81"/.exec(inNetns('nft', ['-a', 'list', 'table', 'ip', 'skiff_test']).stdout)?.[1];
  const before = handleOf();
  await nft.sync([web([9001, 9002]), other], (key) => key.startsWith('default/web:'));
  const after = connect(100);
  assert.not.ok('9003' in after, `the removed endpoint still got ${after['9003']}`);
  assert.is((after['9001'] ?? 0) + (after['9002'] ?? 0), 100);
  assert.ok(before && before === handleOf(), 'the unchanged service\'s chain was left alone');
  nft.close();
});

test('ClientIP affinity keeps a client on one endpoint; no endpoint refuses; a service gone refuses; closed, the table is gone', async () => {
  const nft = new NftablesProxy('skiff_test2', { netns: NETNS });
  await nft.sync([web(BACKEND_PORTS, true)]);
  assert.is(Object.keys(connect(50)).length, 1, 'one endpoint for one client');
  await nft.sync([web([])]);
  assert.equal(connect(3), { ECONNREFUSED: 3 });
  await nft.sync([web(BACKEND_PORTS)]);
  assert.is(Object.values(connect(30)).reduce((a, b) => a + b, 0), 30);
  await nft.sync([]);
  assert.equal(connect(3), { ECONNREFUSED: 3 });
  assert.match(inNetns('nft', ['list', 'tables']).stdout, /skiff_test2/);
  nft.close();
  assert.not.match(inNetns('nft', ['list', 'tables']).stdout, /skiff_test2/);
});

test('a table a killed node left behind is replaced whole when the next one starts', async () => {
  const first = new NftablesProxy('skiff_test3', { netns: NETNS });
  await first.sync([web([9001])]);
  // The first one dies without closing: a new one takes the table over.
  const second = new NftablesProxy('skiff_test3', { netns: NETNS });
  await second.sync([web([9002])]);
  assert.equal(connect(20), { 9002: 20 });
  second.close();
  assert.not.match(inNetns('nft', ['list', 'tables']).stdout, /skiff_test3/);
});

test.run();
