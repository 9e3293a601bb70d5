// Expectations, as Kubernetes' controller_utils.go keeps them: after a controller asks for N
// creates or deletes it waits to see them in its informer before acting on that key again, so a
// slow watch cannot make it create twice. Expectations lapse after a while, in case a watch
// event was lost for good. Pure bookkeeping.
import { EXPECTATIONS_TTL_MS } from '../../protocol/config.ts';

interface Expectation {
  adds: number;
  dels: number;
  at: number;
}

export class Expectations {
  private readonly byKey = new Map<string, Expectation>();

  expect(key: string, adds: number, dels: number, now = Date.now()): void {
    this.byKey.set(key, { adds, dels, at: now });
  }

  /** One create seen (or given up on). */
  creationObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e && e.adds > 0) e.adds--;
  }

  deletionObserved(key: string): void {
    const e = this.byKey.get(key);
    if (e && e.dels > 0) e.dels--;
  }

  satisfied(key: string, now = Date.now()): boolean {
    const e = this.byKey.get(key);
    if (!e) return true;
    if ((e.adds <= 0 && e.dels <= 0) || now - e.at > EXPECTATIONS_TTL_MS) {
      this.byKey.delete(key);
      return true;
    }
    return false;
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
