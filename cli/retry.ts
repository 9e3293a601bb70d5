// Writes that pin a resourceVersion lose to any concurrent writer; the answer is to read again and
// decide again, a few times, as kubectl does.
import { Conflict } from '../protocol/errors.ts';

export const CONFLICT_RETRIES = 5;

/** Runs `attempt` (which must re-read what it writes) until it stops failing with Conflict. */
export async function retryOnConflict<T>(attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof Conflict) || i >= CONFLICT_RETRIES) throw err;
    }
  }
}
