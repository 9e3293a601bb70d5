import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { clientUrls, instanceConfig, natsInstance } from './nats-cluster.ts';
import { natsClusterEnv } from '../cli/up/index.ts';
import { kvReplicas } from '../actors/apiserver/store.ts';
import { loadConfig } from '../protocol/config.ts';

test('a standalone server keeps the old ports and store, and no cluster block', () => {
  const inst = natsInstance({});
  assert.is(inst.clientPort, 4222);
  assert.is(inst.monitorPort, 8222);
  assert.is(inst.storeDir, '.skiff/nats');
  assert.equal(inst.routes, []);
  const conf = instanceConfig('max_payload: 8MB\n', inst);
  assert.match(conf, /^max_payload: 8MB\n/);
  assert.match(conf, /listen: "127\.0\.0\.1:4222"/);
  assert.match(conf, /http: "127\.0\.0\.1:8222"/);
  assert.not.match(conf, /cluster \{/);
});

test('server N of a cluster under skiff up: its own ports, routes to all, a name and a store of its own', () => {
  const inst = natsInstance({ PS: 'nats.2', SKIFF_NATS_CLUSTER_SIZE: '3' });
  assert.is(inst.clientPort, 4223);
  assert.is(inst.monitorPort, 8223);
  assert.is(inst.clusterPort, 6223);
  assert.is(inst.serverName, 'nats-2');
  assert.is(inst.storeDir, '.skiff/nats-cluster/nats-2');
  assert.equal(inst.routes, ['nats-route://127.0.0.1:6222', 'nats-route://127.0.0.1:6223', 'nats-route://127.0.0.1:6224']);
  const conf = instanceConfig('', inst);
  assert.match(conf, /server_name: "nats-2"/);
  assert.match(conf, /cluster \{\n {2}name: "skiff"\n {2}listen: "127\.0\.0\.1:6223"\n {2}routes: \["nats-route:\/\/127\.0\.0\.1:6222", /);
});

test('a server on a host of its own is told its address and its peers', () => {
  const inst = natsInstance({ SKIFF_NATS_HOST: '10.77.0.1', SKIFF_NATS_ROUTES: '10.77.0.1:6222,10.77.0.2:6222,10.77.0.3:6222', SKIFF_NATS_SERVER_NAME: 'h1' });
  assert.is(inst.size, 3);
  assert.is(inst.clientPort, 4222);
  assert.equal(inst.routes, ['nats-route://10.77.0.1:6222', 'nats-route://10.77.0.2:6222', 'nats-route://10.77.0.3:6222']);
  assert.match(instanceConfig('', inst), /listen: "10\.77\.0\.1:4222"[\s\S]*http: "127\.0\.0\.1:8222"/);
});

test('bad settings name the variable', () => {
  assert.throws(() => natsInstance({ SKIFF_NATS_CLUSTER_SIZE: 'three' }), /SKIFF_NATS_CLUSTER_SIZE="three": must be a whole number/);
  assert.throws(() => natsInstance({ SKIFF_NATS_PORT: '70000' }), /SKIFF_NATS_PORT="70000"/);
  assert.throws(() => natsInstance({ PS: 'nats.4', SKIFF_NATS_CLUSTER_SIZE: '3' }), /only 3 nats servers/);
});

test('skiff up hands every process every server, keeping a URL the user set', () => {
  assert.equal(clientUrls({}, 3), ['nats://127.0.0.1:4222', 'nats://127.0.0.1:4223', 'nats://127.0.0.1:4224']);
  const env = natsClusterEnv({ HOME: '/root' }, 3);
  assert.is(env.SKIFF_NATS_CLUSTER_SIZE, '3');
  assert.is(env.SKIFF_NATS_URL, 'nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224');
  assert.is(natsClusterEnv({ SKIFF_NATS_URL: 'nats://a:1' }, 3).SKIFF_NATS_URL, 'nats://a:1');
  assert.equal(natsClusterEnv({ A: '1' }, 1), { A: '1' });
});

test('buckets get one copy per server up to three, or SKIFF_KV_REPLICAS', () => {
  assert.is(kvReplicas(loadConfig({})), 1);
  assert.is(kvReplicas(loadConfig({ SKIFF_NATS_URL: 'nats://a:1,nats://b:1' })), 2);
  assert.is(kvReplicas(loadConfig({ SKIFF_NATS_URL: 'nats://a:1,nats://b:1,nats://c:1,nats://d:1,nats://e:1' })), 3);
  // A client given one URL still learns of the cluster's servers from the one it reached.
  assert.is(kvReplicas(loadConfig({}), { info: { connect_urls: ['a:1', 'b:1', 'c:1'] } as never }), 3);
  assert.is(kvReplicas(loadConfig({ SKIFF_KV_REPLICAS: '1', SKIFF_NATS_URL: 'nats://a:1,nats://b:1,nats://c:1' })), 1);
  assert.throws(() => loadConfig({ SKIFF_KV_REPLICAS: '2.5' }), /SKIFF_KV_REPLICAS=2\.5: must be 1 to 5 copies/);
});

test.run();
