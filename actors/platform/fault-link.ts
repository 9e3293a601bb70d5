// A node's link to NATS, through which faults can be put on it (`skiff chaos`: network-delay,
// network-loss, network-partition): a TCP proxy in the node's own process, on 127.0.0.1, that
// passes each connection to one of the real servers. Being in the node's process, it lives and
// dies with the node, as a machine's network interface does. The faults come from a file in the
// node's data directory (FAULTS_FILE), which whoever sets them writes, each with its end time so
// that the link heals by itself even if the chaos runner is gone. With no faults, bytes are
// written on as they come; with faults, each chunk waits until fault arithmetic (link-faults.ts)
// lets it through, in order.
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { DEFAULT_NATS_PORT, LINK_FAULTS_POLL_MS } from '../../protocol/config.ts';
import { currentFaults, isFaulty, LinkFaultsError, NO_FAULTS, parseLinkFaults, releaseAt, type LinkFaults } from './link-faults.ts';
import type { Logger } from './log.ts';

/** In a node's data directory: the faults to put on its link (written by skiff chaos). */
export const FAULTS_FILE = 'link-faults.json';
/** In a node's data directory: that the node's link is there to take faults, and where it listens. */
export const LINK_FILE = 'link.json';
/** A direction holds back at most this much before it stops reading (the sender then waits, as on a slow link). */
const MAX_HELD_BYTES = 4 * 2 ** 20;

export interface LinkRecord { pid: number; url: string; upstreams: string[] }

/** What the fault link of the node with data directory `dir` said of itself; undefined when it runs none. */
export function linkRecordOf(dir: string): LinkRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, LINK_FILE), 'utf8')) as LinkRecord;
  } catch {
    return undefined;
  }
}

/** Puts `faults` on the link of the node with data directory `dir` (whole, by a rename); returns the file, for taking them away. */
export function setLinkFaults(dir: string, faults: LinkFaults): string {
  const file = join(dir, FAULTS_FILE);
  writeFileSync(`${file}.tmp`, JSON.stringify(faults));
  renameSync(`${file}.tmp`, file);
  return file;
}

/** A server to connect to, from a nats URL (nats://host:port, tls://..., or host:port). */
interface Upstream { scheme: string; host: string; port: number }
function upstreamOf(url: string): Upstream {
  const u = new URL(url.includes('://') ? url : `nats://${url}`);
  return { scheme: u.protocol, host: u.hostname, port: Number(u.port) || DEFAULT_NATS_PORT };
}

export interface FaultLinkOptions {
  /** The real servers, as nats URLs (nats://host:port or tls://...). */
  upstreams: string[];
  /** Where the faults file is, and where the link says it is there. */
  dir: string;
  log: Logger;
  random?: () => number;
}

export class FaultLink {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pumps = new Set<Pump>();
  private faults: LinkFaults = NO_FAULTS;
  private faultsMtime = 0;
  /** Whether faults were in effect at the last look: their end is said once. */
  private faulty = false;
  private poll?: NodeJS.Timeout;
  private next = 0;
  private readonly upstreams: Upstream[];

  constructor(private readonly o: FaultLinkOptions) {
    this.server = createServer((s) => this.accept(s));
    this.upstreams = o.upstreams.map(upstreamOf);
  }

  /** Starts listening; resolves to the URL to connect to NATS through. */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    const url = `${this.upstreams[0]!.scheme}//127.0.0.1:${(this.server.address() as { port: number }).port}`;
    this.readFaults();
    this.poll = setInterval(() => this.readFaults(), LINK_FAULTS_POLL_MS);
    this.poll.unref();
    const record: LinkRecord = { pid: process.pid, url, upstreams: this.o.upstreams };
    writeFileSync(join(this.o.dir, LINK_FILE), JSON.stringify(record));
    return url;
  }

  /** The faults in effect now. */
  current(): LinkFaults {
    return currentFaults(this.faults, Date.now());
  }

  close(): void {
    clearInterval(this.poll);
    this.server.close();
    for (const s of this.sockets) s.destroy();
    for (const p of this.pumps) p.stop();
    rmSync(join(this.o.dir, LINK_FILE), { force: true });
  }

  private readFaults(): void {
    const file = join(this.o.dir, FAULTS_FILE);
    let mtime = 0;
    try {
      mtime = statSync(file).mtimeMs;
    } catch {
      // no faults file: none
    }
    if (mtime !== this.faultsMtime) {
      this.faultsMtime = mtime;
      const before = this.faults;
      try {
        this.faults = mtime ? parseLinkFaults(readFileSync(file, 'utf8')) : NO_FAULTS;
      } catch (err) {
        if (!(err instanceof LinkFaultsError) && (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        this.o.log.warn('the link faults file is not right; no faults put on the link', { file, error: (err as Error).message });
        this.faults = NO_FAULTS;
      }
      if (isFaulty(this.faults) || isFaulty(before)) this.o.log.info('link faults', { ...this.faults, until: this.faults.until ? new Date(this.faults.until).toISOString() : undefined });
    }
    const faulty = isFaulty(this.current());
    if (this.faulty && !faulty) this.o.log.info('link faults ended');
    this.faulty = faulty;
    // Held bytes may be due (a partition lifted, faults run out).
    for (const p of this.pumps) p.flush();
  }

  private accept(client: Socket): void {
    client.setNoDelay(true);
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    // Each new connection tries the servers from the next one on: a client that reconnects
    // (its server died, or was cut off) lands on another.
    const start = this.next++;
    const tryServer = (i: number) => {
      if (client.destroyed) return;
      if (i >= this.upstreams.length) {
        client.destroy();
        return;
      }
      // A partition holds a new connection as the network holds a SYN: it waits.
      if (this.current().partition) {
        setTimeout(() => tryServer(i), LINK_FAULTS_POLL_MS).unref();
        return;
      }
      const { host, port } = this.upstreams[(start + i) % this.upstreams.length]!;
      const server = createConnection({ host, port });
      server.setNoDelay(true);
      server.once('error', () => {
        server.destroy();
        if (!connected) tryServer(i + 1);
        else client.destroy();
      });
      let connected = false;
      server.once('connect', () => {
        connected = true;
        this.sockets.add(server);
        server.on('close', () => { this.sockets.delete(server); client.destroy(); });
        client.on('close', () => server.destroy());
        const up = new Pump(client, server, this);
        const down = new Pump(server, client, this);
        this.pumps.add(up).add(down);
        server.on('close', () => { this.pumps.delete(up); this.pumps.delete(down); up.stop(); down.stop(); });
      });
    };
    tryServer(0);
  }

  /** @internal for the pumps */
  randomValue(): number {
    return (this.o.random ?? Math.random)();
  }
}

/** One direction of one connection: bytes read from `from` are written to `to` when the faults let them. */
class Pump {
  private readonly held: { data: Buffer; at: number }[] = [];
  private heldBytes = 0;
  private lastRelease = 0;
  private timer?: NodeJS.Timeout;

  constructor(private readonly from: Socket, private readonly to: Socket, private readonly link: FaultLink) {
    from.on('data', (data: Buffer) => this.take(data));
    to.on('drain', () => { if (this.heldBytes <= MAX_HELD_BYTES) from.resume(); });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.held.length = 0;
  }

  private take(data: Buffer): void {
    const f = this.link.current();
    if (!isFaulty(f) && this.held.length === 0) {
      if (!this.to.write(data)) this.from.pause();
      return;
    }
    const now = Date.now();
    this.lastRelease = releaseAt(f, now, data.length, this.lastRelease, () => this.link.randomValue());
    this.held.push({ data, at: this.lastRelease });
    this.heldBytes += data.length;
    if (this.heldBytes > MAX_HELD_BYTES) this.from.pause();
    this.flush();
  }

  /** Writes on what is due; waits for the next one otherwise (a partition: until it lifts). */
  flush(): void {
    clearTimeout(this.timer);
    if (this.link.current().partition) return;
    const now = Date.now();
    while (this.held.length > 0 && this.held[0]!.at <= now) {
      const { data } = this.held.shift()!;
      this.heldBytes -= data.length;
      this.to.write(data);
    }
    if (this.held.length > 0) this.timer = setTimeout(() => this.flush(), this.held[0]!.at - now);
    if (this.heldBytes <= MAX_HELD_BYTES && this.from.isPaused() && this.to.writableLength === 0) this.from.resume();
  }
}
