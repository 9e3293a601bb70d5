// A dead-man's switch for a process that starts others (a kubelet its containers, `skiff up` its
// Procfile's processes): a /bin/sh in a process group of its own, blocked reading a pipe from its
// owner. The owner writes `stand-down` once it has stopped, or meant to leave, what it started;
// any other end of the owner (SIGKILL, a crash) closes the pipe with nothing written, and after
// the grace the shell execs the command that cleans up. Waiting costs one sleeping shell; Node
// starts only to clean up.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

const STAND_DOWN = 'stand-down';
// $0: the grace in seconds; "$@": the cleanup. `read` returns at the first line or at end of file.
const WAIT = `read line; [ "$line" = ${STAND_DOWN} ] && exit 0; sleep "$0"; exec "$@"`;

export interface DeadMansSwitch {
  pid: number;
  /** The owner is ending cleanly: the switch exits without cleaning up. */
  standDown(): void;
}

/** Starts the switch; the cleanup's output is appended to `logFile`. */
export function startDeadMansSwitch(opts: { command: string[]; graceMs: number; logFile: string }): DeadMansSwitch {
  const out = openSync(opts.logFile, 'a');
  try {
    const child = spawn('/bin/sh', ['-c', WAIT, String(opts.graceMs / 1000), ...opts.command], { detached: true, stdio: ['pipe', out, out] });
    child.unref();
    child.stdin!.on('error', () => { /* the switch is gone: nothing to tell it */ });
    (child.stdin as unknown as { unref(): void }).unref();
    return { pid: child.pid!, standDown: () => { child.stdin!.end(`${STAND_DOWN}\n`); } };
  } finally {
    closeSync(out);
  }
}

