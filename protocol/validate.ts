// Validation: the structural schema check, then Kubernetes' semantic rules, then defaults. Every
// problem comes back with its field path so a user can fix a manifest in one pass.
import type { FieldError } from './errors.ts';
import { Invalid } from './errors.ts';
import { KINDS, kindInfo, type KindInfo } from './kinds.ts';
import { check, isPlainObject, joinPath } from './schema.ts';
import { applyDefaults, hasNodePorts } from './defaults.ts';
import { dns1035Label, dns1123Label, dns1123Subdomain, labelValue, qualifiedName } from './names.ts';
import { parseQuantity } from './quantity.ts';
import { fromLabelSelector, matches, validateLabelSelectorRequirement } from './selector.ts';
import { encodeObject } from './codec.ts';
import type {
  Container, Deployment, HorizontalPodAutoscaler, KubeObject, LabelSelector, NodePool, ObjectMeta, PodSpec, Probe, ReplicaSet, Service,
} from './types.ts';
import { DurationError, parseDuration } from './duration.ts';
import { cpuMillis, memoryBytes } from './quantity.ts';

export const MAX_OBJECT_BYTES = 1024 * 1024;
const MAX_ANNOTATION_BYTES = 256 * 1024;
const SUPPORTED_RESOURCES = ['cpu', 'memory'];
const FIELD_REFS = ['metadata.name', 'metadata.namespace', 'status.podIP', 'status.hostIP', 'spec.nodeName'];
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const PERCENT = /^\d+%$/;
/** A map, without narrowing away the declared type (which the structural check has vouched for). */
const isMap = (v: unknown): boolean => isPlainObject(v);

export interface ValidateOptions {
  /** Unknown fields are errors (default true). */
  strict?: boolean;
  /** The object is being created: a name may come from generateName. */
  creating?: boolean;
  /** Check the encoded size here (default true); the apiserver checks the bytes it stores instead. */
  checkSize?: boolean;
}

export interface Validated {
  info: KindInfo;
  object: KubeObject;
}

type Errs = FieldError[];
const push = (errs: Errs, path: string, messages: string[]) => messages.forEach((message) => errs.push({ path, message }));

function validateName(info: KindInfo, name: string, path: string, errs: Errs): void {
  const rule = info.nameRule === 'label' ? dns1123Label : info.nameRule === 'dns1035' ? dns1035Label : dns1123Subdomain;
  const msgs = rule(name);
  if (msgs.length && info.kind === 'Node') msgs.push('node names become NATS subject tokens, so they may not contain dots');
  push(errs, path, msgs);
}

function validateMeta(info: KindInfo, meta: ObjectMeta, errs: Errs, opts: ValidateOptions): void {
  if (typeof meta.name === 'string' && meta.name !== '') validateName(info, meta.name, 'metadata.name', errs);
  else if (!(opts.creating && typeof meta.generateName === 'string' && meta.generateName !== '')) {
    errs.push({ path: 'metadata.name', message: 'required (set metadata.name, or metadata.generateName to get a generated one)' });
  }
  if (typeof meta.generateName === 'string' && meta.generateName !== '' && !meta.name) {
    push(errs, 'metadata.generateName', dns1123Subdomain(`${meta.generateName.replace(/[-.]$/, '')}x`));
  }
  if (typeof meta.namespace === 'string' && info.namespaced) push(errs, 'metadata.namespace', dns1123Label(meta.namespace));
  validateLabels(meta.labels, 'metadata.labels', errs);
  if (isPlainObject(meta.annotations)) {
    let size = 0;
    for (const [k, v] of Object.entries(meta.annotations)) {
      push(errs, `metadata.annotations[${k}]`, qualifiedName(k));
      size += k.length + String(v).length;
    }
    if (size > MAX_ANNOTATION_BYTES) errs.push({ path: 'metadata.annotations', message: `total size ${size} bytes is over the 256 KiB limit` });
  }
}

export function validateLabels(labels: unknown, path: string, errs: Errs): void {
  if (!isPlainObject(labels)) return;
  for (const [k, v] of Object.entries(labels)) {
    push(errs, `${path}[${k}]`, qualifiedName(k));
    if (typeof v === 'string') push(errs, `${path}[${k}]`, labelValue(v));
  }
}

function validateProbe(probe: Probe | undefined, c: Container, path: string, errs: Errs): void {
  if (!probe || !isMap(probe)) return;
  const handlers = ['httpGet', 'tcpSocket', 'exec'].filter((h) => (probe as Record<string, unknown>)[h] !== undefined);
  if (handlers.length !== 1) {
    errs.push({ path, message: `must specify exactly one of httpGet, tcpSocket or exec (found ${handlers.length ? handlers.join(', ') : 'none'})` });
  }
  for (const h of ['httpGet', 'tcpSocket'] as const) {
    const port = probe[h]?.port;
    if (typeof port === 'string') {
      if (!(c.ports ?? []).some((p) => p.name === port)) {
        errs.push({ path: `${path}.${h}.port`, message: `no container port is named ${JSON.stringify(port)} (name one under ports, or use a number)` });
      }
    } else if (typeof port === 'number' && (port < 1 || port > 65535)) {
      errs.push({ path: `${path}.${h}.port`, message: `must be between 1 and 65535 (got ${port})` });
    }
  }
  if (probe.exec && Array.isArray(probe.exec.command) && probe.exec.command.length === 0) {
    errs.push({ path: `${path}.exec.command`, message: 'must not be empty' });
  }
}

function validateContainer(c: Container, path: string, volumes: Set<string>, errs: Errs): void {
  if (typeof c.name === 'string') push(errs, `${path}.name`, dns1123Label(c.name));
  if (Array.isArray(c.command) && c.command.length === 0) {
    errs.push({ path: `${path}.command`, message: 'must not be empty (a process needs a command; image alone cannot run)' });
  }
  const portNames = new Set<string>();
  (c.ports ?? []).forEach((p, i) => {
    if (typeof p.name !== 'string') return;
    const pp = `${path}.ports[${i}].name`;
    if (p.name.length > 15 || !PORT_NAME.test(p.name) || !/[a-z]/.test(p.name)) {
      errs.push({ path: pp, message: `${JSON.stringify(p.name)} must be at most 15 lower case alphanumerics or '-', with at least one letter (e.g. 'http')` });
    }
    if (portNames.has(p.name)) errs.push({ path: pp, message: `duplicate port name ${JSON.stringify(p.name)}` });
    portNames.add(p.name);
  });
  (c.env ?? []).forEach((e, i) => {
    const ep = `${path}.env[${i}]`;
    if (typeof e.name === 'string' && !ENV_NAME.test(e.name)) {
      errs.push({ path: `${ep}.name`, message: `${JSON.stringify(e.name)} is not a valid environment variable name (letters, digits, '_', '-' or '.', not starting with a digit)` });
    }
    if (e.value !== undefined && e.valueFrom !== undefined) errs.push({ path: ep, message: 'may not have both value and valueFrom' });
    const ref = e.valueFrom?.fieldRef?.fieldPath;
    if (typeof ref === 'string' && !FIELD_REFS.includes(ref)) {
      errs.push({ path: `${ep}.valueFrom.fieldRef.fieldPath`, message: `unsupported field ${JSON.stringify(ref)} (supported: ${FIELD_REFS.join(', ')})` });
    }
  });
  const res = c.resources;
  for (const kind of ['requests', 'limits'] as const) {
    for (const [name, q] of Object.entries(res?.[kind] ?? {})) {
      const rp = `${path}.resources.${kind}[${name}]`;
      if (!SUPPORTED_RESOURCES.includes(name)) {
        errs.push({ path: rp, message: `unsupported resource ${JSON.stringify(name)} (supported: ${SUPPORTED_RESOURCES.join(', ')})` });
        continue;
      }
      try {
        if (parseQuantity(q) < 0n) errs.push({ path: rp, message: 'must not be negative' });
      } catch {
        /* reported by the structural check */
      }
    }
  }
  for (const name of SUPPORTED_RESOURCES) {
    const req = res?.requests?.[name];
    const lim = res?.limits?.[name];
    try {
      if (req !== undefined && lim !== undefined && parseQuantity(req) > parseQuantity(lim)) {
        errs.push({ path: `${path}.resources.requests[${name}]`, message: `${req} must be less than or equal to the ${name} limit ${lim}` });
      }
    } catch {
      /* reported by the structural check */
    }
  }
  (c.volumeMounts ?? []).forEach((m, i) => {
    if (typeof m.name === 'string' && !volumes.has(m.name)) {
      errs.push({ path: `${path}.volumeMounts[${i}].name`, message: `no volume is named ${JSON.stringify(m.name)} in spec.volumes` });
    }
  });
  validateProbe(c.livenessProbe, c, `${path}.livenessProbe`, errs);
  validateProbe(c.readinessProbe, c, `${path}.readinessProbe`, errs);
  validateProbe(c.startupProbe, c, `${path}.startupProbe`, errs);
}

export function validatePodSpec(spec: PodSpec, path: string, errs: Errs): void {
  if (!isMap(spec)) return;
  const volumes = new Set<string>();
  (spec.volumes ?? []).forEach((v, i) => {
    const vp = `${path}.volumes[${i}]`;
    if (typeof v.name !== 'string') return;
    push(errs, `${vp}.name`, dns1123Label(v.name));
    if (volumes.has(v.name)) errs.push({ path: `${vp}.name`, message: `duplicate volume name ${JSON.stringify(v.name)}` });
    volumes.add(v.name);
    const sources = ['emptyDir', 'hostPath'].filter((s) => (v as unknown as Record<string, unknown>)[s] !== undefined);
    if (sources.length !== 1) errs.push({ path: vp, message: `must specify exactly one of emptyDir or hostPath (found ${sources.length ? sources.join(', ') : 'none'})` });
    if (typeof v.hostPath?.path === 'string' && !v.hostPath.path.startsWith('/')) {
      errs.push({ path: `${vp}.hostPath.path`, message: `${JSON.stringify(v.hostPath.path)} must be an absolute path` });
    }
  });
  if (Array.isArray(spec.containers) && spec.containers.length === 0) {
    errs.push({ path: `${path}.containers`, message: 'must have at least one container' });
  }
  const names = new Set<string>();
  for (const group of ['initContainers', 'containers'] as const) {
    (spec[group] ?? []).forEach((c, i) => {
      if (!isMap(c)) return;
      const cp = joinPath(`${path}.${group}`, i);
      if (typeof c.name === 'string') {
        if (names.has(c.name)) errs.push({ path: `${cp}.name`, message: `duplicate container name ${JSON.stringify(c.name)}` });
        names.add(c.name);
      }
      validateContainer(c, cp, volumes, errs);
    });
  }
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') push(errs, `${path}.nodeName`, dns1123Label(spec.nodeName));
  validateLabels(spec.nodeSelector, `${path}.nodeSelector`, errs);
  (spec.tolerations ?? []).forEach((t, i) => {
    if (t.operator === 'Exists' && t.value) errs.push({ path: `${path}.tolerations[${i}].value`, message: "must be empty when operator is 'Exists'" });
    if (t.tolerationSeconds !== undefined && t.effect !== 'NoExecute') {
      errs.push({ path: `${path}.tolerations[${i}].tolerationSeconds`, message: "only applies with effect 'NoExecute'" });
    }
  });
}

function validateSelector(sel: LabelSelector | undefined, templateLabels: Record<string, string> | undefined, path: string, errs: Errs): void {
  if (!sel || !isMap(sel)) return;
  (sel.matchExpressions ?? []).forEach((r, i) => push(errs, `${path}.selector.matchExpressions[${i}]`, validateLabelSelectorRequirement(r)));
  validateLabels(sel.matchLabels, `${path}.selector.matchLabels`, errs);
  const reqs = fromLabelSelector(sel);
  if (reqs.length === 0) {
    errs.push({ path: `${path}.selector`, message: 'must not be empty (an empty selector would adopt every pod in the namespace)' });
  } else if (!matches(reqs, templateLabels)) {
    errs.push({ path: `${path}.template.metadata.labels`, message: 'must match the selector (give the template the labels the selector asks for)' });
  }
}

function validateTemplate(spec: ReplicaSet['spec'], path: string, errs: Errs): void {
  if (!isMap(spec)) return;
  validateSelector(spec.selector, spec.template?.metadata?.labels, path, errs);
  if (!isMap(spec.template)) return;
  validateLabels(spec.template.metadata?.labels, `${path}.template.metadata.labels`, errs);
  validatePodSpec(spec.template.spec, `${path}.template.spec`, errs);
  const rp = spec.template.spec?.restartPolicy;
  if (rp !== undefined && rp !== 'Always') {
    errs.push({ path: `${path}.template.spec.restartPolicy`, message: `unsupported value ${JSON.stringify(rp)}: a controller's pods must use "Always"` });
  }
}

function validateIntOrPercent(v: unknown, path: string, errs: Errs): void {
  if (typeof v === 'number' && v < 0) errs.push({ path, message: 'must not be negative' });
  if (typeof v === 'string' && !PERCENT.test(v)) errs.push({ path, message: `${JSON.stringify(v)} must be an integer or a percentage such as "25%"` });
}

function validateKind(info: KindInfo, o: KubeObject, errs: Errs): void {
  switch (info.kind) {
    case 'Pod':
      validatePodSpec((o as { spec: PodSpec }).spec, 'spec', errs);
      break;
    case 'ReplicaSet':
      validateTemplate((o as ReplicaSet).spec, 'spec', errs);
      break;
    case 'Deployment': {
      const d = o as Deployment;
      validateTemplate(d.spec, 'spec', errs);
      const ru = d.spec?.strategy?.rollingUpdate;
      if (ru) {
        validateIntOrPercent(ru.maxSurge, 'spec.strategy.rollingUpdate.maxSurge', errs);
        validateIntOrPercent(ru.maxUnavailable, 'spec.strategy.rollingUpdate.maxUnavailable', errs);
        const zero = (v: unknown) => v === 0 || v === '0%';
        if (zero(ru.maxSurge) && zero(ru.maxUnavailable)) {
          errs.push({ path: 'spec.strategy.rollingUpdate.maxUnavailable', message: 'may not be 0 when maxSurge is 0 (the rollout could never progress)' });
        }
      }
      if (d.spec?.strategy?.type === 'Recreate' && ru) {
        errs.push({ path: 'spec.strategy.rollingUpdate', message: "may not be set when strategy type is 'Recreate'" });
      }
      break;
    }
    case 'Service': {
      const s = o as Service;
      const ports = s.spec?.ports ?? [];
      if (Array.isArray(ports) && ports.length === 0) errs.push({ path: 'spec.ports', message: 'must have at least one port' });
      const names = new Set<string>();
      ports.forEach((p, i) => {
        const pp = `spec.ports[${i}]`;
        if (ports.length > 1 && !p.name) errs.push({ path: `${pp}.name`, message: 'required when a service has more than one port' });
        if (p.name) {
          push(errs, `${pp}.name`, dns1123Label(p.name));
          if (names.has(p.name)) errs.push({ path: `${pp}.name`, message: `duplicate port name ${JSON.stringify(p.name)}` });
          names.add(p.name);
        }
        if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) {
          errs.push({ path: `${pp}.targetPort`, message: `must be between 1 and 65535 (got ${p.targetPort})` });
        }
        if (p.nodePort && !hasNodePorts(s)) errs.push({ path: `${pp}.nodePort`, message: 'may only be set when type is NodePort or LoadBalancer' });
      });
      validateLabels(s.spec?.selector, 'spec.selector', errs);
      break;
    }
    case 'NodePool': {
      const p = o as NodePool;
      if (!p.spec) break;
      if (typeof p.spec.minNodes === 'number' && typeof p.spec.maxNodes === 'number' && p.spec.minNodes > p.spec.maxNodes) {
        errs.push({ path: 'spec.minNodes', message: `must be less than or equal to maxNodes (${p.spec.maxNodes})` });
      }
      if (typeof p.spec.consolidateAfter === 'string') {
        try {
          parseDuration(p.spec.consolidateAfter, 'spec.consolidateAfter');
        } catch (err) {
          if (!(err instanceof DurationError)) throw err;
          errs.push({ path: 'spec.consolidateAfter', message: `${JSON.stringify(p.spec.consolidateAfter)} is not a duration: use one such as 30s, 5m or 1m30s` });
        }
      }
      validateLabels(p.spec.template?.labels, 'spec.template.labels', errs);
      const capacity = p.spec.template?.capacity;
      if (capacity?.cpu !== undefined && cpuMillis(capacity.cpu) <= 0) errs.push({ path: 'spec.template.capacity.cpu', message: 'must be more than 0' });
      if (capacity?.memory !== undefined && memoryBytes(capacity.memory) <= 0) errs.push({ path: 'spec.template.capacity.memory', message: 'must be more than 0' });
      break;
    }
    case 'HorizontalPodAutoscaler': {
      const h = o as HorizontalPodAutoscaler;
      if (h.spec && typeof h.spec.minReplicas === 'number' && typeof h.spec.maxReplicas === 'number' && h.spec.minReplicas > h.spec.maxReplicas) {
        errs.push({ path: 'spec.minReplicas', message: `must be less than or equal to maxReplicas (${h.spec.maxReplicas})` });
      }
      break;
    }
  }
}

/**
 * Checks a manifest or a request body. Throws Invalid with every problem; returns the object,
 * defaulted, with nulls (and, when not strict, unknown fields) removed.
 */
export function validateObject(input: unknown, opts: ValidateOptions = {}): Validated {
  const errs: Errs = [];
  if (!isPlainObject(input)) throw new Invalid('object', [{ path: '', message: 'must be a map with apiVersion, kind and metadata' }]);
  const kind = input.kind;
  const info = typeof kind === 'string' ? kindInfo(kind) : undefined;
  if (!info) {
    const supported = KINDS.map((k) => k.kind).join(', ');
    const message = typeof kind === 'string' ? `unsupported kind ${JSON.stringify(kind)} (supported: ${supported})` : `required (one of ${supported})`;
    throw new Invalid('object', [{ path: 'kind', message }]);
  }
  if (input.apiVersion !== undefined && typeof input.apiVersion === 'string' && input.apiVersion !== info.apiVersion
      && !(info.apiVersionAliases ?? []).includes(input.apiVersion)) {
    errs.push({ path: 'apiVersion', message: `${info.kind} is served as ${JSON.stringify(info.apiVersion)}, not ${JSON.stringify(input.apiVersion)}` });
  }
  const checked = check(input, info.schema, '', errs, { strict: opts.strict ?? true }) as KubeObject;
  const what = `${info.kind} ${JSON.stringify((checked.metadata as ObjectMeta | undefined)?.name ?? (checked.metadata as ObjectMeta | undefined)?.generateName ?? '')}`;
  if (isPlainObject(checked.metadata)) validateMeta(info, checked.metadata, errs, opts);
  validateKind(info, checked, errs);
  if (errs.length) throw new Invalid(what, dedupe(errs));
  const object = applyDefaults(info, checked);
  if (opts.checkSize !== false) checkSize(what, encodeObject(object).length);
  return { info, object };
}

export function checkSize(what: string, bytes: number): void {
  if (bytes > MAX_OBJECT_BYTES) {
    throw new Invalid(what, [{ path: '', message: `the object is ${(bytes / 1048576).toFixed(2)} MiB, over the 1 MiB limit (move bulk data out of the manifest)` }]);
  }
}

function dedupe(errs: Errs): Errs {
  const seen = new Set<string>();
  return errs.filter((e) => {
    const k = `${e.path}\u0000${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
