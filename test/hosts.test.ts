// infra/hosts.sh end to end: three test hosts (network namespaces on a bridge) reach each other
// and the root namespace; a cut host is unreachable until restored; a cut between two hosts leaves
// the third alone; down kills what runs inside and leaves nothing behind. Needs root.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ROOT, setup, waitFor } from './harness.ts';

const HOSTS = join(ROOT, 'infra/hosts.sh');
const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
// Random, so that this run cannot meet another's hosts. A prefix ends in a letter (hosts.sh).
const PREFIX = `sk${rand(10, 99)}t`;
const NET = `10.78.${rand(1, 249)}`;
const [H1, H2, H3] = [1, 2, 3].map((i) => `${PREFIX}${i}`);
const addr = (i: number) => `${NET}.${i}`;
// For the rollback test: its host 2's veth name is taken by a decoy link, on a subnet of its own.
const BROKEN_PREFIX = `${PREFIX}r`;
const DECOY = `${BROKEN_PREFIX}v2`;
// Each host is a fresh namespace, so no port in it is taken.
const PORT = 7070;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function hosts(...args: string[]): Run {
  const r = spawnSync(HOSTS, args, { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function hostsOk(...args: string[]): string {
  const r = hosts(...args);
  assert.is(r.code, 0, `infra/hosts.sh ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const pings = (from: string, to: string) => hosts('exec', from, '--', 'ping', '-c1', '-W1', to).code === 0;
const pingsFromRoot = (to: string) => spawnSync('ping', ['-c1', '-W1', to]).status === 0;

// With -e, the script's arguments start at argv[1].
const CONNECT = `const s = require('net').connect(+process.argv[2], process.argv[1], () => process.exit(0));
s.on('error', () => process.exit(1)); setTimeout(() => process.exit(1), 1000);`;
const SERVER = `require('net').createServer((c) => c.end()).listen(+process.argv[1], '0.0.0.0', () => console.log('listening'));`;

const connects = (from: string, to: string) => hosts('exec', from, '--', process.execPath, '-e', CONNECT, to, String(PORT)).code === 0;

function connectsFromRoot(to: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(PORT, to);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 1000);
    socket.once('connect', () => done(true)).once('error', () => done(false));
  });
}

const namespaces = () => spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout.split('\n').map((l) => l.split(' ')[0]).filter(Boolean);
const linkExists = (name: string) => existsSync(`/sys/class/net/${name}`);

let server: ChildProcess | undefined;
let cleaned = false;

// Also on exit: the runner ends an overrunning file with SIGTERM, and test.after does not run then.
function cleanUp(): void {
  if (cleaned || unmet) return;
  cleaned = true;
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(server.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (const p of [PREFIX, BROKEN_PREFIX]) spawnSync(HOSTS, ['down', '--prefix', p]);
  if (linkExists(DECOY)) spawnSync('ip', ['link', 'del', DECOY]);
}
process.once('exit', cleanUp);

function unmetNeeds(): string | undefined {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push(`it runs as uid ${process.getuid?.()}, not root`);
  else if (spawnSync('ip', ['netns', 'list']).status !== 0) missing.push('`ip netns list` failed');
  for (const tool of ['nft', 'ping']) if (spawnSync(tool, ['-V']).error) missing.push(`${tool} is not installed`);
  if (!missing.length) return undefined;
  return `test/hosts.test.ts needs root and network namespaces, with nft and ping (${missing.join('; ')}): run it as root on Linux after apt-get install iproute2 nftables iputils-ping`;
}
const unmet = unmetNeeds();
// uvu 0.5 exits 0 when a before hook throws; this file must fail on a machine that cannot run it.
process.once('exit', () => { if (unmet) process.exitCode = 1; });

test.before(setup(async () => {
  if (unmet) throw new Error(unmet);
}));
test.after(cleanUp);

test('hosts - usage: --help prints it, an unknown command is exit 2', () => {
  for (const flag of ['--help', '-h']) {
    const r = hosts(flag);
    assert.is(r.code, 0);
    assert.match(r.stdout, /^Usage: infra\/hosts\.sh/);
  }
  const r = hosts('frobnicate');
  assert.is(r.code, 2);
  assert.match(r.stderr, /unknown command 'frobnicate'/);
  assert.match(r.stderr, /Usage:/);
});

test('hosts - an up that fails part way removes what it had made', () => {
  assert.is(spawnSync('ip', ['link', 'add', DECOY, 'type', 'bridge']).status, 0, `could not make the decoy link ${DECOY}`);
  const r = hosts('up', '3', '--prefix', BROKEN_PREFIX, '--subnet', `10.78.${NET.endsWith('.250') ? 1 : Number(NET.split('.')[2]) + 1}`);
  assert.is(r.code, 1, r.stderr);
  assert.match(r.stderr, /removed what it had made/);
  assert.equal(namespaces().filter((n) => n.startsWith(BROKEN_PREFIX)), []);
  assert.not.ok(linkExists(`${BROKEN_PREFIX}br0`), 'the bridge is left behind');
  assert.not.ok(linkExists(`${BROKEN_PREFIX}v1`), 'host 1\'s veth is left behind');
  assert.not.ok(existsSync(`/run/skiff-hosts/${BROKEN_PREFIX}`), 'the state file is left behind');
  assert.ok(linkExists(DECOY), 'up removed a link it had not made');
  spawnSync('ip', ['link', 'del', DECOY]);
});

test('hosts - up prints one line per host, with its address', () => {
  const out = hostsOk('up', '3', '--prefix', PREFIX, '--subnet', NET);
  assert.equal(out.trim().split('\n'), [`${H1} ${addr(1)}`, `${H2} ${addr(2)}`, `${H3} ${addr(3)}`]);
  assert.equal(hostsOk('list', '--prefix', PREFIX).trim().split('\n'), [`${H1} ${addr(1)} up`, `${H2} ${addr(2)} up`, `${H3} ${addr(3)} up`]);
});

test('hosts - up refuses a prefix that exists and a subnet in use', () => {
  const again = hosts('up', '1', '--prefix', PREFIX, '--subnet', '10.78.251');
  assert.is(again.code, 1);
  assert.match(again.stderr, new RegExp(`run infra/hosts.sh down --prefix ${PREFIX} first`));
  const taken = hosts('up', '1', '--prefix', BROKEN_PREFIX, '--subnet', NET);
  assert.is(taken.code, 1);
  assert.match(taken.stderr, new RegExp(`${NET.replaceAll('.', '\\.')}\\.0/24 is already in use`));
  assert.not.ok(namespaces().includes(`${BROKEN_PREFIX}1`));
});

test('hosts - hosts reach each other, the root namespace reaches them, and nothing else is routed', () => {
  assert.ok(pings(H1, addr(2)), `${H1} cannot ping ${H2}`);
  assert.ok(pingsFromRoot(addr(3)), `the root namespace cannot ping ${H3}`);
  assert.ok(pings(H3, '127.0.0.1'), 'lo is down inside a host');
  assert.is(hostsOk('exec', H1, '--', 'ip', '-4', 'route', 'show', 'default'), '');
});

test('hosts - exec passes the exit code through', () => {
  assert.is(hosts('exec', H1, '--', 'sh', '-c', 'exit 7').code, 7);
});

test('hosts - a server in one host takes connections from another host and the root namespace', async () => {
  server = spawn(HOSTS, ['exec', H2, '--', process.execPath, '-e', SERVER, String(PORT)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    server!.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('listening')) resolve();
    });
    server!.stderr!.on('data', (d) => { out += d; });
    server!.once('exit', (code) => reject(new Error(`the server in ${H2} exited (${code}): ${out}`)));
  });
  assert.ok(connects(H1, addr(2)), `${H1} cannot connect to ${H2}:${PORT}`);
  assert.ok(await connectsFromRoot(addr(2)), `the root namespace cannot connect to ${H2}:${PORT}`);
});

test('hosts - a cut host is unreachable until restored', async () => {
  hostsOk('cut', H2);
  assert.match(hostsOk('list', '--prefix', PREFIX), new RegExp(`^${H2} ${addr(2)} cut$`, 'm'));
  assert.not.ok(pings(H1, addr(2)), `${H1} still pings ${H2} after the cut`);
  assert.not.ok(connects(H1, addr(2)), `${H1} still connects to ${H2} after the cut`);
  assert.not.ok(await connectsFromRoot(addr(2)), `the root namespace still connects to ${H2} after the cut`);
  assert.ok(pings(H1, addr(3)), 'cutting host 2 cut host 1 from host 3');

  hostsOk('restore', H2);
  assert.match(hostsOk('list', '--prefix', PREFIX), new RegExp(`^${H2} ${addr(2)} up$`, 'm'));
  await waitFor(`${H1} to ping ${H2} again`, () => pings(H1, addr(2)), 5000);
  assert.ok(connects(H1, addr(2)), `${H1} cannot connect to ${H2} after the restore`);
  assert.ok(await connectsFromRoot(addr(2)), `the root namespace cannot connect to ${H2} after the restore`);
});

test('hosts - cut --from parts two hosts and leaves the third', async () => {
  hostsOk('cut', H1, '--from', H2);
  hostsOk('cut', H1, '--from', H2); // twice is once
  assert.not.ok(pings(H1, addr(2)), `${H1} still pings ${H2}`);
  assert.not.ok(pings(H2, addr(1)), `${H2} still pings ${H1}`);
  assert.not.ok(connects(H1, addr(2)), `${H1} still connects to ${H2}`);
  assert.ok(pings(H1, addr(3)), `${H1} lost ${H3} too`);
  assert.ok(pings(H2, addr(3)), `${H2} lost ${H3} too`);
  assert.ok(await connectsFromRoot(addr(2)), `the root namespace lost ${H2} too`);

  hostsOk('restore', H1, '--from', H2);
  assert.ok(pings(H1, addr(2)), `${H1} cannot ping ${H2} after the restore`);
  assert.ok(connects(H1, addr(2)), `${H1} cannot connect to ${H2} after the restore`);
  assert.not.match(hostsOk('exec', H1, '--', 'nft', 'list', 'tables'), /skiffhosts/, 'the empty table is left behind');
});

test('hosts - down stops what runs inside and leaves nothing behind', async () => {
  hostsOk('down', '--prefix', PREFIX);
  await waitFor(`down to stop the server in ${H2}`, () => server!.exitCode !== null || server!.signalCode !== null, 5000);
  assert.equal(namespaces().filter((n) => new RegExp(`^${PREFIX}\\d+$`).test(n)), []);
  assert.not.ok(linkExists(`${PREFIX}br0`), 'the bridge is left behind');
  for (const i of [1, 2, 3]) assert.not.ok(linkExists(`${PREFIX}v${i}`), `veth ${PREFIX}v${i} is left behind`);
  assert.not.ok(existsSync(`/run/skiff-hosts/${PREFIX}`), 'the state file is left behind');
  hostsOk('down', '--prefix', PREFIX); // again, with nothing there
});

test.run();
