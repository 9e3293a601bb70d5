// What every skiff process does at its edges: learn its name and port, find the programs it runs,
// and stop cleanly.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from './log.ts';

/** An installed program: on PATH, or where Debian's packages put it (a user's PATH may lack /usr/sbin). */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  return dirs.filter(Boolean).map((d) => join(d, name)).find((p) => existsSync(p));
}

/** The program a process runs; if it is missing, says how to install it and exits 127 (the shell's "not found"). */
export function requireProgram(name: string, debianPackage: string, log: Logger): string {
  const bin = findProgram(name);
  if (bin) return bin;
  log.error(`${name} is not installed: run sh infra/bootstrap.sh, or: apt-get install ${debianPackage}`);
  process.exit(127);
}

/**
 * The instance name: SKIFF_NODE_NAME, else the runner's instance variable (`PS=node.2` from
 * `skiff up` and foreman, as `node-2`: dots cannot appear in subject tokens), else role and PORT.
 */
export function instanceName(role: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.SKIFF_NODE_NAME) return env.SKIFF_NODE_NAME;
  if (env.PS && /^[a-z0-9-]+\.\d+$/.test(env.PS)) return env.PS.replace('.', '-');
  if (env.PORT) return `${role}-${env.PORT}`;
  return role;
}

export function statusPort(env: NodeJS.ProcessEnv = process.env): number {
  const port = Number(env.PORT ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT=${JSON.stringify(env.PORT)}: must be a port number`);
  return port;
}

/** Runs `stop` once on SIGINT or SIGTERM, then exits; a second signal exits at once. */
export function onShutdown(log: Logger, stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(1);
      stopping = true;
      log.info('stopping', { signal });
      stop(signal).then(
        () => process.exit(0),
        (err) => {
          log.error('stop failed', { err });
          process.exit(1);
        },
      );
    });
  }
}

/**
 * Ends the process with status 1 when its root actor finishes with a failure (the root has logged
 * why and stopped its tree) or errors; `cleanup` runs first, with the root's output if there is one.
 */
export function exitOnFailure<O extends { failure?: string }>(finished: Promise<O>, log: Logger, cleanup: (output?: O) => Promise<void>): void {
  finished.then(async (output) => {
    if (!output.failure) return;
    await cleanup(output);
    process.exit(1);
  }, async (err: unknown) => {
    log.error('the root actor failed', { err });
    await cleanup();
    process.exit(1);
  });
}
