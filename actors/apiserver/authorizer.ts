// Authorizing a request before any verb runs: the facts the pure decisions (authorize.ts) need,
// read from the watch caches (the store when the cache cannot say), and every write, refusal and
// exec recorded in the audit log.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { AUDIT_FLUSH_MS } from '../../protocol/config.ts';
import { BadRequest, Forbidden } from '../../protocol/errors.ts';
import { describeAccess, describeRequester, type AccessReview, type AccessReviewResult, type Requester } from '../../protocol/identity.ts';
import { kindInfo, type KindInfo } from '../../protocol/kinds.ts';
import { isPlainObject } from '../../protocol/schema.ts';
import type { ClusterRole, Pod, RoleBinding } from '../../protocol/types.ts';
import { accessOf, decide, grantsOf, nodeRestriction, READS, type Access, type Grant, type NodeFacts, type RbacView } from './authorize.ts';
import { cacheOf, type ApiContext, type ApiRequest } from './request.ts';
import type { WatchCache } from './watch-cache.ts';

const ALL = { labels: [], fields: [] };
/** Users whose rules are kept at once; past that the set starts again. */
const GRANTS_CACHED_USERS = 1000;

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The name and namespace a request is about, wherever its verb carries them. */
function target(req: ApiRequest): { name?: string; namespace?: string } {
  const meta = isPlainObject(req.object) && isPlainObject(req.object.metadata) ? req.object.metadata : {};
  return { name: nonEmpty(req.name) ?? nonEmpty(meta.name), namespace: nonEmpty(req.namespace) ?? nonEmpty(meta.namespace) };
}

/** The fields a merge patch sets: `spec`, `status`, `metadata.labels`. */
function patchFields(patch: unknown): string[] {
  if (!isPlainObject(patch)) return [];
  return Object.entries(patch).flatMap(([k, v]) => (k === 'metadata' && isPlainObject(v) ? Object.keys(v).map((m) => `metadata.${m}`) : [k]));
}

/**
 * One JSON line per event, written in batches (a write per request would cost the apiserver's
 * hot path a system call each); what is pending is written at exit. A request only notes its
 * entry and the time: the lines are made at the flush, where the time's date and second are
 * formatted once for the entries that share them. A failing file is reported once, never fatal
 * to a request.
 */
export class AuditLog {
  private entries: Record<string, unknown>[] = [];
  private times: number[] = [];
  private timer?: NodeJS.Timeout;
  private failed = false;
  private second = NaN;
  private secondText = '';

  constructor(private readonly file: string, private readonly onError: (err: Error) => void) {
    if (!file) return;
    mkdirSync(dirname(file), { recursive: true });
    process.on('exit', () => this.flush());
  }

  /** Whether entries are kept at all (an empty file name: no audit log). */
  get enabled(): boolean {
    return this.file !== '';
  }

  record(entry: Record<string, unknown>): void {
    if (!this.file) return;
    this.entries.push(entry);
    this.times.push(Date.now());
    this.timer ??= setTimeout(() => this.flush(), AUDIT_FLUSH_MS);
  }

  /** ISO 8601 in UTC, as Date.toISOString gives it, with the part up to the second reused. */
  private timeText(ms: number): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      this.second = second;
      this.secondText = new Date(second * 1000).toISOString().slice(0, 20);
    }
    return `${this.secondText}${String(ms - second * 1000).padStart(3, '0')}Z`;
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.entries.length === 0) return;
    let text = '';
    for (let i = 0; i < this.entries.length; i++) {
      const fields = JSON.stringify(this.entries[i]);
      text += `{"time":"${this.timeText(this.times[i])}"${fields === '{}' ? '' : ','}${fields.slice(1)}\n`;
    }
    this.entries = [];
    this.times = [];
    try {
      appendFileSync(this.file, text);
      this.failed = false;
    } catch (err) {
      if (!this.failed) this.onError(err as Error);
      this.failed = true;
    }
  }
}

const RBAC_KINDS = ['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'];

export class Authorizer {
  /** Each user's rules, as of the RBAC caches' revisions in `grantsAt`. */
  private readonly grants = new Map<string, Grant[]>();
  private readonly grantsAt = RBAC_KINDS.map(() => -1);
  private readonly rbacCaches: WatchCache[];

  constructor(private readonly ctx: ApiContext, readonly audit: AuditLog) {
    this.rbacCaches = RBAC_KINDS.map((kind) => cacheOf(ctx, kindInfo(kind)!));
  }

  /** The RBAC objects as this apiserver's caches hold them. */
  rbac(): RbacView {
    const cache = (kind: string) => cacheOf(this.ctx, kindInfo(kind)!);
    return {
      clusterRole: (name) => cache('ClusterRole').getByKey(undefined, name) as ClusterRole | undefined,
      role: (namespace, name) => cache('Role').getByKey(namespace, name) as ClusterRole | undefined,
      clusterRoleBindings: () => cache('ClusterRoleBinding').list(ALL) as RoleBinding[],
      roleBindings: (namespace) => cache('RoleBinding').list({ ...ALL, namespace }) as RoleBinding[],
    };
  }

  /** May the user? From its rules, worked out again only once an RBAC object has changed. */
  private rbacDecision(user: string, access: Access): { allowed: boolean; reason: string } {
    for (let i = 0; i < this.rbacCaches.length; i++) {
      if (this.rbacCaches[i].rv === this.grantsAt[i]) continue;
      this.grantsAt[i] = this.rbacCaches[i].rv;
      this.grants.clear();
    }
    let grants = this.grants.get(user);
    if (!grants) {
      if (this.grants.size >= GRANTS_CACHED_USERS) this.grants.clear();
      grants = grantsOf(user, this.rbac());
      this.grants.set(user, grants);
    }
    return decide(user, access, grants);
  }

  /**
   * Throws Forbidden, naming the requester and the rule, unless the requester may. A user's
   * request is decided at once from the caches; only a node's may need the store.
   */
  check(requester: Requester, verb: string, info: KindInfo, req: ApiRequest): Promise<void> | undefined {
    if (requester.kind === 'master') return undefined;
    const { name, namespace } = target(req);
    const subresource = typeof req.subresource === 'string' ? req.subresource : undefined;
    const access = accessOf(info, verb, { name, namespace, subresource });
    if (requester.kind === 'user') return this.refuse(requester, access, this.userRefusal(requester.name, access));
    return this.nodeRefusal(requester.name, access, req).then((refusal) => this.refuse(requester, access, refusal));
  }

  private refuse(requester: Requester, access: Access, refusal: string | undefined): undefined {
    if (refusal === undefined) return undefined;
    this.audit.record({ identity: describeRequester(requester), verb: access.verb, resource: access.resource, namespace: access.namespace, name: access.name, result: 'Forbidden', reason: refusal });
    throw new Forbidden(`${describeRequester(requester)} may not ${describeAccess(access)}: ${refusal}`);
  }

  /** Why the requester may not; undefined if it may. */
  async refusal(requester: Requester, access: Access, req?: ApiRequest): Promise<string | undefined> {
    if (requester.kind === 'master') return undefined;
    if (requester.kind === 'user') return this.userRefusal(requester.name, access);
    return this.nodeRefusal(requester.name, access, req);
  }

  private userRefusal(user: string, access: Access): string | undefined {
    const d = this.rbacDecision(user, access);
    return d.allowed ? undefined : d.reason;
  }

  private async nodeRefusal(node: string, access: Access, req?: ApiRequest): Promise<string | undefined> {
    const rule = nodeRestriction(node, access, await this.nodeFacts(access, req));
    return rule === undefined ? undefined : `NodeRestriction: ${rule}`;
  }

  private async nodeFacts(a: Access, req?: ApiRequest): Promise<NodeFacts> {
    if (READS.has(a.verb)) return {};
    if ((a.resource === 'pods' || a.resource === 'pods/status') && a.name) {
      const pods = kindInfo('Pod')!;
      // A pod's node never changes once bound, so the cache will do for a status write; a delete
      // needs to know the pod is being deleted now, which only the store says for sure.
      let pod = a.verb === 'delete' ? undefined : cacheOf(this.ctx, pods).getByKey(a.namespace, a.name) as Pod | undefined;
      pod ??= (await this.ctx.store.get<Pod>(pods, a.name, a.namespace))?.object;
      return { podNode: pod?.spec.nodeName, podTerminating: pod?.metadata.deletionTimestamp !== undefined };
    }
    if (a.verb === 'patch') return { patchFields: patchFields(req?.patch) };
    return {};
  }

  /**
   * An access review: may `review.user` do this? Masters and nodes may ask of anyone (a kubelet
   * before logs and exec, which are audited here); a user of itself, or of others if it may do
   * everything (admin).
   */
  async review(requester: Requester, raw: unknown): Promise<AccessReviewResult> {
    const review = parseReview(raw);
    const access: Access = { verb: review.verb, resource: review.resource, group: '', namespace: review.namespace, name: review.name };
    if (requester.kind === 'user' && requester.name !== review.user) {
      const asking = this.rbacDecision(requester.name, { verb: '*', resource: '*', group: '' });
      if (!asking.allowed) throw new Forbidden(`${describeRequester(requester)} may ask only about itself, not about user ${JSON.stringify(review.user)} (that takes the admin role)`);
    }
    const d = this.rbacDecision(review.user, access);
    if (requester.kind === 'node' && (review.resource === 'pods/exec' || review.resource === 'pods/log')) {
      this.audit.record({
        identity: `user ${JSON.stringify(review.user)}`, via: describeRequester(requester), verb: review.verb, resource: review.resource,
        namespace: review.namespace, name: review.name, result: d.allowed ? 'OK' : 'Forbidden', reason: d.reason,
      });
    }
    return d;
  }

  /** A write carried out: one audit line. */
  done(requester: Requester, verb: string, info: KindInfo, req: ApiRequest, resourceVersion: string | undefined): void {
    if (READS.has(verb) || !this.audit.enabled) return;
    const { name, namespace } = target(req);
    this.audit.record({ identity: describeRequester(requester), verb, resource: info.resource, namespace, name, result: 'OK', resourceVersion });
  }
}

function parseReview(raw: unknown): AccessReview {
  if (!isPlainObject(raw)) throw new BadRequest('field review: required, { user, verb, resource, namespace?, name? }');
  for (const f of ['user', 'verb', 'resource'] as const) {
    if (typeof raw[f] !== 'string' || raw[f] === '') throw new BadRequest(`field review.${f}: required, a string`);
  }
  for (const f of ['namespace', 'name'] as const) {
    if (raw[f] !== undefined && typeof raw[f] !== 'string') throw new BadRequest(`field review.${f}: must be a string`);
  }
  return raw as unknown as AccessReview;
}
