// Host ports: every containerPort gets a free port of the node's own (processes share the host
// network), unless the manifest pins one with hostPort. Ports handed out are remembered until the
// pod goes, so two pods never get the same one even before either has bound it.
import { createServer } from 'node:net';
import type { Pod } from '../../protocol/types.ts';
import type { AllocatedPort } from './pod-env.ts';

/** A port free on `host` now (the kernel's pick). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Ports are probed on all addresses: a process may listen on any of them. */
const ANY_ADDRESS = '0.0.0.0';

export class PortAllocator {
  private readonly used = new Set<number>();
  private readonly host = ANY_ADDRESS;

  /** Marks ports as taken (re-adopted pods keep theirs). */
  reserve(ports: AllocatedPort[]): void {
    for (const p of ports) this.used.add(p.hostPort);
  }

  release(ports: AllocatedPort[]): void {
    for (const p of ports) this.used.delete(p.hostPort);
  }

  async allocate(pod: Pod): Promise<AllocatedPort[]> {
    const out: AllocatedPort[] = [];
    for (const c of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
      for (const p of c.ports ?? []) {
        let hostPort = p.hostPort || 0;
        for (let tries = 0; hostPort === 0 || (this.used.has(hostPort) && !p.hostPort); tries++) {
          if (tries > 20) throw new Error(`no free port found on ${this.host} for ${c.name}:${p.containerPort}`);
          hostPort = await freePort(this.host);
        }
        this.used.add(hostPort);
        out.push({ container: c.name, ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, hostPort });
      }
    }
    return out;
  }
}
