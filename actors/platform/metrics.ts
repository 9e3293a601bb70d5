// One prom-client Registry per process, with default metrics and the `component` and `node`
// labels, served with /healthz on the process's PORT.
import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createRegistry(labels: { component: string; node?: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ component: labels.component, node: labels.node ?? '' });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/**
 * `read`'s result taken once per scrape: a registry collects its metrics one after another within
 * milliseconds, and several of them may need one costly reading (a pass over /proc, the objects).
 */
export function oncePerScrape<T>(read: () => T, windowMs = 100): () => T {
  let value: T;
  let at = -Infinity;
  return () => {
    if (Date.now() - at > windowMs) {
      value = read();
      at = Date.now();
    }
    return value;
  };
}

export interface StatusServerOptions {
  port: number;
  host?: string;
  registry: Registry;
  /** Served after `registry`, without its default labels (the objects' state, labelled by what they describe). */
  unlabelled?: Registry;
  /** Returns null when healthy, or the reason it is not. */
  health?: () => string | null;
  /** Extra routes, e.g. the apiserver's /sd. */
  routes?: Record<string, () => Promise<unknown> | unknown>;
}

/** Where /healthz and /metrics listen: SKIFF_STATUS_HOST (0.0.0.0 for a Prometheus on another machine), else loopback only. */
export function statusHost(env: NodeJS.ProcessEnv = process.env): string {
  return env.SKIFF_STATUS_HOST || '127.0.0.1';
}

/** Serves /healthz and /metrics; resolves once listening. */
export async function startStatusServer(opts: StatusServerOptions): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz' || path === '/readyz' || path === '/livez') {
        const problem = opts.health?.() ?? null;
        res.writeHead(problem ? 503 : 200, { 'content-type': 'text/plain' });
        res.end(problem ? `unhealthy: ${problem}\n` : 'ok\n');
      } else if (path === '/metrics') {
        const body = opts.unlabelled ? `${await opts.registry.metrics()}\n${await opts.unlabelled.metrics()}` : await opts.registry.metrics();
        res.writeHead(200, { 'content-type': opts.registry.contentType });
        res.end(body);
      } else if (opts.routes?.[path]) {
        const body = await opts.routes[path]();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found: try /healthz or /metrics\n');
      }
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`error: ${(err as Error).message}\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? statusHost(), () => resolve());
  });
  return server;
}
