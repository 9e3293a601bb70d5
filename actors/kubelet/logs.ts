// Container logs: one file per container instance, `<restartCount>.log`, appended to by the
// process itself (so logging survives a kubelet restart). A file over the size limit is copied to
// `.1` and truncated (the writer appends, so it carries on at the new end). The previous
// instance's file is kept for --previous; older ones are removed.
import { closeSync, copyFileSync, openSync, readdirSync, readSync, rmSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';

export function instanceLog(dir: string, restartCount: number): string {
  return join(dir, `${restartCount}.log`);
}

/** Rotates the current instance's log if it has grown past `maxBytes`. */
export function rotateIfLarge(file: string, maxBytes: number): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}

/** Removes the logs of instances older than the previous one. */
export function pruneLogs(dir: string, current: number): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^(\d+)\.log(\.1)?$/.exec(n);
    if (m && Number(m[1]) < current - 1) rmSync(join(dir, n), { force: true });
  }
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Reads bytes [from, from+length) of a file. */
export function readRange(file: string, from: number, length: number): Buffer {
  if (length <= 0) return Buffer.alloc(0);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, from);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** The last `lines` lines of an instance's log (its rotated part included), at most `maxBytes`. */
export function tailLog(file: string, lines: number | undefined, maxBytes: number): Buffer {
  const parts = [readRange(`${file}.1`, 0, fileSize(`${file}.1`)), readRange(file, 0, fileSize(file))];
  let all = Buffer.concat(parts);
  if (lines !== undefined) {
    let idx = all.length;
    if (idx > 0 && all[idx - 1] === 0x0a) idx--;
    for (let n = 0; n < lines && idx > 0; n++) idx = all.lastIndexOf(0x0a, idx - 1);
    all = lines === 0 ? Buffer.alloc(0) : all.subarray(idx <= 0 ? 0 : idx + 1);
  }
  return all.length > maxBytes ? all.subarray(all.length - maxBytes) : all;
}
