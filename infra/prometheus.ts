// The Procfile's prometheus line: the Debian `prometheus` binary with infra/prometheus.yml,
// listening on PORT (127.0.0.1, or SKIFF_STATUS_HOST), its data under .skiff/prometheus
// (SKIFF_PROMETHEUS_DATA). Prometheus serves its own /metrics and /-/healthy there; skiff up's
// discovery lists it with the other processes, so it scrapes itself too.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../actors/platform/entry.ts';
import { createLogger } from '../actors/platform/log.ts';
import { findProgram, statusPort } from '../actors/platform/process.ts';
import { statusHost } from '../actors/platform/metrics.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: node dist/infra/prometheus.js   (the Procfile's prometheus line)

Runs prometheus --config.file=infra/prometheus.yml on PORT, its data in SKIFF_PROMETHEUS_DATA
(default .skiff/prometheus). Open http://127.0.0.1:$PORT (5300 under skiff up's defaults).
It finds its targets through the masters' /sd (5100-5102); see infra/prometheus.yml, and the
alert and recording rules in infra/prometheus/rules.yml.`);
  process.exit(0);
}

const log = createLogger({ component: 'prometheus' });
const bin = findProgram('prometheus');
if (!bin) {
  log.error('prometheus is not installed: run sh infra/bootstrap.sh, or: apt-get install prometheus');
  process.exit(127);
}
const dataDir = resolve(process.env.SKIFF_PROMETHEUS_DATA || join('.skiff', 'prometheus'));
mkdirSync(dataDir, { recursive: true });
const address = `${statusHost()}:${statusPort()}`;
const child = spawn(bin, [
  `--config.file=${join(PROJECT_ROOT, 'infra', 'prometheus.yml')}`,
  `--storage.tsdb.path=${dataDir}`,
  `--web.listen-address=${address}`,
  '--storage.tsdb.retention.time=2d',
  '--web.enable-lifecycle',
], { stdio: 'inherit' });
log.info('prometheus starting', { address, dataDir });
let stopping = false;
child.on('exit', (code, signal) => {
  log.info('prometheus exited', { code, signal });
  process.exit(stopping ? 0 : code ?? 1);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = true;
    child.kill(signal);
  });
}
