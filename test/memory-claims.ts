// The store's claims (actors/apiserver/claims.ts) in memory, for the allocators' tests.
import type { ClaimStore } from '../actors/apiserver/claims.ts';

/** The store's claims in memory: compare-and-swap on a revision, as the KV bucket does. */
export class MemoryClaims implements ClaimStore {
  private revision = 0;
  readonly keys = new Map<string, { value?: Uint8Array; revision: number }>();
  /** Called inside every put, before it lands: lets a test write in between. */
  beforePut?: () => void;

  async getClaim(key: string) {
    return this.keys.get(key) ?? null;
  }

  async putClaim(key: string, value: Uint8Array, revision: number) {
    this.beforePut?.();
    if ((this.keys.get(key)?.revision ?? 0) !== revision) return false;
    this.keys.set(key, { value, revision: ++this.revision });
    return true;
  }

  async dropClaim(key: string, revision: number) {
    if (this.keys.get(key)?.revision === revision) this.keys.set(key, { revision: ++this.revision });
  }

  /** Who holds node port `port`, or the claim `key`. */
  holder(port: number | string): string | undefined {
    const v = this.keys.get(typeof port === 'number' ? `nodeport.${port}` : port)?.value;
    return v && (JSON.parse(new TextDecoder().decode(v)) as { holder: string }).holder;
  }
}
