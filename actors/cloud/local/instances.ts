// The local provider's instances: each a node process on this machine, started and watched by
// whichever master leads the cloud controller manager, in a process group of its own, with its own
// loopback address (SKIFF_CLOUD_NODE_CIDR), data directory and credentials. A record is written
// before the process starts and holds its pid and start time once it runs, so a restarted or new
// leader adopts every instance and makes none twice. An instance whose process has died is gone,
// as a terminated VM is (its Node is then deleted); one stopped with SIGSTOP is shut down. Each
// node stops once the cluster's anchor process (skiff up, or the master) is gone
// (SKIFF_EXIT_WITH_PID), so none outlives its cluster.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatTaints } from '../../../protocol/tolerations.ts';
import type { Node } from '../../../protocol/types.ts';
import { AUTH_CONFIG, deleteIdentity, ensureIdentity, writeAuthorization } from '../../../infra/auth.ts';
import { freePort } from '../../kubelet/ports.ts';
import { credentialsPath } from '../../platform/credentials.ts';
import { programArgs } from '../../platform/entry.ts';
import type { Logger } from '../../platform/log.ts';
import { connectNats } from '../../platform/nats.ts';
import { isRunning, processStat, terminateGroups } from '../../platform/procfs.ts';
import { NODE_POOL_LABEL, UNINITIALIZED_TAINT, type Instance, type InstanceMetadata, type Instances, type InstanceTemplate } from '../provider.ts';
import { freeAddress, RecordDir } from './records.ts';

export const LOCAL_PROVIDER = 'skiff-local';

/** What the provider keeps of an instance. */
export interface InstanceRecord {
  name: string;
  pool: string;
  address: string;
  zone: string;
  instanceType: string;
  capacity: { cpu: string; memory: string };
  createdAt: number;
  /** Once its process runs: the pid (which leads its group) and the start time that names it. */
  pid?: number;
  startTime?: string;
}

export interface LocalInstancesOptions {
  /** SKIFF_CLOUD_DIR: records, and each node's data directory and log. */
  dir: string;
  natsUrl: string;
  zones: string[];
  nodeCidr: string;
  /** The process whose end stops the nodes (SKIFF_EXIT_WITH_PID). */
  anchorPid: number;
  /** Where identities are made when the cluster authenticates (its nats-auth.conf is there). */
  authDir: string;
  /** How long a node has to stop its pods when its instance is deleted. */
  stopTimeoutMs: number;
  log: Logger;
}

/** A record without a running process for this long was being made by a leader that is gone: it is dropped. */
const CREATE_TIMEOUT_MS = 30_000;
const NODE_FLAGS = ['--max-semi-space-size=32'];

/** An instance's node data directory, in the provider's directory `dir`. */
const instanceNodeDir = (dir: string, name: string) => resolve(dir, 'nodes', name);

/**
 * The process groups of the instances recorded in a local provider's directory that still run,
 * with their nodes' data directories: what `skiff up` stops with the rest of its cluster, and
 * where `skiff chaos` finds them.
 */
export function runningInstanceGroups(dir: string): { name: string; pgid: number; startTime: string; dataDir: string }[] {
  return [...new RecordDir<InstanceRecord>(join(dir, 'instances')).all().values()]
    .flatMap((r) => (r.pid !== undefined && r.startTime !== undefined && isRunning(r.pid, r.startTime, r.pid)
      ? [{ name: r.name, pgid: r.pid, startTime: r.startTime, dataDir: instanceNodeDir(dir, r.name) }] : []));
}

export function instanceTypeOf(capacity: { cpu: string; memory: string }): string {
  return `local-${capacity.cpu}cpu-${capacity.memory}`.toLowerCase();
}

export class LocalInstances implements Instances {
  private readonly records: RecordDir<InstanceRecord>;
  private readonly counter: RecordDir<{ next: number }>;

  constructor(private readonly o: LocalInstancesOptions) {
    this.records = new RecordDir(join(o.dir, 'instances'));
    this.counter = new RecordDir(o.dir);
  }

  private nodeDir(name: string): string {
    return instanceNodeDir(this.o.dir, name);
  }

  /** The instance's state; undefined when it is gone (its process died, or its making was abandoned), after dropping its record. */
  private stateOf(r: InstanceRecord): Instance['state'] | undefined {
    if (r.pid === undefined || r.startTime === undefined) {
      if (Date.now() - r.createdAt < CREATE_TIMEOUT_MS) return 'pending';
    } else if (isRunning(r.pid, r.startTime, r.pid)) {
      return processStat(r.pid)?.state === 'T' ? 'shutdown' : 'running';
    }
    this.o.log.info('instance gone', { instance: r.name, pid: r.pid ?? null });
    this.forget(r.name);
    return undefined;
  }

  private forget(name: string): void {
    this.records.remove(name);
    if (this.authenticates()) {
      try {
        deleteIdentity(this.o.authDir, name);
        writeAuthorization(this.o.authDir);
      } catch {
        // none was made
      }
    }
  }

  private toInstance(r: InstanceRecord, state: Instance['state']): Instance {
    return {
      name: r.name, pool: r.pool, state, createdAt: r.createdAt,
      providerID: `${LOCAL_PROVIDER}://${r.name}`, instanceType: r.instanceType, zone: r.zone,
      addresses: [{ type: 'InternalIP', address: r.address }, { type: 'Hostname', address: r.name }],
    };
  }

  private recordOf(node: Node): InstanceRecord | undefined {
    return this.records.read(node.metadata.name!);
  }

  async exists(node: Node): Promise<boolean> {
    const r = this.recordOf(node);
    return r !== undefined && this.stateOf(r) !== undefined;
  }

  async shutdown(node: Node): Promise<boolean> {
    const r = this.recordOf(node);
    return r !== undefined && this.stateOf(r) === 'shutdown';
  }

  async metadata(node: Node): Promise<InstanceMetadata | undefined> {
    const r = this.recordOf(node);
    const state = r && this.stateOf(r);
    return state ? this.toInstance(r!, state) : undefined;
  }

  async list(): Promise<Instance[]> {
    return [...this.records.all().values()].flatMap((r) => {
      const state = this.stateOf(r);
      return state ? [this.toInstance(r, state)] : [];
    });
  }

  private authenticates(): boolean {
    return existsSync(join(this.o.authDir, AUTH_CONFIG));
  }

  /** Makes the node's identity and waits until the servers take it (they reload the authorization on change). */
  private async credentials(name: string): Promise<string | undefined> {
    if (!this.authenticates()) return undefined;
    ensureIdentity(this.o.authDir, 'node', name);
    writeAuthorization(this.o.authDir);
    const file = credentialsPath(this.o.authDir, name);
    const until = Date.now() + 15_000;
    for (;;) {
      try {
        await (await connectNats({ url: this.o.natsUrl, name: `check ${name}`, persistent: false, credentials: file })).close();
        return file;
      } catch (err) {
        if (Date.now() > until) throw new Error(`the servers did not take ${name}'s new credentials: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  async create(t: InstanceTemplate): Promise<Instance> {
    const all = [...this.records.all().values()];
    const address = freeAddress(this.o.nodeCidr, new Set(all.map((r) => r.address)));
    if (!address) throw new Error(`no address left for a node in ${this.o.nodeCidr} (SKIFF_CLOUD_NODE_CIDR)`);
    const n = this.counter.read('zones')?.next ?? 0;
    this.counter.write('zones', { next: n + 1 });
    const name = `${t.pool}-${randomBytes(4).toString('hex').slice(0, 5)}`;
    const record: InstanceRecord = {
      name, pool: t.pool, address, zone: this.o.zones[n % this.o.zones.length], instanceType: instanceTypeOf(t.capacity),
      capacity: t.capacity, createdAt: Date.now(),
    };
    // Recorded before anything runs: a leader that dies from here on leaves a record the next one sees.
    this.records.write(name, record);
    try {
      const creds = await this.credentials(name);
      const dataDir = this.nodeDir(name);
      mkdirSync(dataDir, { recursive: true });
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        SKIFF_NATS_URL: this.o.natsUrl,
        SKIFF_NODE_ADDRESS: address,
        SKIFF_NODE_DATA_DIR: dataDir,
        SKIFF_NODE_CPU: t.capacity.cpu,
        SKIFF_NODE_MEMORY: t.capacity.memory,
        SKIFF_NODE_LABELS: Object.entries({ ...t.labels, [NODE_POOL_LABEL]: t.pool }).map(([k, v]) => `${k}=${v}`).join(','),
        SKIFF_NODE_TAINTS: formatTaints([UNINITIALIZED_TAINT, ...t.taints]),
        SKIFF_EXIT_WITH_PID: String(this.o.anchorPid),
        PORT: String(await freePort('127.0.0.1')),
        SKIFF_CREDENTIALS: creds ?? '',
      };
      // The master's own: not the node's.
      for (const k of ['SKIFF_NODE_NAME', 'PS', 'SKIFF_CPU_PROFILE']) delete env[k];
      const log = openSync(`${dataDir}.log`, 'a');
      try {
        const child = spawn(process.execPath, [...NODE_FLAGS, ...programArgs('actors/node/main'), '--name', name], { detached: true, stdio: ['ignore', log, log], env });
        child.on('error', (err) => this.o.log.error('instance could not start', { instance: name, err: err.message }));
        child.unref();
        const stat = child.pid ? processStat(child.pid) : undefined;
        if (!child.pid || !stat) throw new Error(`the node process for ${name} did not start (see ${dataDir}.log)`);
        this.records.write(name, { ...record, pid: child.pid, startTime: stat.startTime });
        this.o.log.info('instance started', { instance: name, pool: t.pool, pid: child.pid, address, zone: record.zone });
      } finally {
        closeSync(log);
      }
      return this.toInstance(record, 'running');
    } catch (err) {
      this.forget(name);
      throw err;
    }
  }

  async delete(name: string): Promise<void> {
    const r = this.records.read(name);
    if (!r) return;
    if (r.pid !== undefined && r.startTime !== undefined && isRunning(r.pid, r.startTime, r.pid)) {
      // A node told to stop drains its pods first; a shut-down (stopped) one must be woken to hear it.
      process.kill(-r.pid, 'SIGCONT');
      const pid = r.pid;
      const startTime = r.startTime;
      await terminateGroups([{ pgid: pid }], this.o.stopTimeoutMs, 100, () => false, () => isRunning(pid, startTime, pid));
    }
    this.forget(name);
    rmSync(this.nodeDir(name), { recursive: true, force: true });
    rmSync(`${this.nodeDir(name)}.log`, { force: true });
    this.o.log.info('instance deleted', { instance: name, pool: r.pool });
  }
}
