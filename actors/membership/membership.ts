// A process's membership: the SWIM member on NATS, its metrics, the `skiff get members` query,
// and the changes the rest of the process (node lifecycle, kube-proxy) acts on.
import type { NatsConnection, Subscription } from 'nats';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { encode } from '../../protocol/codec.ts';
import type { Config } from '../../protocol/config.ts';
import { GOSSIP_MEMBERS_QUEUE, gossipChangesSubject, gossipMembersSubject } from '../../protocol/subjects.ts';
import type { Logger } from '../platform/log.ts';
import { encodeMemberChange } from './messages.ts';
import { NatsTransport, transportMetrics } from './nats-transport.ts';
import type { Member, MemberRole, MemberState } from './state.ts';
import { Swim, type Clock } from './swim.ts';
import { swimConfig } from './timing.ts';

export type MembershipListener = (member: Member, previous: Member | undefined) => void;

/** What `skiff get members` receives. */
export interface MembersView {
  self: string;
  /** Lifeguard's local health score: 0 is healthy. */
  health: number;
  members: Member[];
}

/**
 * Wall time, and timers that never fire before `ms` have passed: setTimeout counts from the event
 * loop's cached time, which can be a millisecond behind, so a timer that wakes early waits out
 * the rest (a suspicion or unreachable deadline must not be judged before it passes). Measured on
 * the monotonic clock: a wall clock stepped back must not hold a timer for the size of the step.
 */
export const realClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const due = performance.now() + ms;
    const fire = () => {
      const left = due - performance.now();
      if (left > 0) t = setTimeout(fire, Math.ceil(left));
      else fn();
    };
    let t = setTimeout(fire, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export interface MembershipOptions {
  nc: NatsConnection;
  name: string;
  role: MemberRole;
  cfg: Config;
  log: Logger;
  registry?: Registry;
}

export class Membership {
  readonly swim: Swim<string>;
  private readonly transport: NatsTransport;
  private readonly listeners = new Set<MembershipListener>();
  /** When each member now suspected was first seen so, by this process's clock. */
  private readonly suspectedAt = new Map<string, number>();
  private suspicionToDead?: Histogram;
  private subs: Subscription[] = [];
  private started = false;
  private onJoined?: () => void;

  constructor(private readonly opts: MembershipOptions) {
    const { nc, name, role, cfg, log, registry } = opts;
    const seeds = cfg.gossipSeeds.split(',').map((s) => s.trim()).filter(Boolean);
    this.transport = new NatsTransport(nc, name, seeds, log, registry ? transportMetrics(registry) : undefined);
    const changes = registry ? new Counter({ name: 'skiff_gossip_member_changes_total', help: 'Changes in this member\'s view, by new state.', labelNames: ['state'], registers: [registry] }) : undefined;
    this.swim = new Swim(name, role, swimConfig(cfg), this.transport, realClock, Math.random, {
      change: (member, previous) => {
        changes?.inc({ state: member.state });
        this.changed(member, previous);
      },
      joined: () => this.onJoined?.(),
    });
    if (registry) this.registerMetrics(registry);
  }

  get name(): string {
    return this.opts.name;
  }

  /** How often a member probes one other. */
  get periodMs(): number {
    return this.opts.cfg.gossipPeriodMs;
  }

  /** Joins the group; `joined` is called once a member has answered. */
  start(joined?: () => void): void {
    if (this.started) return;
    this.started = true;
    this.onJoined = joined;
    this.transport.attach(this.swim);
    const answer = (_err: unknown, m: { respond(data: Uint8Array): boolean }) => {
      m.respond(encode('members', { ...this.view() }));
    };
    this.subs = [
      this.opts.nc.subscribe(gossipMembersSubject(this.opts.name), { callback: answer }),
      this.opts.nc.subscribe(gossipMembersSubject(), { queue: GOSSIP_MEMBERS_QUEUE, callback: answer }),
    ];
    this.swim.start();
    this.swim.join();
    this.opts.log.info('joining the gossip group', { member: this.opts.name });
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.swim.stop();
    this.transport.detach();
    for (const s of this.subs) s.unsubscribe();
    this.subs = [];
  }

  /** Tells the group we are leaving (SIGTERM), and waits until NATS has taken the messages. */
  async leave(): Promise<void> {
    this.swim.leave();
    this.stop();
    await this.opts.nc.flush().catch(() => {});
    this.opts.log.info('left the gossip group', { member: this.opts.name });
  }

  networkChanged(up: boolean): void {
    this.swim.networkChanged(up);
    this.opts.log.info(up ? 'NATS link back: accusing no one until it settles' : 'NATS link down (disconnected, or its server unanswering): accusing no one meanwhile');
  }

  /** A member's state as this process sees it; undefined for one it has never heard of. */
  state(name: string): MemberState | undefined {
    return this.swim.member(name)?.state;
  }

  /** Whether a dead member died by a suspicion that ran out, rather than by nobody being at its address. */
  diedBySuspicion(name: string): boolean {
    const m = this.swim.member(name);
    return m?.state === 'dead' && !m.unreachable;
  }

  view(): MembersView {
    return { self: this.opts.name, health: this.swim.awareness.score, members: this.swim.members() };
  }

  onChange(listener: MembershipListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(member: Member, previous: Member | undefined): void {
    if (member.state === 'suspect') {
      if (!this.suspectedAt.has(member.name)) this.suspectedAt.set(member.name, Date.now());
    } else {
      const since = this.suspectedAt.get(member.name);
      this.suspectedAt.delete(member.name);
      if (member.state === 'dead' && since !== undefined) this.suspicionToDead?.observe((Date.now() - since) / 1000);
    }
    // A first sighting is routine (a cluster of n members logs n² of them); changes are not.
    const level = member.state === 'dead' ? 'warn' : previous ? 'info' : 'debug';
    this.opts.log[level](`member is ${member.state}`, { member: member.name, incarnation: member.incarnation, was: previous?.state });
    try {
      this.opts.nc.publish(gossipChangesSubject(this.opts.name), encodeMemberChange({ observer: this.opts.name, member, previous: previous?.state, at: Date.now() }));
    } catch {
      // Closed connection: the change is still acted on here.
    }
    for (const l of this.listeners) {
      try {
        l(member, previous);
      } catch (err) {
        this.opts.log.warn('a membership listener failed', { err });
      }
    }
  }

  private registerMetrics(registry: Registry): void {
    const registers = [registry];
    const swim = this.swim;
    new Gauge({
      name: 'skiff_gossip_members', help: 'Members in this member\'s view, by state.', labelNames: ['state'], registers,
      collect() {
        const counts: Record<MemberState, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
        for (const m of swim.members()) counts[m.state]++;
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({ name: 'skiff_gossip_health_score', help: 'Lifeguard local health score (0 healthy; probes slow down as it rises).', registers, collect() { this.set(swim.awareness.score); } });
    new Gauge({ name: 'skiff_gossip_incarnation', help: 'This member\'s incarnation: how often it has refuted a suspicion.', registers, collect() { this.set(swim.self.incarnation); } });
    const fromStats = (name: string, help: string, read: () => number) => new Counter({
      name, help, registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
    new Counter({
      name: 'skiff_gossip_messages_sent_total', help: 'SWIM messages sent, by type.', labelNames: ['type'], registers,
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(swim.stats.sent)) this.inc({ type }, n);
      },
    });
    fromStats('skiff_gossip_probes_total', 'Probes sent (one per protocol period).', () => swim.stats.probes);
    fromStats('skiff_gossip_failed_probes_total', 'Probes with no ack, direct or indirect.', () => swim.stats.failedProbes);
    fromStats('skiff_gossip_suspicions_total', 'Members this member suspected from its own probes.', () => swim.stats.suspicions);
    fromStats('skiff_gossip_refutations_total', 'Times this member refuted a suspicion of itself.', () => swim.stats.refutes);
    this.suspicionToDead = new Histogram({
      name: 'skiff_gossip_suspicion_to_dead_seconds', help: 'How long a member was suspected, here, before it was declared dead: failure detection is a probe period or two plus this.',
      buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30], registers,
    });
    fromStats('skiff_gossip_deaths_declared_total', 'Members this member declared dead itself.', () => swim.stats.deaths);
  }
}
