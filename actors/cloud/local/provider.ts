// The `local` cloud provider: instances are node processes on this machine (instances.ts), load
// balancers are listeners on addresses of their own in the leading master (load-balancers.ts).
// A real provider would implement the same interface (../provider.ts) against its API.
import type { Config } from '../../../protocol/config.ts';
import { defaultAuthDir } from '../../platform/credentials.ts';
import type { Logger } from '../../platform/log.ts';
import type { CloudProvider } from '../provider.ts';
import { LocalInstances, LOCAL_PROVIDER } from './instances.ts';
import { LocalLoadBalancers } from './load-balancers.ts';

export class LocalProvider implements CloudProvider {
  readonly name = LOCAL_PROVIDER;
  readonly instances: LocalInstances;
  readonly loadBalancers: LocalLoadBalancers;

  constructor(cfg: Config, log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.instances = new LocalInstances({
      dir: cfg.cloudDir, natsUrl: cfg.natsUrl, zones: cfg.cloudZones.split(',').map((z) => z.trim()).filter(Boolean),
      nodeCidr: cfg.cloudNodeCidr, anchorPid: cfg.cloudAnchorPid || process.pid, authDir: defaultAuthDir(env),
      stopTimeoutMs: cfg.nodeShutdownGraceMs + 5000, log,
    });
    this.loadBalancers = new LocalLoadBalancers(cfg.cloudDir, cfg.cloudLoadBalancerCidr, log);
  }

  async release(): Promise<void> {
    await this.loadBalancers.release();
  }
}
