import { createActor, waitFor, type Actor } from 'xstate';
import type { NatsConnection } from 'nats';
import type { Registry } from 'prom-client';
import type { Config } from '../../protocol/config.ts';
import type { Logger } from '../platform/log.ts';
import { apiserverMachine } from './apiserver.machine.ts';
import { ApiServer } from './server.ts';
import type { AdmissionPlugin } from './admission.ts';

export { ApiServer } from './server.ts';
export { apiserverMachine } from './apiserver.machine.ts';
export type { AdmissionPlugin, AdmissionRequest } from './admission.ts';

export interface StartOptions {
  nc: NatsConnection;
  cfg: Config;
  log: Logger;
  registry: Registry;
  plugins?: AdmissionPlugin[];
}

/** Starts an apiserver actor; `ready` resolves once it serves. */
export function startApiserver(opts: StartOptions): { actor: Actor<typeof apiserverMachine>; server: ApiServer; ready: Promise<void> } {
  const server = new ApiServer(opts);
  const actor = createActor(apiserverMachine, { input: { server, log: opts.log, retryMs: opts.cfg.apiserverRetryMs, sweepMs: opts.cfg.namespaceSweepMs } });
  actor.start();
  const ready = waitFor(actor, (s) => s.matches({ running: 'serving' }), { timeout: Infinity }).then(() => undefined);
  return { actor, server, ready };
}
