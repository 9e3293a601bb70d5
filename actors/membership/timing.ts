// The gossip settings, and the ratios between them that are part of the protocol rather than of
// the deployment. The numbers themselves come from protocol/config.ts.
import type { Config } from '../../protocol/config.ts';
import type { MessageType } from './messages.ts';
import type { SuspicionConfig } from './suspicion.ts';

export interface SwimConfig extends SuspicionConfig {
  /** How long a direct ping waits for its ack before others are asked to try. */
  probeTimeoutMs: number;
  /** How many members are asked to probe indirectly (SWIM's k). */
  indirectChecks: number;
  /** Queued news goes to `gossipFanout` random members every `gossipIntervalMs`. */
  gossipIntervalMs: number;
  gossipFanout: number;
  /** At most this many pieces of news ride on one message. */
  maxPiggyback: number;
  /** λ: each piece of news is sent λ·log10(n+1) times. */
  retransmitMult: number;
  /** Between the two "nobody is subscribed there" answers that make a member dead. */
  unreachableConfirmMs: number;
  /** Full-state exchange with one random member, for groups of up to 32. */
  pushPullMs: number;
  /** Dead members still get gossip this long, so that a wrongly declared one hears it and refutes. */
  gossipToDeadMs: number;
  /** Dead and departed members are forgotten after this. */
  reapMs: number;
  /** Lifeguard's largest multiplier of the probe interval and timeout. */
  awarenessMax: number;
  /** After our own connection comes back, this long before we accuse anyone. */
  settleMs: number;
  /** A member that knows no one else asks to join again this often. */
  joinRetryMs: number;
  /**
   * Lifeguard's buddy system: a suspect is told directly that it is suspected, so that it can
   * refute in time. Always on in skiff; the benchmark turns it off to measure plain SWIM.
   */
  tellSuspect: boolean;
}

/** A relay nacks when its own ping is unanswered after this share of the probe timeout, in time for the prober to count it. */
export const RELAY_NACK_SHARE = 0.8;
/** A full-state exchange is abandoned after this many probe timeouts. */
export const SYNC_TIMEOUT_PROBES = 10;
/** Eager gossip rounds are at least this share of the gossip interval apart. */
export const EAGER_GOSSIP_SPACING = 0.25;
/** Dead members are looked at for forgetting every so many periods. */
export const REAP_EVERY_PERIODS = 10;
const PUSH_PULL_SCALE_THRESHOLD = 32;

/** memberlist's pushPullScale: beyond 32 members the exchange slows with log2(n), keeping the load per member flat. */
export function pushPullInterval(baseMs: number, n: number): number {
  if (n <= PUSH_PULL_SCALE_THRESHOLD) return baseMs;
  return baseMs * (Math.ceil(Math.log2(n) - Math.log2(PUSH_PULL_SCALE_THRESHOLD)) + 1);
}

export function swimConfig(cfg: Config): SwimConfig {
  return {
    periodMs: cfg.gossipPeriodMs,
    probeTimeoutMs: cfg.gossipProbeTimeoutMs,
    indirectChecks: cfg.gossipIndirectChecks,
    gossipIntervalMs: cfg.gossipIntervalMs,
    gossipFanout: cfg.gossipFanout,
    maxPiggyback: cfg.gossipMaxPiggyback,
    retransmitMult: cfg.gossipRetransmitMult,
    suspicionMult: cfg.gossipSuspicionMult,
    suspicionMaxMult: cfg.gossipSuspicionMaxMult,
    confirmations: cfg.gossipSuspicionConfirmations,
    unreachableConfirmMs: cfg.gossipUnreachableConfirmMs,
    pushPullMs: cfg.gossipPushPullMs,
    gossipToDeadMs: cfg.gossipToDeadMs,
    reapMs: cfg.gossipReapMs,
    awarenessMax: cfg.gossipAwarenessMax,
    settleMs: cfg.gossipSettleMs,
    joinRetryMs: cfg.gossipJoinRetryMs,
    tellSuspect: true,
  };
}

/** What one member has sent and seen, for metrics and the benchmark. */
export class GossipStats {
  readonly sent: Record<MessageType, number> = { ping: 0, ack: 0, 'ping-req': 0, nack: 0, gossip: 0, 'push-pull': 0, state: 0 };
  probes = 0;
  failedProbes = 0;
  /** Suspicions this member raised from its own failed probes. */
  suspicions = 0;
  refutes = 0;
  /** Deaths this member declared itself (not those it heard of). */
  deaths = 0;

  count(type: MessageType): void {
    this.sent[type]++;
  }

  get totalSent(): number {
    let n = 0;
    for (const v of Object.values(this.sent)) n += v;
    return n;
  }
}
