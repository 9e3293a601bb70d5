// skiff describe: one object in readable form, with the events about it.
import { stringify } from 'yaml';
import { behaviorWithDefaults, type ScalingRules } from '../../actors/controller-manager/hpa/algorithm.ts';
import type { Event, HorizontalPodAutoscaler, KubeObject, Pod } from '../../protocol/types.ts';
import type { KindInfo } from '../../protocol/kinds.ts';
import { NAMESPACE_OPTIONS, stringOption, type Command } from '../command.ts';
import { parseTargets } from '../resources.ts';
import { age, hpaMetricFigures, podStatus, renderTable } from '../table.ts';
import { fetchObjects, scopeOf } from './get.ts';
import type { ApiClient } from '../../actors/client/client.ts';

function mapText(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {});
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join('\n' + ' '.repeat(14)) : '<none>';
}

function indent(text: string, by = 2): string {
  return text.split('\n').map((l) => (l ? ' '.repeat(by) + l : l)).join('\n');
}

function header(o: KubeObject, info: KindInfo, now: number): string[] {
  const m = o.metadata;
  const lines = [`Name:         ${m.name}`];
  if (info.namespaced) lines.push(`Namespace:    ${m.namespace}`);
  lines.push(`Labels:       ${mapText(m.labels)}`);
  const annotations = Object.fromEntries(Object.entries(m.annotations ?? {}).filter(([k]) => k !== 'skiff.io/last-applied-configuration'));
  lines.push(`Annotations:  ${mapText(annotations)}`);
  lines.push(`Created:      ${m.creationTimestamp} (${age(m.creationTimestamp, now)} ago)`);
  if (m.deletionTimestamp) lines.push(`Deleting:     since ${m.deletionTimestamp} (grace ${m.deletionGracePeriodSeconds ?? 0}s)`);
  if (m.ownerReferences?.length) lines.push(`Controlled By: ${m.ownerReferences.map((r) => `${r.kind}/${r.name}`).join(', ')}`);
  if (info.kind === 'Pod') {
    const p = o as Pod;
    lines.push(`Node:         ${p.spec.nodeName || '<none>'}`, `Status:       ${podStatus(p)}`, `IP:           ${p.status?.podIP ?? '<none>'}`);
  }
  return lines;
}

async function eventsFor(client: ApiClient, o: KubeObject, now: number): Promise<string> {
  let events: Event[] = [];
  try {
    events = (await client.list<Event>('events', { namespace: o.metadata.namespace ?? 'default', fieldSelector: `involvedObject.uid=${o.metadata.uid}` })).items;
  } catch {
    return 'Events:       <unavailable>';
  }
  if (events.length === 0) return 'Events:       <none>';
  events.sort((a, b) => Date.parse(a.lastTimestamp ?? '') - Date.parse(b.lastTimestamp ?? ''));
  const rows = events.map((e) => `  ${(e.type ?? 'Normal').padEnd(8)} ${(e.reason ?? '').padEnd(20)} ${age(e.lastTimestamp, now).padStart(5)} ${(e.count ?? 1) > 1 ? `(x${e.count}) ` : ''}${e.source?.component ?? ''}  ${e.message ?? ''}`);
  return ['Events:', '  Type     Reason               Age   From / Message', ...rows].join('\n');
}

/** A scaling direction's rules, as kubectl describes them. */
function rulesText(title: string, r: ScalingRules): string[] {
  return [
    `  ${title}:`,
    `    Stabilization Window: ${r.stabilizationWindowSeconds} seconds`,
    `    Select Policy: ${r.selectPolicy}`,
    '    Policies:',
    ...r.policies.map((p) => `      - Type: ${p.type.padEnd(7)} Value: ${String(p.value).padEnd(4)} Period: ${p.periodSeconds} seconds`),
  ];
}

/** An HPA as kubectl describes it: reference, each metric's current figure against its target, bounds, behavior (defaults filled in), replicas and conditions. */
function describeHpa(h: HorizontalPodAutoscaler): string[] {
  const figures = hpaMetricFigures(h);
  const width = Math.max(...figures.map((f) => f.name.length + 4), 'Metrics:'.length) + 2;
  const ref = h.spec.scaleTargetRef;
  const behavior = behaviorWithDefaults(h.spec.behavior as Parameters<typeof behaviorWithDefaults>[0]);
  const conditions = h.status?.conditions ?? [];
  return [
    `Reference:    ${ref.kind}/${ref.name}`,
    `${'Metrics:'.padEnd(width)}( current / target )`,
    ...figures.map((f) => `${`  ${f.name}:`.padEnd(width)}${f.current} / ${f.target}`),
    `Min replicas: ${h.spec.minReplicas ?? 1}`,
    `Max replicas: ${h.spec.maxReplicas}`,
    'Behavior:',
    ...rulesText('Scale Up', behavior.scaleUp),
    ...rulesText('Scale Down', behavior.scaleDown),
    `${ref.kind} pods: ${h.status?.currentReplicas ?? 0} current / ${h.status?.desiredReplicas ?? 0} desired`,
    ...(h.status?.lastScaleTime ? [`Last scaled:  ${h.status.lastScaleTime}`] : []),
    conditions.length
      ? `Conditions:\n${indent(renderTable(['Type', 'Status', 'Reason', 'Message'], conditions.map((c) => [c.type, c.status, c.reason ?? '', c.message ?? ''])))}`
      : 'Conditions:   <none>',
  ];
}

export function describeObject(o: KubeObject, info: KindInfo, now: number): string {
  const out = header(o, info, now);
  if (info.kind === 'HorizontalPodAutoscaler') return [...out, ...describeHpa(o as HorizontalPodAutoscaler)].join('\n');
  const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
  for (const [field, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    const title = field[0].toUpperCase() + field.slice(1);
    out.push(`${title}:`, indent(stringify(value).trimEnd()));
  }
  return out.join('\n');
}

export const describeCommand: Command = {
  name: 'describe',
  help: `Show details of objects, with the events recorded about them.

Usage:
  skiff describe KIND NAME... | KIND/NAME... | KIND [-l SELECTOR] [-n NS | -A]

Options:
  -n, --namespace NS       Look in this namespace (default: default).
  -A, --all-namespaces     Look in every namespace.
  -l, --selector SELECTOR  Describe every object matching the label selector.
  -h, --help               Show this help.

Examples:
  skiff describe pod web-7d9c-x2bqz
  skiff describe deploy/web`,
  options: { ...NAMESPACE_OPTIONS, selector: { type: 'string', short: 'l' } },
  async run(values, positionals, ctx) {
    const targets = parseTargets(positionals);
    const scope = scopeOf(values);
    const client = await ctx.client();
    const now = Date.now();
    let missing = 0;
    let first = true;
    for (const t of targets) {
      const { objs, missing: m } = await fetchObjects(client, t.info, t.names, scope, ctx);
      missing += m;
      for (const o of objs) {
        if (!first) ctx.out('\n' + '-'.repeat(60) + '\n');
        first = false;
        ctx.out(describeObject(o, t.info, now));
        ctx.out(await eventsFor(client, o, now));
      }
    }
    if (first && missing === 0) ctx.err(`No resources found${stringOption(values, 'selector') ? ' matching the selector' : ''}.`);
    return missing ? 1 : 0;
  },
};
