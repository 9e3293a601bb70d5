// N hollow nodes in one process: the real kubelet on a fake runtime (containers run the moment
// they start), as Kubernetes' kubemark and KWOK run them. bench/scheduler.ts starts this in a
// process of its own, so that the kubelets' work neither delays nor is counted with what the
// benchmark observes. Prints `ready` once every node's kubelet has started (bench/scheduler.ts then waits for the Nodes); stops on SIGTERM.
// Usage: tsx bench/hollow-nodes.ts --nodes N [--first I]   (with SKIFF_NATS_URL set)
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createActor } from 'xstate';
import { ApiClient } from '../actors/client/client.ts';
import { silentLogger } from '../actors/platform/log.ts';
import { connectNats } from '../actors/platform/nats.ts';
import { Kubelet, kubeletConfig, kubeletMachine, WATCHDOG_MODES } from '../actors/kubelet/index.ts';
import { FakeRuntime, passingProber } from '../actors/kubelet/fake-runtime.ts';
import { startProfiling } from '../actors/platform/profile.ts';
import { loadConfig } from '../protocol/config.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '1000' }, first: { type: 'string', default: '0' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  console.log('Usage: tsx bench/hollow-nodes.ts --nodes N [--first I]   (nodes hollow-I … hollow-(I+N-1); SKIFF_NATS_URL names the cluster; started by bench/scheduler.ts)');
  process.exit(0);
}
const NODES = Number(values.nodes);
const FIRST = Number(values.first);
const stopProfiling = startProfiling();
const cfg = loadConfig(process.env);
const nc = await connectNats({ url: cfg.natsUrl, name: 'hollow-nodes', persistent: true });
const kubelets: { stop(): void }[] = [];
for (let i = FIRST; i < FIRST + NODES; i++) {
  const name = `hollow-${i}`;
  const kcfg = { ...kubeletConfig(name, cfg, WATCHDOG_MODES, { SKIFF_NODE_CPU: '16', SKIFF_NODE_MEMORY: '64Gi' }), noDisk: true, dataDir: '/nonexistent' };
  const kubelet = new Kubelet(kcfg, {
    client: new ApiClient(nc, { origin: name, timeoutMs: 60_000, waitForApiserver: true }),
    runtime: new FakeRuntime(), prober: passingProber, log: silentLogger, registry: new Registry(),
  });
  const actor = createActor(kubeletMachine, { input: { kubelet, log: silentLogger, retryMs: 1000, logRotateMs: 60_000, serve: () => () => {} } }).start();
  kubelets.push(actor);
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 50));
}
console.log('ready');
process.once('SIGTERM', async () => {
  stopProfiling?.();
  for (const k of kubelets) k.stop();
  await nc.close();
  process.exit(0);
});
