// Receiving a stream a kubelet sends (logs -f, exec): numbered messages on our own subject,
// heartbeats answered so that the kubelet knows we are still there.
import { ErrorCode, type NatsConnection, type NatsError } from 'nats';
import { connectionInbox, connectionOrigin } from '../actors/platform/nats.ts';
import { nodeSubject } from '../protocol/subjects.ts';
import { decode, encode } from '../protocol/codec.ts';
import { fromWire, Unavailable, type WireError } from '../protocol/errors.ts';

export interface StreamMessage {
  seq: number;
  data?: Uint8Array;
  stream?: 'stdout' | 'stderr';
  exit?: number;
  end?: boolean;
  reason?: string;
  error?: string;
}

/** A node's operation subject, carrying this connection's identity for the kubelet to authorize. */
export function nodeOpSubject(nc: NatsConnection, node: string, op: string): string {
  return nodeSubject(node, op, connectionOrigin(nc));
}

/** One request to a node; the reply itself, or what the error names. */
export async function nodeRequest(nc: NatsConnection, subject: string, body: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>> {
  try {
    const msg = decode((await nc.request(subject, encode('request', body), { timeout: timeoutMs })).data);
    if (msg.type === 'error') throw fromWire(msg.error as WireError);
    return msg;
  } catch (err) {
    const code = (err as NatsError).code;
    if (code === ErrorCode.NoResponders) throw new Unavailable(`the node behind ${subject.split('.')[2]} is not answering (is its node process running?)`);
    throw err;
  }
}

/**
 * Asks a node to stream to us and hands each message to `onMessage` until it returns false, the
 * stream ends, or `stop` resolves.
 */
export async function receiveStream(
  nc: NatsConnection, subject: string, body: Record<string, unknown>, timeoutMs: number,
  onMessage: (m: StreamMessage) => boolean, stop: Promise<void>,
): Promise<void> {
  const inbox = connectionInbox(nc);
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let expected = 1;
  const sub = nc.subscribe(inbox, {
    callback: (err, msg) => {
      if (err) return;
      const m = decode(msg.data) as unknown as StreamMessage & { heartbeat?: boolean };
      if (msg.reply) msg.respond(encode('ack'));
      if (m.seq !== expected) process.stderr.write(`skiff: ${m.seq - expected} message(s) of the stream were lost\n`);
      expected = m.seq + 1;
      if (m.heartbeat) return;
      if (!onMessage(m)) done();
    },
  });
  try {
    await nodeRequest(nc, subject, { ...body, deliver: inbox }, timeoutMs);
    await Promise.race([finished, stop]);
  } finally {
    sub.unsubscribe();
  }
}
