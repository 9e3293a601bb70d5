// The local provider's own records, in its directory (SKIFF_CLOUD_DIR): one JSON file per instance
// and per load balancer, each written whole (a temporary file renamed over it), so that a cloud
// controller manager that restarts, or a master that takes over the lead on this machine, finds
// every instance made and every balancer's address as they were: none lost, none made twice.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export class RecordDir<T> {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }

  write(key: string, value: T): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file(key)}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
    renameSync(tmp, this.file(key));
  }

  read(key: string): T | undefined {
    try {
      return JSON.parse(readFileSync(this.file(key), 'utf8')) as T;
    } catch {
      return undefined; // none, or not a record
    }
  }

  remove(key: string): void {
    rmSync(this.file(key), { force: true });
  }

  /** Every record, by key; files that are not records are passed over. */
  all(): Map<string, T> {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return new Map();
    }
    const out = new Map<string, T>();
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const key = n.slice(0, -'.json'.length);
      const r = this.read(key);
      if (r !== undefined) out.set(key, r);
    }
    return out;
  }
}

/** The lowest address of `cidr` (a /24 or wider inside 127.0.0.0/8) not in `taken`, skipping .0 and .255 of each /24. */
export function freeAddress(cidr: string, taken: Set<string>): string | undefined {
  const m = /^127\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m || Number(m[4]) < 8 || Number(m[4]) > 24) throw new Error(`${cidr}: use a block of 127.0.0.0/8 no smaller than a /24, such as 127.0.3.0/24`);
  const base = (Number(m[1]) << 16) | (Number(m[2]) << 8);
  const size = 2 ** (24 - Number(m[4]));
  const first = base & ~((size << 8) - 1);
  for (let block = 0; block < size; block++) {
    for (let host = 1; host < 255; host++) {
      const n = first + (block << 8) + host;
      const ip = `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${host}`;
      if (!taken.has(ip)) return ip;
    }
  }
  return undefined;
}
