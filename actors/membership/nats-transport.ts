// SWIM over NATS: each member subscribes to its own subject, and every message that wants an
// answer names a numbered reply subject of the sender's. When nobody subscribes to the
// destination, the NATS server says so at once ("no responders", status 503) on that reply
// subject, which is how a prober learns that a process holds no connection any more: the
// datagram world's silence becomes an answer.
import type { Msg, NatsConnection, Subscription } from 'nats';
import { Counter, type Registry } from 'prom-client';
import {
  GOSSIP_JOIN, GOSSIP_JOIN_QUEUE, gossipReplySubject, gossipReplyWildcard, gossipSubject, parseGossipReplySeq,
} from '../../protocol/subjects.ts';
import type { Logger } from '../platform/log.ts';
import { decodeMessage, encodeMessage, type Message } from './messages.ts';
import type { Swim, Transport } from './swim.ts';

const NO_RESPONDERS = 503;

export interface TransportMetrics {
  bytes: Counter;
  received: Counter;
  malformed: Counter;
}

export function transportMetrics(registry: Registry): TransportMetrics {
  const registers = [registry];
  return {
    bytes: new Counter({ name: 'skiff_gossip_sent_bytes_total', help: 'Bytes of SWIM messages sent.', registers }),
    received: new Counter({ name: 'skiff_gossip_messages_received_total', help: 'SWIM messages received.', registers }),
    malformed: new Counter({ name: 'skiff_gossip_malformed_messages_total', help: 'SWIM messages that could not be decoded, dropped.', registers }),
  };
}

export class NatsTransport implements Transport<string> {
  private subs: Subscription[] = [];
  private swim?: Swim<string>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly self: string,
    private readonly seeds: string[],
    private readonly log: Logger,
    private readonly metrics?: TransportMetrics,
  ) {}

  /** Starts delivering to `swim`: our subject, our reply subjects, and the join group. */
  attach(swim: Swim<string>): void {
    this.swim = swim;
    this.subs = [
      this.nc.subscribe(gossipSubject(this.self), { callback: (err, m) => { if (!err) this.inbound(m); } }),
      this.nc.subscribe(gossipReplyWildcard(this.self), { callback: (err, m) => { if (!err) this.answered(m); } }),
      this.nc.subscribe(GOSSIP_JOIN, { queue: GOSSIP_JOIN_QUEUE, callback: (err, m) => { if (!err) this.inbound(m); } }),
    ];
  }

  detach(): void {
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  send(to: string, msg: Message, replySeq?: number): void {
    this.publish(gossipSubject(to), msg, replySeq);
  }

  reply(to: string, msg: Message): void {
    this.publish(to, msg);
  }

  join(msg: Message, replySeq: number): void {
    const seeds = this.seeds.filter((s) => s !== this.self);
    const seed = seeds[Math.floor(Math.random() * seeds.length)];
    this.publish(seed ? gossipSubject(seed) : GOSSIP_JOIN, msg, replySeq);
  }

  private publish(subject: string, msg: Message, replySeq?: number): void {
    const data = encodeMessage(msg);
    this.metrics?.bytes.inc(data.length);
    try {
      this.nc.publish(subject, data, replySeq === undefined ? undefined : { reply: gossipReplySubject(this.self, replySeq) });
    } catch (err) {
      // A closed or draining connection: the message is lost, as a datagram would be.
      this.log.debug('gossip publish failed', { subject, err });
    }
  }

  private inbound(m: Msg): void {
    const msg = this.decode(m);
    if (msg) this.swim?.receive(msg, m.reply || undefined);
  }

  private answered(m: Msg): void {
    const seq = parseGossipReplySeq(m.subject);
    if (!Number.isInteger(seq)) return;
    if (m.headers?.code === NO_RESPONDERS) {
      this.swim?.unreachable(seq);
      return;
    }
    const msg = this.decode(m);
    if (msg) this.swim?.replied(seq, msg);
  }

  private decode(m: Msg): Message | undefined {
    this.metrics?.received.inc();
    try {
      return decodeMessage(m.data);
    } catch (err) {
      this.metrics?.malformed.inc();
      this.log.warn('dropped a malformed gossip message', { subject: m.subject, err });
      return undefined;
    }
  }
}
