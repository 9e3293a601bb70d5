// A master process: the apiserver now; the scheduler, controllers and membership join it as
// their issues land. Serves /healthz and /metrics on PORT.
import { loadConfig } from '../../protocol/config.ts';
import { startApiserver } from '../apiserver/index.ts';
import { createLogger } from '../lib/log.ts';
import { createRegistry, startStatusServer } from '../lib/metrics.ts';
import { connectNats } from '../lib/nats.ts';
import { instanceName, onShutdown, statusPort } from '../lib/process.ts';

const name = instanceName('master');
const log = createLogger({ component: 'master', instance: name });
const cfg = loadConfig();
const registry = createRegistry({ component: 'master', node: name });

const nc = await connectNats({ url: cfg.natsUrl, name, persistent: true });
log.info('connected to NATS', { url: cfg.natsUrl });
const apiserver = startApiserver({ nc, cfg, log: log.child({ actor: 'apiserver' }), registry });

const http = await startStatusServer({
  port: statusPort(),
  registry,
  health: () => (apiserver.actor.getSnapshot().matches({ running: 'serving' }) ? null : 'apiserver is not serving yet'),
});
log.info('status server listening', { port: (http.address() as { port: number }).port });

onShutdown(log, async () => {
  apiserver.actor.send({ type: 'STOP' });
  http.close();
  await nc.drain();
});
