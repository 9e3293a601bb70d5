// What a `skiff` subcommand is, and what it gets to run with.
import type { ParseArgsConfig } from 'node:util';
import type { NatsConnection } from 'nats';
import type { ApiClient } from '../actors/client/client.ts';
import type { Config } from '../protocol/config.ts';
import { errorMessage, Invalid, SkiffError, Unavailable, formatFieldError } from '../protocol/errors.ts';

export type Options = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

export interface CliContext {
  cfg: Config;
  out(text: string): void;
  err(text: string): void;
  /** Connects on first use, so that `--help` and local validation work without a cluster. */
  client(): Promise<ApiClient>;
  nats(): Promise<NatsConnection>;
  readStdin(): Promise<string>;
  /** Resolves when the user presses Ctrl-C (for -w and -f). */
  interrupted: Promise<void>;
}

export interface Command {
  name: string;
  /** The full `--help` text. */
  help: string;
  options: Options;
  run(values: Values, positionals: string[], ctx: CliContext): Promise<number>;
}

/** A usage mistake: printed with a pointer to --help, exit code 2. */
export class UsageError extends Error {}

export const NAMESPACE_OPTIONS: Options = {
  namespace: { type: 'string', short: 'n' },
  'all-namespaces': { type: 'boolean', short: 'A' },
};

export function stringOption(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(values: Values, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** kubectl's way of showing an error: the server's refusals name their reason. */
export function formatError(err: unknown): string {
  if (err instanceof Invalid) {
    return `Error from server (Invalid): ${err.message.split(':')[0]}:\n${err.fields.map((f) => `  ${formatFieldError(f)}`).join('\n')}`;
  }
  if (err instanceof Unavailable) return `error: ${err.message}`;
  if (err instanceof SkiffError) return `Error from server (${err.name}): ${err.message}`;
  return `error: ${errorMessage(err)}`;
}
