// The skiff command's global flags, which may come before or after the verb, as kubectl's do.
import { UsageError } from './command.ts';

/**
 * Takes the global --credentials FILE (or --credentials=FILE) out of the arguments, wherever it is,
 * as kubectl's global flags may come before or after the verb.
 */
export function takeCredentialsFlag(argv: string[]): { credentials?: string; args: string[] } {
  const args: string[] = [];
  let credentials: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    if (a === '--credentials') {
      credentials = argv[++i];
      if (credentials === undefined) throw new UsageError('--credentials: give the file, e.g. --credentials .skiff/auth/viewer.creds');
    } else if (a.startsWith('--credentials=')) credentials = a.slice('--credentials='.length);
    else args.push(a);
  }
  return { credentials, args };
}
