// The apiserver's moving parts: watch caches fed from the KV buckets, the request subscriptions
// (one queue group, so any number of apiservers serve at once, and a subject of its own, with a
// beat that tells clients it answers), and the watch streams (watch-streams.ts). The machine in
// apiserver.machine.ts decides when each runs.
import { nuid, type Msg, type NatsConnection } from 'nats';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { decode, encode, encodeWithStoredObject } from '../../protocol/codec.ts';
import type { Config } from '../../protocol/config.ts';
import { DEFAULT_NAMESPACE, NODE_LEASE_NAMESPACE, SYSTEM_NAMESPACE } from '../../protocol/defaults.ts';
import { AlreadyExists, BadRequest, Forbidden, Invalid, Timeout, toWire } from '../../protocol/errors.ts';
import { KINDS, kindByResource, kindInfo, type KindInfo } from '../../protocol/kinds.ts';
import { ACCESS_REVIEW_RESOURCE, API_WILDCARD, APISERVER_BEAT, APISERVER_BEAT_MS, APISERVER_QUEUE, apiInstanceWildcard, kvBucket, parseApiSubject, VERSION_RESOURCE } from '../../protocol/subjects.ts';
import { PROTOCOL_VERSION, SKIFF_VERSION, type ServerVersion } from '../../protocol/version.ts';
import type { Logger } from '../platform/log.ts';
import { AdmissionChain, namespaceLifecycle, type AdmissionPlugin } from './admission.ts';
import { parsePortRange, servicePortAllocator } from './node-ports.ts';
import { parseServiceCidr, serviceClusterIPAllocator } from './cluster-ips.ts';
import type { KubeObject, RoleBinding, Service } from '../../protocol/types.ts';
import { builtinClusterRoles } from './authorize.ts';
import { deleteObject, sweepTerminatingNamespaces } from './deletion.ts';
import { KvFeed } from './kv-feed.ts';
import { AuditLog, Authorizer } from './authorizer.ts';
import { accessOf } from './authorize.ts';
import { UsageWindow } from './usage.ts';
import { largestMachine, nodePoolAdmission } from './node-pools.ts';
import { describeAccess, describeRequester, requesterOf, type Requester } from '../../protocol/identity.ts';
import { NODE_METRICS_RESOURCE, POD_METRICS_RESOURCE } from '../../protocol/metrics.ts';
import { Store } from './store.ts';
import { outboundFor, type Outbound } from '../client/outbound.ts';
import { cacheOf, getNamespaceForAdmission, optionalString, parseFilter, requiredString, returnsObject, type ApiContext, type ApiRequest } from './request.ts';
import { bindPod, createObject, getObject, listObjects, patchObject, updateObject, updateStatus, type ObjectResult } from './verbs.ts';
import { WatchCache } from './watch-cache.ts';
import { WatchStreams } from './watch-streams.ts';

type Verb = (ctx: ApiContext, info: KindInfo, req: ApiRequest) => Promise<ObjectResult | Record<string, unknown>>;

/**
 * A verb's answer; an object as stored goes out in its stored bytes. Without `object` (the
 * client's returnObject: false), an answer of one object is only its resource version.
 */
function responseOf(result: ObjectResult | Record<string, unknown>, object: boolean): Uint8Array {
  const { stored } = result as ObjectResult;
  if (!object && (stored || (result as ObjectResult).object)) {
    const resourceVersion = stored ? String(stored.revision) : (result as ObjectResult).object!.metadata?.resourceVersion;
    return encode('response', resourceVersion === undefined ? {} : { resourceVersion });
  }
  if (stored) return encodeWithStoredObject(stored.bytes, String(stored.revision));
  return encode('response', result as Record<string, unknown>);
}

/** The version a verb's result is at, for the audit log. */
function resourceVersionOf(result: ObjectResult | Record<string, unknown>): string | undefined {
  const { stored, object } = result as ObjectResult;
  return stored ? String(stored.revision) : object?.metadata?.resourceVersion;
}

const VERBS: Record<string, Verb> = {
  create: createObject,
  get: getObject,
  list: listObjects,
  update: updateObject,
  status: updateStatus,
  bind: bindPod,
  patch: patchObject,
  delete: deleteObject,
};


export interface ApiServerOptions {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
  plugins?: AdmissionPlugin[];
}

export class ApiServer {
  ctx?: ApiContext;
  authorizer?: Authorizer;
  /** What nodes and pods use, as their kubelets last said. */
  readonly usage: UsageWindow;
  /** This apiserver's own subject token (see serveRequests). */
  readonly instance = nuid.next();
  private readonly streams: WatchStreams;
  private readonly requests: Counter<'resource' | 'verb' | 'code'>;
  private readonly latency: Histogram<'resource' | 'verb'>;
  private readonly eventsSent: Counter<'resource'>;
  private readonly fenced: Counter<'lease' | 'holder' | 'result'>;
  private readonly expired: Counter;
  private readonly out: Outbound;
  private readonly perRequest = new Map<string, { count: { inc(): void }; latency: { observe(v: number): void } }>();

  constructor(private readonly opts: ApiServerOptions) {
    this.out = outboundFor(opts.nc);
    this.usage = new UsageWindow(3 * opts.cfg.metricsPublishMs);
    this.streams = new WatchStreams(opts.nc, this.out, opts.cfg.watchHeartbeatMs);
    const registers = [opts.registry];
    this.requests = new Counter({
      name: 'skiff_apiserver_requests_total', help: 'Requests served, by resource, verb and result code.',
      labelNames: ['resource', 'verb', 'code'], registers,
    });
    this.latency = new Histogram({
      name: 'skiff_apiserver_request_duration_seconds', help: 'Time to serve a request, by resource and verb.',
      labelNames: ['resource', 'verb'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5], registers,
    });
    this.eventsSent = new Counter({
      name: 'skiff_apiserver_watch_events_sent_total', help: 'Watch events sent to watchers.', labelNames: ['resource'], registers,
    });
    this.fenced = new Counter({
      name: 'skiff_apiserver_fenced_writes_total', help: 'Leader-only writes, by lease, holder and result (accepted, or refused as stale).',
      labelNames: ['lease', 'holder', 'result'], registers,
    });
    this.expired = new Counter({ name: 'skiff_apiserver_expired_requests_total', help: 'Requests refused because their deadline had passed.', registers });
    const caches = () => this.ctx?.caches ?? new Map<string, WatchCache>();
    new Gauge({
      name: 'skiff_apiserver_watchers', help: 'Open watches, by resource.', labelNames: ['resource'], registers,
      collect() { for (const [r, c] of caches()) this.set({ resource: r }, c.watcherCount); },
    });
    new Gauge({
      name: 'skiff_apiserver_cached_objects', help: 'Objects in the watch cache, by resource.', labelNames: ['resource'], registers,
      collect() { for (const [r, c] of caches()) this.set({ resource: r }, c.size); },
    });
  }

  async openStore(): Promise<void> {
    const { nc, cfg } = this.opts;
    const store = await Store.open(nc, cfg);
    const caches = new Map(KINDS.map((k) => [k.resource, new WatchCache(k, cfg.watchCacheEvents)]));
    const ctx: ApiContext = {
      store, caches, cfg, now: () => new Date(), admission: undefined as unknown as AdmissionChain,
      onFence: (fence, accepted) => this.fenced.inc({ lease: fence.lease, holder: fence.holder, result: accepted ? 'accepted' : 'stale' }),
    };
    this.authorizer = new Authorizer(ctx, new AuditLog(cfg.auditLog, (err) => this.opts.log.warn('cannot write the audit log', { file: cfg.auditLog, err: err.message })));
    const services = () => cacheOf(ctx, kindInfo('Service')!).list({ labels: [], fields: [] }) as Service[];
    ctx.admission = new AdmissionChain({ getNamespace: (name) => getNamespaceForAdmission(ctx, name) }, [
      namespaceLifecycle,
      servicePortAllocator(parsePortRange(cfg.nodePortRange), services, store),
      serviceClusterIPAllocator(parseServiceCidr(cfg.serviceCidr), services, store),
      nodePoolAdmission(largestMachine(cfg.cloudMachine)),
      ...(this.opts.plugins ?? []),
    ]);
    this.ctx = ctx;
  }

  /**
   * Feeds every kind's cache from its bucket; calls onReady once all hold their snapshot. After a
   * reconnect each feed resumes at the revision after its cache's own, rather than waiting for
   * missed heartbeats to tell: the cache drops what it has already applied.
   */
  feedCaches(onReady: () => void, onError: (err: unknown) => void): () => void {
    const ctx = this.ctx!;
    const feeds = new Map<string, KvFeed>();
    let stopped = false;
    let pending = KINDS.length;
    const follow = async (info: KindInfo, resume: boolean) => {
      const cache = cacheOf(ctx, info);
      const before = resume ? 0 : await ctx.store.lastRevision(info);
      const feed = new KvFeed(this.opts.nc, kvBucket(info.resource), {
        fromRevision: resume ? cache.rv + 1 : 0,
        caughtUpAt: before,
        requestTimeoutMs: this.opts.cfg.requestTimeoutMs,
        retryMs: this.opts.cfg.kvFeedRetryMs,
        onEntry: (e) => cache.apply(e),
        onCaughtUp: () => {
          if (resume) return;
          cache.markReady(before);
          if (--pending === 0 && !stopped) onReady();
        },
        onError: (err) => this.opts.log.error('following the store', { resource: info.resource, err: err.message }),
        onFollowing: (following) => cache.setFollowing(following),
        readEntry: (revision) => ctx.store.entryAt(info, revision),
      });
      feeds.get(feed.bucket)?.stop();
      feeds.set(feed.bucket, feed);
      if (stopped) return feed.stop();
      await feed.start(resume);
    };
    // A first feed that cannot start fails the apiserver (back to opening the store). A resumed one
    // does not fail: after a server's death JetStream may make no consumer until it has elected
    // leaders, so it tries again, and reads the entries from the streams' leaders meanwhile
    // (kv-feed.ts), while its cache, a little behind, goes on serving: reads must not stop.
    const start = (info: KindInfo, resume: boolean): Promise<void> => follow(info, resume).catch((err) => {
      if (!stopped) onError(err);
    });
    ctx.store.onRevision((bucket, revision) => feeds.get(bucket)?.expect(revision));
    for (const info of KINDS) void start(info, false);
    void (async () => {
      for await (const s of this.opts.nc.status()) {
        if (stopped) break;
        if (s.type === 'reconnect') {
          this.opts.log.info('reconnected to NATS; resuming the watch caches');
          for (const info of KINDS) if (cacheOf(ctx, info).ready) void start(info, true);
        }
      }
    })();
    return () => {
      stopped = true;
      for (const f of feeds.values()) f.stop();
    };
  }

  /**
   * Creates what every cluster has: its namespaces, the admin, edit and view ClusterRoles, and
   * the bindings of the `admin` and `viewer` users skiff up makes credentials for.
   */
  async bootstrap(): Promise<void> {
    const ctx = this.ctx!;
    const ensure = async (obj: KubeObject) => {
      try {
        await createObject(ctx, kindInfo(obj.kind)!, { object: obj });
        this.opts.log.info('created', { kind: obj.kind, name: obj.metadata.name });
      } catch (err) {
        if (!(err instanceof AlreadyExists)) throw err;
      }
    };
    for (const name of [DEFAULT_NAMESPACE, SYSTEM_NAMESPACE, NODE_LEASE_NAMESPACE]) await ensure({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    for (const role of builtinClusterRoles(KINDS)) await ensure(role);
    for (const [user, role] of [['admin', 'admin'], ['viewer', 'view']]) {
      const binding: RoleBinding = {
        apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `skiff-${user}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ kind: 'User', name: user }],
      };
      await ensure(binding);
    }
  }

  /**
   * Serves the queue group and this apiserver's own subject, and beats every APISERVER_BEAT_MS so that
   * clients know it answers (see APISERVER_BEAT).
   */
  serveRequests(): () => void {
    const { nc } = this.opts;
    const callback = (err: Error | null, msg: Msg) => { if (!err) void this.handle(msg); };
    const subs = [nc.subscribe(API_WILDCARD, { queue: APISERVER_QUEUE, callback }), nc.subscribe(apiInstanceWildcard(this.instance), { callback })];
    const stopUsage = this.usage.subscribe(nc);
    const beat = new TextEncoder().encode(this.instance);
    const publishBeat = () => { if (!nc.isClosed()) nc.publish(APISERVER_BEAT, beat); };
    publishBeat();
    const t = setInterval(publishBeat, APISERVER_BEAT_MS);
    return () => {
      clearInterval(t);
      stopUsage();
      for (const sub of subs) sub.unsubscribe();
    };
  }

  runHeartbeats(): () => void {
    const t = setInterval(() => this.streams.heartbeat(), this.opts.cfg.watchHeartbeatMs);
    return () => clearInterval(t);
  }

  runNamespaceSweep(periodMs: number): () => void {
    const t = setInterval(() => {
      sweepTerminatingNamespaces(this.ctx!).catch((err) => this.opts.log.warn('namespace sweep failed', { err }));
    }, periodMs);
    return () => clearInterval(t);
  }

  stopWatches(): void {
    this.streams.stopAll();
  }

  get watchCount(): number {
    return this.streams.size;
  }

  private respond(msg: Msg, body: Uint8Array): void {
    if (!msg.reply) return;
    // NATS refuses a message past its max_payload; the asker would only time out.
    const tooLarge = responseTooLarge(body.length, this.opts.nc.info?.max_payload);
    this.out.publish(msg.reply, tooLarge ? encode('error', { error: toWire(tooLarge) }) : body);
  }

  async handle(msg: Msg): Promise<void> {
    const parsed = parseApiSubject(msg.subject);
    const resource = parsed?.resource ?? 'unknown';
    const verb = parsed && (parsed.verb in VERBS || parsed.verb === 'watch') ? parsed.verb : 'unknown';
    const started = performance.now();
    let code = 200;
    /** The request came after its deadline. */
    let late = false;
    try {
      if (!parsed) throw new BadRequest(`unknown subject ${JSON.stringify(msg.subject)} (expected skiff.api.<resource>.<verb>)`);
      if (parsed.resource === VERSION_RESOURCE) {
        decode(msg.data); // a client of another protocol version is told so
        this.respond(msg, encode('response', { version: this.version() }));
        return;
      }
      if (parsed.resource === NODE_METRICS_RESOURCE || parsed.resource === POD_METRICS_RESOURCE) {
        this.respond(msg, encode('response', { items: await this.usageList(parsed.resource, requesterOf(parsed.origin), decode(msg.data) as unknown as ApiRequest) }));
        return;
      }
      if (parsed.resource === ACCESS_REVIEW_RESOURCE) {
        const env = decode(msg.data);
        const result = await this.authorizer!.review(requesterOf(parsed.origin), (env as { review?: unknown }).review);
        this.respond(msg, encode('response', { result }));
        return;
      }
      const info = kindByResource(parsed.resource);
      if (!info) {
        throw new Invalid('request', [{ path: 'kind', message: `the server does not serve ${JSON.stringify(parsed.resource)} (see: skiff api-resources)` }]);
      }
      const env = decode(msg.data);
      if (env.type !== 'request') throw new BadRequest(`expected a message of type "request", got ${JSON.stringify(env.type)}`);
      const req = env as unknown as ApiRequest;
      req.origin = parsed.origin;
      // The client gave up on this attempt (we were paused, or far behind): doing it now could
      // only do harm, such as a write landing after a newer one.
      if (typeof req.deadline === 'number' && Date.now() > req.deadline) {
        this.expired.inc();
        late = true;
        throw new Timeout(`request arrived after its deadline (${Date.now() - req.deadline} ms late); not carried out`);
      }
      const requester = requesterOf(parsed.origin);
      const fn = VERBS[parsed.verb];
      if (!fn && parsed.verb !== 'watch') throw new BadRequest(`unknown verb ${JSON.stringify(parsed.verb)} (supported: ${[...Object.keys(VERBS), 'watch'].join(', ')})`);
      const authorizing = this.authorizer!.check(requester, parsed.verb, info, req);
      if (authorizing) await authorizing;
      if (parsed.verb === 'watch') {
        this.startWatch(info, req, msg);
      } else {
        const object = returnsObject(req);
        const result = await fn(this.ctx!, info, req);
        this.authorizer!.done(requester, parsed.verb, info, req, resourceVersionOf(result));
        this.respond(msg, responseOf(result, object));
      }
    } catch (err) {
      const wire = toWire(err);
      code = wire.code;
      // Requests past their deadline come in bursts after a partition heals (a node's queued
      // renewals): counted by the metric, told only at debug level.
      if (code >= 500) this.opts.log[late ? 'debug' : 'error']('request failed', { subject: msg.subject, err: wire.message });
      this.respond(msg, encode('error', { error: wire }));
    } finally {
      this.served(resource, verb, code, (performance.now() - started) / 1000);
    }
  }

  /** The window's nodes or pods, for whoever may list nodes, or pods in the namespace asked about. */
  private async usageList(resource: string, requester: Requester, req: ApiRequest): Promise<unknown[]> {
    const pods = resource === POD_METRICS_RESOURCE;
    const namespace = typeof req.namespace === 'string' && req.namespace !== '' ? req.namespace : undefined;
    const access = accessOf(kindInfo(pods ? 'Pod' : 'Node')!, 'list', { namespace });
    const refusal = await this.authorizer!.refusal(requester, access);
    if (refusal !== undefined) throw new Forbidden(`${describeRequester(requester)} may not ${describeAccess({ verb: 'list', resource, namespace })}: ${refusal}`);
    return pods ? this.usage.pods(namespace) : this.usage.nodes();
  }

  /** What `skiff version` shows of the cluster, as Kubernetes' /version. */
  private version(): ServerVersion {
    return { version: SKIFF_VERSION, protocol: PROTOCOL_VERSION, instance: this.instance, natsVersion: this.opts.nc.info?.version };
  }

  /** Counts a request. The labelled children are kept: prom-client hashes the labels on every call otherwise. */
  private served(resource: string, verb: string, code: number, seconds: number): void {
    const key = `${resource} ${verb} ${code}`;
    let m = this.perRequest.get(key);
    if (!m) {
      m = { count: this.requests.labels({ resource, verb, code: String(code) }), latency: this.latency.labels({ resource, verb }) };
      this.perRequest.set(key, m);
    }
    m.count.inc();
    m.latency.observe(seconds);
  }

  private startWatch(info: KindInfo, req: ApiRequest, msg: Msg): void {
    const deliver = requiredString(req, 'deliver', 'the subject to stream events to');
    const filter = parseFilter(info, req);
    const rvText = optionalString(req, 'resourceVersion');
    const fromRv = req.sendInitialEvents === true || rvText === undefined ? undefined : Number(rvText);
    if (fromRv !== undefined && !Number.isInteger(fromRv)) throw new BadRequest(`resourceVersion ${JSON.stringify(rvText)}: must be an integer`);
    const cache = cacheOf(this.ctx!, info);
    const begin = () => {
      // Reply first: everything after it on this connection reaches the watcher in order.
      this.respond(msg, encode('response', { resourceVersion: String(cache.rv) }));
      this.streams.open(cache, filter, fromRv, deliver, () => this.eventsSent.inc({ resource: info.resource }));
    };
    if (fromRv !== undefined && fromRv > cache.rv) {
      // Another apiserver served the client a newer revision; wait for ours to catch up.
      cache.waitUntil(fromRv, this.opts.cfg.cacheSyncTimeoutMs).then(begin, () => {
        this.respond(msg, encode('error', { error: new Timeout(`too large resource version ${fromRv}: this apiserver's cache is at ${cache.rv}`).toWire() }));
      });
      return;
    }
    begin();
  }
}

/**
 * The error to answer with instead of an answer of `bytes` that NATS, carrying at most `maxPayload`
 * bytes in a message, would refuse; none when it fits. skiff has no paged lists (limit/continue).
 */
export function responseTooLarge(bytes: number, maxPayload: number | undefined): BadRequest | undefined {
  if (!maxPayload || bytes <= maxPayload) return undefined;
  const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  return new BadRequest(`the answer is ${mb(bytes)}, more than the ${mb(maxPayload)} NATS carries in one message (max_payload in infra/nats.conf): ask for less, by namespace or with a label or field selector`);
}
