import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Balancer, type Backend } from './balancer.ts';

const b = (n: number): Backend => ({ key: `10.0.0.${n}:80`, ip: `10.0.0.${n}`, port: 80 });

test('round robin - even spread', () => {
  const lb = new Balancer({ policy: 'round-robin' });
  lb.setBackends([b(1), b(2), b(3)]);
  const counts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const k = lb.pick('c', 0)!.key;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  assert.equal([...counts.values()], [100, 100, 100]);
});

test('retry - a backend that refused is skipped', () => {
  const lb = new Balancer({ policy: 'round-robin' });
  lb.setBackends([b(1), b(2)]);
  const refused = new Set([b(1).key]);
  for (let i = 0; i < 4; i++) assert.is(lb.pick('c', 0, refused)!.key, b(2).key);
  assert.is(lb.pick('c', 0, new Set([b(1).key, b(2).key])), undefined);
});

test('least connections - the idle backend gets the next connection', () => {
  const lb = new Balancer({ policy: 'least-connections' });
  lb.setBackends([b(1), b(2), b(3)]);
  lb.opened(b(1));
  lb.opened(b(1));
  lb.opened(b(2));
  assert.is(lb.pick('c', 0)!.key, b(3).key);
  lb.closed(b(1));
  lb.closed(b(1));
  lb.opened(b(3));
  assert.is(lb.pick('c', 0)!.key, b(1).key);
});

test('affinity - a client sticks to its backend until the timeout', () => {
  const lb = new Balancer({ policy: 'round-robin', affinityMs: 1000 });
  lb.setBackends([b(1), b(2), b(3)]);
  const first = lb.pick('192.0.2.1', 0)!.key;
  for (let t = 100; t < 900; t += 100) assert.is(lb.pick('192.0.2.1', t)!.key, first);
  assert.is.not(lb.pick('192.0.2.2', 900)!.key, first, 'another client goes elsewhere');
  assert.is(lb.pick('192.0.2.1', 5000)!.key === first ? 'same' : 'moved', 'moved', 'expired affinity starts over');
});

test('affinity - a removed backend releases its clients', () => {
  const lb = new Balancer({ policy: 'round-robin', affinityMs: 10_000 });
  lb.setBackends([b(1), b(2)]);
  const first = lb.pick('x', 0)!;
  lb.setBackends([b(1), b(2)].filter((c) => c.key !== first.key));
  assert.is.not(lb.pick('x', 1)!.key, first.key);
});

test('affinity - clients that never come back are forgotten once their affinity has expired', () => {
  const lb = new Balancer({ policy: 'round-robin', affinityMs: 1000 });
  lb.setBackends([b(1), b(2)]);
  for (let i = 0; i < 3000; i++) lb.pick(`10.1.${i >> 8}.${i & 255}`, 0);
  assert.is(lb.stickyClients, 3000);
  for (let i = 0; i < 1024; i++) lb.pick('10.9.9.9', 5000);
  assert.is(lb.stickyClients, 1, 'only the client seen since');
});

test.run();
