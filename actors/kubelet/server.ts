// What the kubelet serves over NATS on its own subjects: container logs (`skiff logs`, with -f
// streaming) and commands run in a container's environment (`skiff exec`). A stream is a series of
// numbered messages to the caller's subject, with heartbeats sent as requests: when nobody answers
// one, the caller has gone and the stream ends (a followed log stops; an exec'd command is killed).
import { ErrorCode, type Msg, type NatsConnection, type NatsError } from 'nats';
import { decode, encode } from '../../protocol/codec.ts';
import { BadRequest, Forbidden, NotFound, toWire } from '../../protocol/errors.ts';
import { describeAccess, describeRequester, requesterOf } from '../../protocol/identity.ts';
import { nodeOpSubjects, nodeSubjectOrigin } from '../../protocol/subjects.ts';
import type { Container } from '../../protocol/types.ts';
import type { Logger } from '../platform/log.ts';
import type { Kubelet, RunningPod } from './kubelet.ts';
import type { PodLookup } from './kubelet.machine.ts';
import { fileSize, instanceLog, readRange, tailLog } from './logs.ts';
import { containerCwd, containerLogDir } from './pod-fs.ts';

const MAX_LOG_BYTES = 8 * 1024 * 1024;
const CHUNK_BYTES = 256 * 1024;

interface LogRequest {
  namespace?: string;
  name?: string;
  container?: string;
  previous?: boolean;
  tail?: number;
  follow?: boolean;
  deliver?: string;
}

interface ExecRequest {
  namespace?: string;
  name?: string;
  container?: string;
  command?: string[];
  deliver?: string;
}

function findContainer(w: RunningPod, name: string | undefined, what: string): Container {
  const all = [...(w.pod.spec.initContainers ?? []), ...w.pod.spec.containers];
  if (!name) {
    if (w.pod.spec.containers.length === 1) return w.pod.spec.containers[0];
    throw new BadRequest(`a container name must be specified for ${what} of pod ${w.pod.metadata.name}, choose one of: [${w.pod.spec.containers.map((c) => c.name).join(' ')}] (use -c)`);
  }
  const c = all.find((x) => x.name === name);
  if (!c) throw new BadRequest(`container ${name} is not valid for pod ${w.pod.metadata.name} (containers: ${all.map((x) => x.name).join(', ')})`);
  return c;
}

/** A numbered stream to a caller's subject, ended when the caller stops answering heartbeats. */
class Stream {
  private seq = 0;
  private timer: NodeJS.Timeout;
  closed = false;

  constructor(private readonly nc: NatsConnection, private readonly deliver: string, heartbeatMs: number, private readonly onGone: () => void) {
    this.timer = setInterval(() => {
      this.nc.request(this.deliver, encode('stream', { seq: ++this.seq, heartbeat: true }), { timeout: heartbeatMs })
        .catch((err: NatsError) => { if (err.code === ErrorCode.NoResponders || err.code === ErrorCode.Timeout) this.close(); });
    }, heartbeatMs);
  }

  send(body: Record<string, unknown>): void {
    if (!this.closed) this.nc.publish(this.deliver, encode('stream', { seq: ++this.seq, ...body }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.onGone();
  }
}

export function serveNode(nc: NatsConnection, kubelet: Kubelet, pods: PodLookup, log: Logger): () => void {
  const worker = (req: { namespace?: string; name?: string }) => {
    if (typeof req.name !== 'string') throw new BadRequest('field name: required, the pod');
    const w = pods.find(req.namespace ?? 'default', req.name);
    if (!w) throw new NotFound(`pod ${JSON.stringify(req.name)} is not running on node ${kubelet.name}`);
    return w;
  };

  const logs = (msg: Msg) => {
    const req = decode(msg.data) as unknown as LogRequest;
    const w = worker(req);
    const c = findContainer(w, req.container, 'logs');
    const saved = w.state.containers[c.name];
    const current = saved?.restartCount ?? 0;
    const instance = req.previous ? current - 1 : current;
    if (instance < 0 || (req.previous && !saved)) throw new BadRequest(`previous terminated container ${c.name} in pod ${w.pod.metadata.name} not found`);
    const dir = containerLogDir(w.paths, c.name);
    const tail = typeof req.tail === 'number' && req.tail >= 0 ? req.tail : undefined;
    const first = tailLog(instanceLog(dir, instance), tail, MAX_LOG_BYTES);
    if (!req.follow || req.previous) {
      msg.respond(encode('response', { data: first }));
      return;
    }
    if (typeof req.deliver !== 'string') throw new BadRequest('field deliver: required with follow');
    msg.respond(encode('response', { streaming: true }));
    let file = instanceLog(dir, instance);
    let offset = fileSize(file);
    let restartCount = instance;
    let poll: NodeJS.Timeout | undefined;
    const stream = new Stream(nc, req.deliver, kubelet.cfg.streamHeartbeatMs, () => clearInterval(poll));
    for (let i = 0; i < first.length; i += CHUNK_BYTES) stream.send({ data: first.subarray(i, i + CHUNK_BYTES) });
    poll = setInterval(() => {
      const live = pods.get(w.uid);
      if (!live) {
        stream.send({ end: true, reason: 'the pod is gone' });
        return stream.close();
      }
      const now = live.state.containers[c.name]?.restartCount ?? restartCount;
      if (now !== restartCount) {
        // The container restarted: follow its new instance from the start.
        restartCount = now;
        file = instanceLog(dir, now);
        offset = 0;
      }
      const size = fileSize(file);
      if (size < offset) offset = 0; // rotated
      while (size > offset) {
        const chunk = readRange(file, offset, Math.min(CHUNK_BYTES, size - offset));
        if (chunk.length === 0) break;
        offset += chunk.length;
        stream.send({ data: chunk });
      }
    }, kubelet.cfg.logFollowPollMs);
  };

  const exec = (msg: Msg) => {
    const req = decode(msg.data) as unknown as ExecRequest;
    const w = worker(req);
    const c = findContainer(w, req.container, 'exec');
    if (!Array.isArray(req.command) || req.command.length === 0 || !req.command.every((a) => typeof a === 'string')) {
      throw new BadRequest('field command: required, the command and its arguments');
    }
    if (typeof req.deliver !== 'string') throw new BadRequest('field deliver: required');
    msg.respond(encode('response', { started: true }));
    const abort = new AbortController();
    const stream = new Stream(nc, req.deliver, kubelet.cfg.streamHeartbeatMs, () => abort.abort());
    kubelet.exec({ argv: req.command, env: kubelet.envFor(w, c), cwd: containerCwd(w.paths, c) }, (s, data) => stream.send({ stream: s, data }), abort.signal)
      .then((code) => stream.send({ exit: code }), (err: Error) => stream.send({ exit: 127, error: err.message }))
      .finally(() => stream.close());
  };

  // A user's request is run only once the apiserver says the user may (the request's subject ends
  // in the user's token, which only that user may publish; none: a master's, or no authentication).
  const authorize = async (msg: Msg, access: { verb: string; resource: string }) => {
    const requester = requesterOf(nodeSubjectOrigin(msg.subject));
    if (requester.kind !== 'user') return;
    const req = decode(msg.data) as { namespace?: unknown; name?: unknown };
    const namespace = typeof req.namespace === 'string' ? req.namespace : undefined;
    const name = typeof req.name === 'string' ? req.name : undefined;
    const d = await kubelet.deps.client.reviewAccess({ user: requester.name, ...access, namespace, name });
    if (!d.allowed) throw new Forbidden(`${describeRequester(requester)} may not ${describeAccess({ ...access, namespace, name })}: ${d.reason}`);
  };
  const handle = (fn: (m: Msg) => void, access: { verb: string; resource: string }) => async (err: Error | null, msg: Msg) => {
    if (err) return;
    try {
      await authorize(msg, access);
      fn(msg);
    } catch (e) {
      if (toWire(e).code >= 500) log.error('node request failed', { subject: msg.subject, err: e });
      msg.respond(encode('error', { error: toWire(e) }));
    }
  };
  const serve = (op: string, fn: (m: Msg) => void, access: { verb: string; resource: string }) =>
    nodeOpSubjects(kubelet.name, op).map((subject) => nc.subscribe(subject, { callback: handle(fn, access) }));
  const subs = [
    ...serve('logs', logs, { verb: 'get', resource: 'pods/log' }),
    ...serve('exec', exec, { verb: 'create', resource: 'pods/exec' }),
  ];
  return () => subs.forEach((s) => s.unsubscribe());
}
