// The Procfile's prometheus line: the Debian `prometheus` binary with infra/prometheus.yml,
// listening on PORT (127.0.0.1, or SKIFF_STATUS_HOST), its data under .skiff/prometheus
// (SKIFF_PROMETHEUS_DATA). Prometheus serves its own /metrics and /-/healthy there; skiff up's
// discovery lists it with the other processes, so it scrapes itself too.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../actors/platform/entry.ts';
import { createLogger } from '../actors/platform/log.ts';
import { requireProgram, statusPort } from '../actors/platform/process.ts';
import { statusHost } from '../actors/platform/metrics.ts';
import { parseSdTargets } from '../actors/controller-manager/discovery.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: node dist/infra/prometheus.js   (the Procfile's prometheus line)

Runs prometheus --config.file=infra/prometheus.yml on PORT, its data in SKIFF_PROMETHEUS_DATA
(default .skiff/prometheus). Open http://127.0.0.1:$PORT (5300 under skiff up's defaults).
It finds its targets through the masters' /sd: those skiff up names in SKIFF_SD_TARGETS, else
5100-5102; see infra/prometheus.yml, and the alert and recording rules in
infra/prometheus/rules.yml.`);
  process.exit(0);
}

const log = createLogger({ component: 'prometheus' });
const bin = requireProgram('prometheus', 'prometheus', log);
const dataDir = resolve(process.env.SKIFF_PROMETHEUS_DATA || join('.skiff', 'prometheus'));
mkdirSync(dataDir, { recursive: true });
const address = `${statusHost()}:${statusPort()}`;

/**
 * infra/prometheus.yml as it is, or, under skiff up (SKIFF_SD_TARGETS), with /sd asked of the
 * masters this formation has rather than of three: a master that is not there would be an error
 * in the log every 5 s.
 */
function configFile(): string {
  const file = join(PROJECT_ROOT, 'infra', 'prometheus.yml');
  const masters = parseSdTargets(process.env.SKIFF_SD_TARGETS).filter((t) => /^master-\d+$/.test(t.instance));
  if (masters.length === 0) return file;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('    http_sd_configs:\n');
  if (start < 0) return file;
  const sd = masters.map((m) => `      - url: http://${m.address}/sd\n        refresh_interval: 5s\n`).join('');
  const rendered = join(dataDir, 'prometheus.yml');
  writeFileSync(rendered, `${text.slice(0, start)}    http_sd_configs:\n${sd}`.replace('  - prometheus/rules.yml', `  - ${join(PROJECT_ROOT, 'infra', 'prometheus', 'rules.yml')}`));
  return rendered;
}

const child = spawn(bin, [
  `--config.file=${configFile()}`,
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
