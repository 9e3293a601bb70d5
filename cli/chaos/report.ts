// A run's result for people: a table for the terminal, and a small self-contained HTML page with
// the timeline drawn (faults as marks, failed checks as red ticks, recoveries as green), for those
// who would rather look than read. The JSON is the RunResult itself.
import type { RunResult } from './run.ts';
import { probeHeld } from './score.ts';

export function resultTable(r: RunResult): string {
  const rows = r.probes.map((p) => [p.name, p.phase, p.kind, p.kind === 'recovery'
    ? (p.recoveriesMs ?? []).map((ms) => (ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)}s`)).join(' ') + ` (max ${((p.withinMs ?? 0) / 1000).toFixed(1)}s)`
    : `${p.successPercent.toFixed(2)}% of ${p.checks} (need ${p.threshold}%)`, probeHeld(p) ? 'ok' : 'FAILED']);
  const head = ['PROBE', 'PHASE', 'KIND', 'RESULT', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('   ').trimEnd();
  const out = [line(head), ...rows.map(line), ''];
  for (const f of r.faults) out.push(`fault ${f.name} at ${(f.at / 1000).toFixed(1)}s: ${f.action} ${f.error ? `FAILED (${f.error})` : f.targets.join(', ') || '(no target matched)'}`);
  if (r.failed.length) out.push('', 'failed:', ...r.failed.map((f) => `  ${f}`));
  out.push('', `verdict: ${r.verdict}   resilience score: ${r.resilienceScore}`);
  return out.join('\n');
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

export function resultHtml(r: RunResult): string {
  const end = Math.max(1000, ...r.timeline.map((e) => e.t));
  const start = Math.min(0, ...r.timeline.map((e) => e.t));
  const width = 900;
  const x = (t: number) => 20 + ((t - start) / (end - start)) * (width - 40);
  const rows = ['phase', 'fault', 'probe', 'recovery'] as const;
  const marks = r.timeline.map((e) => {
    const y = 30 + rows.indexOf(e.kind) * 40;
    const colour = e.ok === false ? '#c62828' : e.kind === 'fault' ? '#ef6c00' : e.kind === 'recovery' ? '#2e7d32' : '#1565c0';
    return `<circle cx="${x(e.t).toFixed(1)}" cy="${y}" r="5" fill="${colour}"><title>${esc(`${(e.t / 1000).toFixed(2)}s ${e.name}: ${e.detail}`)}</title></circle>`;
  }).join('\n');
  const labels = rows.map((k, i) => `<text x="0" y="${24 + i * 40}" font-size="11" fill="#555">${k}</text>`).join('');
  const probeRows = r.probes.map((p) => `<tr><td>${esc(p.name)}</td><td>${p.phase}</td><td>${p.kind}</td><td>${p.successPercent}%</td><td>${probeHeld(p) ? esc(p.detail ?? 'ok') : `<b style="color:#c62828">${esc(p.detail ?? 'failed')}</b>`}</td></tr>`).join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>skiff chaos: ${esc(r.experiment)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}.pass{color:#2e7d32}.fail{color:#c62828}</style></head>
<body><h1>${esc(r.experiment)}: <span class="${r.verdict === 'Pass' ? 'pass' : 'fail'}">${r.verdict}</span></h1>
<p>Resilience score ${r.resilienceScore}. Hover a mark for what happened.</p>
<svg width="${width}" height="${30 + rows.length * 40}" role="img" aria-label="timeline">${labels}
<line x1="${x(0)}" y1="10" x2="${x(0)}" y2="${rows.length * 40 + 10}" stroke="#999" stroke-dasharray="3"/>
${marks}</svg>
<h2>Probes</h2><table><tr><th>probe</th><th>phase</th><th>kind</th><th>success</th><th></th></tr>${probeRows}</table>
<h2>Faults</h2><ul>${r.faults.map((f) => `<li>${(f.at / 1000).toFixed(1)}s ${esc(f.name)}: ${esc(f.action)} ${esc(f.error ?? f.targets.join(', '))}</li>`).join('')}</ul>
</body></html>
`;
}
