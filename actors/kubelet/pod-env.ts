// A container's environment, as Kubernetes builds it, plus what processes need from skiff: the
// allocated ports (PORT for the first, SKIFF_PORT_<NAME> for named ones) and the volume paths.
import { clusterIPOf } from '../../protocol/defaults.ts';
import type { Container, Pod, Service } from '../../protocol/types.ts';

export interface AllocatedPort {
  container: string;
  name?: string;
  containerPort: number;
  hostPort: number;
}

export interface EnvContext {
  pod: Pod;
  podIP: string;
  hostIP: string;
  nodeName: string;
  ports: AllocatedPort[];
  /** Extra variables every container gets first (the node's PATH, service variables). */
  base: Record<string, string>;
}

export function envName(name: string): string {
  return name.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

function fieldValue(ctx: EnvContext, path: string): string {
  switch (path) {
    case 'metadata.name': return ctx.pod.metadata.name ?? '';
    case 'metadata.namespace': return ctx.pod.metadata.namespace ?? '';
    case 'status.podIP': return ctx.podIP;
    case 'status.hostIP': return ctx.hostIP;
    case 'spec.nodeName': return ctx.nodeName;
    default: return '';
  }
}

/** Variables in `value` may refer to earlier ones as $(NAME), as in Kubernetes. */
function expand(value: string, env: Record<string, string>): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => (name in env ? env[name] : all));
}

export function containerEnv(ctx: EnvContext, c: Container): Record<string, string> {
  const env: Record<string, string> = { ...ctx.base, HOSTNAME: ctx.pod.metadata.name ?? '' };
  const mine = ctx.ports.filter((p) => p.container === c.name);
  if (mine.length) env.PORT = String(mine[0].hostPort);
  for (const p of mine) if (p.name) env[`SKIFF_PORT_${envName(p.name)}`] = String(p.hostPort);
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) env[e.name] = fieldValue(ctx, e.valueFrom.fieldRef.fieldPath);
    else env[e.name] = expand(e.value ?? '', env);
  }
  return env;
}

/** command then args, with $(VAR) references expanded as Kubernetes does. */
export function containerArgv(c: Container, env: Record<string, string>): string[] {
  return [...(c.command ?? []), ...(c.args ?? [])].map((a) => expand(a, env));
}

/**
 * Kubernetes' service environment variables for the services of a pod's namespace that exist
 * when it starts: `WEB_SERVICE_HOST` (the service's ClusterIP), `WEB_SERVICE_PORT` and
 * `WEB_SERVICE_PORT_<NAME>`. Headless services, and services not yet given an address, have none,
 * as in Kubernetes.
 */
export function serviceEnv(services: Service[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of services) {
    const ports = s.spec.ports ?? [];
    const ip = clusterIPOf(s);
    if (ports.length === 0 || !ip) continue;
    const prefix = envName(s.metadata.name!);
    env[`${prefix}_SERVICE_HOST`] = ip;
    env[`${prefix}_SERVICE_PORT`] = String(ports[0].port);
    for (const p of ports) if (p.name) env[`${prefix}_SERVICE_PORT_${envName(p.name)}`] = String(p.port);
  }
  return env;
}
