// Running one probe: an HTTP GET (2xx or 3xx is success), a TCP connect, or a command in the
// container's environment (exit 0). Each is bounded by the probe's timeout.
import { connect } from 'node:net';
import type { Probe } from '../../protocol/types.ts';
import { resolveProbePort } from './probe.ts';
import type { Runtime } from './runtime.ts';

export interface ProbeTarget {
  host: string;
  ports: { name?: string; containerPort: number; hostPort: number }[];
  env: Record<string, string>;
  cwd: string;
}

export type Prober = (probe: Probe, target: ProbeTarget, timeoutMs: number) => Promise<boolean>;

export function realProber(runtime: Runtime): Prober {
  return async (probe, target, timeoutMs) => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      if (probe.httpGet) {
        const port = resolveProbePort(probe.httpGet.port, target.ports);
        if (port === undefined) return false;
        const headers = Object.fromEntries((probe.httpGet.httpHeaders ?? []).map((h) => [h.name, h.value]));
        const res = await fetch(`http://${probe.httpGet.host ?? target.host}:${port}${probe.httpGet.path ?? '/'}`, { signal, headers, redirect: 'manual' });
        await res.body?.cancel();
        return res.status >= 200 && res.status < 400;
      }
      if (probe.tcpSocket) {
        const port = resolveProbePort(probe.tcpSocket.port, target.ports);
        if (port === undefined) return false;
        return await new Promise<boolean>((resolve) => {
          const sock = connect({ host: probe.tcpSocket!.host ?? target.host, port, signal });
          sock.once('connect', () => { sock.destroy(); resolve(true); });
          sock.once('error', () => resolve(false));
        });
      }
      if (probe.exec) {
        return (await runtime.exec({ argv: probe.exec.command, env: target.env, cwd: target.cwd }, undefined, signal)) === 0;
      }
      return false;
    } catch {
      return false;
    }
  };
}
