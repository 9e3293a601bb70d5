// The ports services hold on every node: node port allocation from the range, the choice
// against the services an apiserver sees, and the claims that keep two apiservers from giving one
// node port to two services.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLAIM_GRACE_MS } from '../../protocol/config.ts';
import { Conflict, Invalid } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import type { Service } from '../../protocol/types.ts';
import type { AdmissionRequest } from './admission.ts';
import { MemoryClaims } from '../../test/memory-claims.ts';
import { allocateServicePorts, claimPort, parsePortRange, releasePort, servicePortAllocator } from './node-ports.ts';

const RANGE = { min: 30000, max: 30009 };

/** Each service name gets service ports of its own (8000, 8010, ...), the same on every call. */
const basePorts = new Map<string, number>();
const basePort = (name: string) => basePorts.get(name) ?? basePorts.set(name, 8000 + 10 * basePorts.size).get(name)!;

function svc(name: string, nodePorts: (number | undefined)[] = [undefined], type: Service['spec']['type'] = 'NodePort', port = basePort(name)): Service {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { type, selector: { app: name }, ports: nodePorts.map((nodePort, i) => ({ name: `p${i}`, port: port + i, ...(nodePort ? { nodePort } : {}) })) },
  };
}

const create = (object: Service, dryRun = false): AdmissionRequest => ({ operation: 'CREATE', info: kindInfo('Service')!, object, dryRun });
const ports = (s: Service) => s.spec.ports.map((p) => p.nodePort);

test('parsePortRange: FROM-TO within 1-65535, else an error that shows the form', () => {
  assert.equal(parsePortRange('30000-32767'), { min: 30000, max: 32767 });
  assert.equal(parsePortRange(' 8000-8000 '), { min: 8000, max: 8000 });
  for (const bad of ['30000', '0-10', '10-70000', '200-100', 'a-b']) assert.throws(() => parsePortRange(bad), /use FROM-TO, e.g. 30000-32767/);
});

test('allocateServicePorts: free node ports from the range, kept on update, named ones checked', () => {
  const taken = new Map([[30000, 'default/a'], [30001, 'default/b']]);
  const s = allocateServicePorts(svc('c', [undefined, undefined]), taken, RANGE, undefined, () => 0);
  assert.equal(ports(s), [30002, 30003], 'the first free ones from where the random start points');
  const again = allocateServicePorts(svc('c', [undefined, undefined]), taken, RANGE, s, () => 0.5);
  assert.equal(ports(again), [30002, 30003], 'an update keeps what the service had');
  assert.equal(ports(allocateServicePorts(svc('c', [], 'ClusterIP'), taken, RANGE)), [], 'not a NodePort service: untouched');
  const refuse = (s2: Service, message: RegExp) => assert.throws(() => allocateServicePorts(s2, taken, RANGE), (e: Error) => e instanceof Invalid && message.test(e.message));
  refuse(svc('d', [29999]), /spec.ports\[0\].nodePort.*29999 is outside the node port range 30000-30009/);
  refuse(svc('d', [30001]), /30001 is already allocated to service default\/b/);
  refuse(svc('d', [30005, 30005]), /spec.ports\[1\].nodePort.*30005 is given twice/);
  const full = new Map(Array.from({ length: 10 }, (_, i) => [30000 + i, 'default/x'] as [number, string]));
  assert.throws(() => allocateServicePorts(svc('d'), full, RANGE), /no free node port left in 30000-30009/);
});

test('allocateServicePorts: services may share a port (each has its own address); node ports may not be shared', () => {
  const taken = new Map([[30001, 'default/b']]);
  const refuse = (s2: Service, message: RegExp) => assert.throws(() => allocateServicePorts(s2, taken, RANGE), (e: Error) => e instanceof Invalid && message.test(e.message));
  assert.equal(allocateServicePorts(svc('api', [undefined], 'ClusterIP', 80), taken, RANGE).spec.ports[0].port, 80);
  assert.equal(allocateServicePorts(svc('web', [undefined], 'ClusterIP', 80), taken, RANGE).spec.ports[0].port, 80, 'a second service on port 80');
  refuse(svc('api', [30001]), /spec.ports\[0\].nodePort: 30001 is already allocated to service default\/b \(a node port is a port on every node/);
  refuse(svc('api', [8080]), /spec.ports\[0\].nodePort: 8080 is outside the node port range/);
  const twice: Service = { ...svc('api', [], 'ClusterIP'), spec: { selector: {}, ports: [{ name: 'a', port: 9000 }, { name: 'b', port: 9000 }] } };
  refuse(twice, /spec.ports\[1\].port: 9000 is given twice/);
  // A store from before node ports were claimed may hold two services on one: what a service
  // already holds stays writable.
  const before = svc('old', [30001]);
  assert.equal(ports(allocateServicePorts(before, taken, RANGE, before)), [30001]);
  const [clusterIp] = allocateServicePorts({ ...svc('api', [], 'ClusterIP'), spec: { selector: {}, ports: [{ name: 'a', port: 9200 }] } }, taken, RANGE).spec.ports;
  assert.equal(clusterIp, { name: 'a', port: 9200 }, 'a ClusterIP service is stored as it came');
});

test('claimPort: first come first served; the holder may claim again; a stale claim is taken over', async () => {
  const store = new MemoryClaims();
  const nobody = () => false;
  assert.is(await claimPort(store, 30000, 'default/a', nobody, 1_000_000), undefined);
  assert.is(await claimPort(store, 30000, 'default/a', nobody, 1_000_001), undefined, 'its own claim');
  assert.is(await claimPort(store, 30000, 'default/b', nobody, 1_000_002), 'default/a', 'fresh: honoured even unseen in the cache');
  assert.is(await claimPort(store, 30000, 'default/b', (h) => h === 'default/a', 1_000_000 + CLAIM_GRACE_MS + 1), 'default/a', 'old, but the holder has it');
  assert.is(await claimPort(store, 30000, 'default/b', nobody, 1_000_000 + CLAIM_GRACE_MS + 1), undefined, 'old, and nobody has it');
  assert.is(store.holder(30000), 'default/b');
  await releasePort(store, 30000, 'default/a');
  assert.is(store.holder(30000), 'default/b', 'only the holder releases');
  await releasePort(store, 30000, 'default/b');
  assert.is(store.holder(30000), undefined);
  assert.is(await claimPort(store, 30000, 'default/c', nobody), undefined, 'a released port is free at once');
});

test('claimPort: a claim written between the read and the write wins', async () => {
  const store = new MemoryClaims();
  store.beforePut = () => {
    store.beforePut = undefined;
    store.keys.set('nodeport.30000', { value: new TextEncoder().encode(JSON.stringify({ holder: 'default/first', at: Date.now() })), revision: 99 });
  };
  assert.is(await claimPort(store, 30000, 'default/second', () => false), 'default/first');
});

test('two apiservers, neither seeing the other\'s service yet: one node port goes to one service', async () => {
  const store = new MemoryClaims();
  const [a, b] = [servicePortAllocator(RANGE, () => [], store), servicePortAllocator(RANGE, () => [], store)];
  const ctx = { getNamespace: async () => undefined };
  const results = await Promise.allSettled([a.admit(create(svc('one', [30004])), ctx), b.admit(create(svc('two', [30004])), ctx)]);
  assert.equal(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.instance(refused.reason, Invalid);
  assert.match(refused.reason.message, /30004 is already allocated to service default\/(one|two)/);
  // Chosen ports: each apiserver picks from its own view; the claims make them differ.
  const small = { min: 31000, max: 31001 };
  const [c, d] = [servicePortAllocator(small, () => [], store), servicePortAllocator(small, () => [], store)];
  const s1 = svc('three');
  const s2 = svc('four');
  await Promise.all([c.admit(create(s1), ctx), d.admit(create(s2), ctx)]);
  assert.equal([...ports(s1), ...ports(s2)].sort(), [31000, 31001]);
  const s3 = svc('five');
  await Promise.resolve(c.admit(create(s3), ctx)).then(() => assert.unreachable('a third service in a range of two'), (err: Error) => {
    assert.ok(err instanceof Invalid || err instanceof Conflict, String(err));
  });
});

test('two services on one port claim nothing for it: their own ports are not node ports', async () => {
  const store = new MemoryClaims();
  const [a, b] = [servicePortAllocator(RANGE, () => [], store), servicePortAllocator(RANGE, () => [], store)];
  const ctx = { getNamespace: async () => undefined };
  await Promise.all([a.admit(create(svc('left', [undefined], 'ClusterIP', 80)), ctx), b.admit(create(svc('right', [undefined], 'ClusterIP', 80)), ctx)]);
  assert.is(store.keys.size, 0);
});

test('an update releases the claims of the node ports the service gave up, once it is written', async () => {
  const store = new MemoryClaims();
  const plugin = servicePortAllocator(RANGE, () => [], store);
  const ctx = { getNamespace: async () => undefined };
  const before = svc('moving', [30005]);
  await plugin.admit(create(before), ctx);
  assert.is(store.holder(30005), 'default/moving');
  const after = svc('moving', [30006]);
  await plugin.admit({ operation: 'UPDATE', info: kindInfo('Service')!, object: after, oldObject: before, dryRun: false }, ctx);
  assert.is(store.holder(30006), 'default/moving');
  assert.is(store.holder(30005), 'default/moving', 'admitting is not writing: the old port is kept until the update lands');
  await plugin.updated!(kindInfo('Service')!, before, after);
  assert.is(store.holder(30005), undefined);
  assert.is(store.holder(30006), 'default/moving');
});

test('a dry run claims nothing; a deleted service releases its claims once the delete is written', async () => {
  const store = new MemoryClaims();
  const plugin = servicePortAllocator(RANGE, () => [], store);
  const ctx = { getNamespace: async () => undefined };
  await plugin.admit(create(svc('dry', [30007]), true), ctx);
  assert.is(store.holder(30007), undefined);
  const s = svc('real', [30007]);
  await plugin.admit(create(s), ctx);
  assert.is(store.holder(30007), 'default/real');
  assert.is(store.holder(s.spec.ports[0].port), undefined, 'its own port is not a node port');
  // Admitting a delete is not the delete: it may still be refused (a stale fence) or lose its race.
  await plugin.admit({ operation: 'DELETE', info: kindInfo('Service')!, object: s, dryRun: false }, ctx);
  assert.is(store.holder(30007), 'default/real');
  await plugin.deleted!(kindInfo('Service')!, s);
  assert.is(store.holder(30007), undefined);
});

test.run();
