// kube-proxy against a real apiserver (in this process) and real listeners at the services'
// ClusterIPs: every service on the same port, each at its own address; an event costs its own
// service's work, not every service's.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Registry } from 'prom-client';
import type { Endpoints, Service } from '../../protocol/types.ts';
import { EventRecorder } from '../runtime/events.ts';
import { Informer } from '../client/informer.ts';
import { silentLogger } from '../platform/log.ts';
import { apiserverForTests, freePorts, waitFor } from '../../test/harness.ts';
import { KubeProxy } from './kube-proxy.ts';

const ADDRESS = '127.0.1.60';
const cluster = apiserverForTests(test);

test('a change to one service touches only that service; gossip news looks at them all', async () => {
  const { client } = cluster.api;
  const services = new Informer<Service>(client, 'services', { deadlineMs: 5000 }).start();
  const endpoints = new Informer<Endpoints>(client, 'endpoints', { deadlineMs: 5000 }).start();
  const kp = new KubeProxy({
    client, nodeName: 'kp-node', address: ADDRESS, services, endpoints, log: silentLogger, registry: new Registry(),
    events: new EventRecorder(client, { component: 'kube-proxy', host: 'kp-node', ratePerSecond: 5, burst: 20 }),
  });
  // Which service ports each sync gave backends to.
  const touched: string[] = [];
  const target = kp.proxy.target.bind(kp.proxy);
  kp.proxy.target = (id, opts) => {
    touched.push(id);
    return target(id, opts);
  };
  kp.start();
  try {
    const [port] = await freePorts(1);
    const name = (i: number) => `kp-${i}`;
    const ips = Array.from({ length: 10 }, (_, i) => `127.1.60.${i + 1}`);
    await Promise.all(ips.map((clusterIP, i) => client.create<Service>({ apiVersion: 'v1', kind: 'Service', metadata: { name: name(i) }, spec: { selector: { app: name(i) }, clusterIP, ports: [{ name: 'http', port }] } })));
    const listening = (ip: string) => kp.proxy.listening().includes(`${ip}:${port}`);
    await waitFor('every service listened on at its address', () => ips.every(listening));
    assert.not.ok(kp.proxy.listening().some((l) => l.startsWith(`${ADDRESS}:`)), 'nothing at the node\'s address: they are not NodePort services');
    touched.length = 0;
    // Endpoints for one service: its balancer gets the backend, and no other service is looked at.
    await client.create<Endpoints>({
      apiVersion: 'v1', kind: 'Endpoints', metadata: { name: name(3) },
      subsets: [{ addresses: [{ ip: '127.0.0.9' }], ports: [{ name: 'http', port: 9999 }] }],
    });
    await waitFor('the backend in its balancer', () => kp.proxy.targets.get(`default/${name(3)}:http`)?.balancer.pick('c', Date.now(), new Set())?.key === '127.0.0.9:9999');
    assert.equal([...new Set(touched)], [`default/${name(3)}:http`]);
    // A service deleted: its port closes, the others stay, and still no other service is looked at.
    touched.length = 0;
    await client.delete('services', name(5), 'default');
    await waitFor('its port closed', () => !listening(ips[5]));
    assert.ok(ips.every((ip, i) => i === 5 || listening(ip)), 'the other services still listened on');
    assert.equal(touched, []);
    // Gossip news (a node's verdict changed) looks at every service again.
    kp.scheduleSync();
    await waitFor('a full sync', () => new Set(touched).size === 9);
  } finally {
    kp.stop();
    services.stop();
    endpoints.stop();
  }
});

test.run();
