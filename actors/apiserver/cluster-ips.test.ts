// ClusterIPs: the service range, the choice of an address, a requested one honoured or refused,
// headless services, and the claims that keep two apiservers from giving one address to two
// services.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Conflict, Invalid } from '../../protocol/errors.ts';
import { kindInfo } from '../../protocol/kinds.ts';
import type { Service } from '../../protocol/types.ts';
import { MemoryClaims } from '../../test/memory-claims.ts';
import type { AdmissionRequest } from './admission.ts';
import { allocateClusterIP, inServiceRange, parseServiceCidr, serviceClusterIPAllocator } from './cluster-ips.ts';

const CIDR = parseServiceCidr('127.1.0.0/16');
const TINY = parseServiceCidr('127.9.9.0/30'); // two usable addresses: .1 and .2

function svc(name: string, clusterIP?: string, type: Service['spec']['type'] = 'ClusterIP'): Service {
  return {
    apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { type, selector: { app: name }, ports: [{ port: 80 }], ...(clusterIP !== undefined ? { clusterIP } : {}) },
  };
}
const create = (object: Service, dryRun = false): AdmissionRequest => ({ operation: 'CREATE', info: kindInfo('Service')!, object, dryRun });
const ctx = { getNamespace: async () => undefined };
const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: Error) => e instanceof Invalid && message.test(e.message));

test('parseServiceCidr: an IPv4 range inside 127.0.0.0/8, else an error that says how', () => {
  assert.equal(parseServiceCidr('127.1.0.0/16'), { text: '127.1.0.0/16', base: (127 << 24 >>> 0) + (1 << 16), size: 65536 });
  for (const bad of ['10.96.0.0/12', '127.1.0.0', '127.1.0.0/31', '127.1.0.0/7', '127.1.0.1/16', '127.1.0.0/16/1', 'x/16', '127.1.0.300/24']) {
    assert.throws(() => parseServiceCidr(bad), /service range .*use an IPv4 range inside 127\.0\.0\.0\/8/, bad);
  }
  assert.ok(inServiceRange('127.1.0.1', CIDR));
  assert.ok(inServiceRange('127.1.255.254', CIDR));
  assert.not.ok(inServiceRange('127.1.0.0', CIDR), 'not the first address');
  assert.not.ok(inServiceRange('127.1.255.255', CIDR), 'nor the last');
  assert.not.ok(inServiceRange('127.2.0.1', CIDR));
});

test('allocateClusterIP: a free address from the range, kept on update; a requested one honoured if free', () => {
  const taken = new Map([['127.9.9.1', 'default/a']]);
  assert.is(allocateClusterIP(svc('b'), taken, TINY, undefined, () => 0).spec.clusterIP, '127.9.9.2', 'the first free one from the random start');
  const stored = allocateClusterIP(svc('c'), new Map(), CIDR, undefined, () => 0.5);
  assert.ok(inServiceRange(stored.spec.clusterIP!, CIDR));
  assert.is(allocateClusterIP(svc('c'), new Map(), CIDR, stored).spec.clusterIP, stored.spec.clusterIP, 'an update that leaves it out keeps it');
  assert.is(allocateClusterIP(svc('d', '127.1.2.3'), taken, CIDR).spec.clusterIP, '127.1.2.3');
  assert.is(allocateClusterIP(svc('h', 'None'), taken, CIDR).spec.clusterIP, 'None', 'headless');
});

test('allocateClusterIP: refusals name the field and the fix', () => {
  const taken = new Map([['127.1.0.7', 'default/web']]);
  refused(() => allocateClusterIP(svc('x', '127.1.0.7'), taken, CIDR), /spec\.clusterIP: 127\.1\.0\.7 is already allocated to service default\/web; choose another, or leave it out/);
  refused(() => allocateClusterIP(svc('x', '127.2.0.7'), taken, CIDR), /spec\.clusterIP: 127\.2\.0\.7 is not in the service range 127\.1\.0\.0\/16 \(SKIFF_SERVICE_CIDR\)/);
  refused(() => allocateClusterIP(svc('x', 'web'), taken, CIDR), /spec\.clusterIP: "web": use an IPv4 address from 127\.1\.0\.0\/16, "None" for a headless service/);
  refused(() => allocateClusterIP(svc('x', 'None', 'NodePort'), taken, CIDR), /spec\.clusterIP: may not be None for a NodePort service/);
  const stored = svc('x', '127.1.0.9');
  refused(() => allocateClusterIP(svc('x', '127.1.0.10'), taken, CIDR, stored), /spec\.clusterIP: "127\.1\.0\.10": the field is immutable \(the service has 127\.1\.0\.9\)/);
  const full = new Map([['127.9.9.1', 'default/a'], ['127.9.9.2', 'default/b']]);
  refused(() => allocateClusterIP(svc('x'), full, TINY), /no free address left in the service range 127\.9\.9\.0\/30 \(2 addresses, SKIFF_SERVICE_CIDR\): delete a service, or widen the range/);
});

test('two apiservers, neither seeing the other\'s service yet: one address goes to one service', async () => {
  const store = new MemoryClaims();
  const [a, b] = [serviceClusterIPAllocator(CIDR, () => [], store), serviceClusterIPAllocator(CIDR, () => [], store)];
  const results = await Promise.allSettled([a.admit(create(svc('one', '127.1.0.5')), ctx), b.admit(create(svc('two', '127.1.0.5')), ctx)]);
  assert.equal(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const refusal = (results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as Error;
  assert.instance(refusal, Invalid);
  assert.match(refusal.message, /127\.1\.0\.5 is already allocated to service default\/(one|two)/);
  // Chosen addresses: each apiserver picks from its own view; the claims make them differ.
  const [c, d] = [serviceClusterIPAllocator(TINY, () => [], store), serviceClusterIPAllocator(TINY, () => [], store)];
  const [s1, s2] = [svc('three'), svc('four')];
  await Promise.all([c.admit(create(s1), ctx), d.admit(create(s2), ctx)]);
  assert.equal([s1.spec.clusterIP, s2.spec.clusterIP].sort(), ['127.9.9.1', '127.9.9.2']);
  await Promise.resolve(c.admit(create(svc('five')), ctx)).then(() => assert.unreachable('a third service in a range of two'), (err: Error) => {
    assert.ok(err instanceof Invalid || err instanceof Conflict, String(err));
  });
});

test('a dry run claims nothing; a delete releases the address once written; headless claims nothing', async () => {
  const store = new MemoryClaims();
  const plugin = serviceClusterIPAllocator(CIDR, () => [], store);
  await plugin.admit(create(svc('dry', '127.1.0.8'), true), ctx);
  assert.is(store.keys.size, 0);
  await plugin.admit(create(svc('headless', 'None')), ctx);
  assert.is(store.keys.size, 0);
  const s = svc('real', '127.1.0.8');
  await plugin.admit(create(s), ctx);
  assert.is(store.holder('clusterip.127.1.0.8'), 'default/real');
  await plugin.admit({ operation: 'UPDATE', info: kindInfo('Service')!, object: svc('real'), oldObject: s, dryRun: false }, ctx);
  assert.is(store.holder('clusterip.127.1.0.8'), 'default/real', 'an update keeps it');
  await plugin.deleted!(kindInfo('Service')!, s);
  assert.is(store.holder('clusterip.127.1.0.8'), undefined);
  const again = svc('next', '127.1.0.8');
  await plugin.admit(create(again), ctx);
  assert.is(again.spec.clusterIP, '127.1.0.8', 'a released address is free at once');
});

test.run();
