// The faults a node's link to NATS can be given (fault-link.ts carries them out), and the pure
// arithmetic of when a chunk of bytes gets through. A TCP stream never loses bytes: a lost segment
// is sent again after the retransmission timeout, and everything behind it waits (head-of-line
// blocking). So loss here is what loss does to a TCP connection, delay, not missing bytes, as
// Toxiproxy's toxics are (latency, timeout) and unlike tc netem, which drops packets below TCP.

export interface LinkFaults {
  /** Added to every chunk, each way. */
  latencyMs: number;
  /** latencyMs varies by up to this much either side, uniformly. */
  jitterMs: number;
  /** The share of TCP segments lost (0-100): each costs a retransmission timeout. */
  lossPercent: number;
  /** Nothing passes either way, new connections included, until this ends. */
  partition: boolean;
  /** When these faults end by themselves (epoch ms), whoever set them. */
  until: number;
}

export const NO_FAULTS: LinkFaults = { latencyMs: 0, jitterMs: 0, lossPercent: 0, partition: false, until: 0 };

/** Linux's minimum retransmission timeout (TCP_RTO_MIN): a lost segment on a fast link costs this. */
export const RTO_MS = 200;
/** A segment's payload on a 1500-byte MTU, as a chunk of that many bytes is that many segments. */
const SEGMENT_BYTES = 1448;

export const isFaulty = (f: LinkFaults) => f.partition || f.latencyMs > 0 || f.jitterMs > 0 || f.lossPercent > 0;

/**
 * When a chunk of `bytes` read at `now` is written on: after the latency (and jitter), a
 * retransmission timeout for each time a segment of it is lost (doubling, as TCP backs off), and
 * never before the chunk ahead of it (`previous`), as a byte stream keeps its order.
 */
export function releaseAt(f: LinkFaults, now: number, bytes: number, previous: number, random: () => number): number {
  let t = now + Math.max(0, f.latencyMs + (f.jitterMs > 0 ? (random() * 2 - 1) * f.jitterMs : 0));
  if (f.lossPercent > 0) {
    // The chunk gets through once all its segments have; a chunk of k segments is held back with
    // probability 1 - (1 - p)^k, and each retransmission is lost again with probability p.
    const p = Math.min(1, f.lossPercent / 100);
    const segments = Math.max(1, Math.ceil(bytes / SEGMENT_BYTES));
    let rto = RTO_MS;
    if (random() < 1 - (1 - p) ** segments) {
      t += rto;
      // A fully lost link never gets through: a partition is the way to say that.
      for (let tries = 0; tries < 6 && random() < p; tries++) t += (rto *= 2);
    }
  }
  return Math.max(t, previous);
}

/** The faults in effect at `now`: none once they have run out. */
export function currentFaults(f: LinkFaults, now: number): LinkFaults {
  return f.until > now ? f : NO_FAULTS;
}

export class LinkFaultsError extends Error { name = 'LinkFaultsError'; }

/** Reads a faults file's JSON, naming the field that is wrong. */
export function parseLinkFaults(text: string): LinkFaults {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new LinkFaultsError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new LinkFaultsError('must be an object: {latencyMs, jitterMs, lossPercent, partition, until}');
  const o = raw as Record<string, unknown>;
  const num = (k: keyof LinkFaults, max = Infinity): number => {
    const v = o[k] ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > max) throw new LinkFaultsError(`${k}: must be a number from 0${max < Infinity ? ` to ${max}` : ''} (got ${JSON.stringify(v)})`);
    return v;
  };
  if (o.partition !== undefined && typeof o.partition !== 'boolean') throw new LinkFaultsError(`partition: must be true or false (got ${JSON.stringify(o.partition)})`);
  return { latencyMs: num('latencyMs'), jitterMs: num('jitterMs'), lossPercent: num('lossPercent', 100), partition: o.partition === true, until: num('until') };
}
