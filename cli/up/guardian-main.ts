// The guardian's cleanup (guardian.ts), run by its shell once the runner is gone.
// Usage: node --import tsx cli/up/guardian-main.ts STATE_FILE STOP_TIMEOUT_MS POLL_MS
import { stopAbandoned } from './guardian.ts';

const [stateFile, timeout, poll] = process.argv.slice(2);
const say = (line: string) => console.log(`${new Date().toISOString()} ${line}`);
if (!stateFile || !Number.isFinite(Number(timeout)) || !Number.isFinite(Number(poll))) {
  say('usage: guardian-main.ts STATE_FILE STOP_TIMEOUT_MS POLL_MS');
  process.exit(2);
}
try {
  await stopAbandoned(stateFile, Number(timeout), Number(poll), say);
} catch (err) {
  say(`nothing stopped: ${(err as Error).message}`);
}
