// Claims in the store: how two apiservers admitting at once agree on who holds a node port or a
// ClusterIP. Each claim is a key of the store's claims, written by compare-and-swap; the cache
// of services says whether a claim's holder still has what it claimed.
import { CLAIM_GRACE_MS } from '../../protocol/config.ts';
import type { KubeObject } from '../../protocol/types.ts';

/** What an allocator needs of the store to agree with other apiservers (Store has it; tests use a map). */
export interface ClaimStore {
  getClaim(key: string): Promise<{ value?: Uint8Array; revision: number } | null>;
  putClaim(key: string, value: Uint8Array, revision: number): Promise<boolean>;
  dropClaim(key: string, revision: number): Promise<void>;
}

/** How often an allocation is chosen again after losing a claim to another apiserver. */
export const ALLOCATION_ATTEMPTS = 5;

interface Claim {
  holder: string;
  at: number;
}

const readClaim = (value: Uint8Array) => JSON.parse(new TextDecoder().decode(value)) as Claim;

/** Who holds what a service claims: `namespace/name`. */
export const holderOf = (obj: KubeObject): string => `${obj.metadata.namespace}/${obj.metadata.name}`;

/**
 * Claims `key` for `holder` (namespace/name): two apiservers admitting two services at once
 * cannot both have it. Returns undefined when it is the holder's, else who has it. A claim is
 * taken over once its holder no longer has it (`holds`, from this apiserver's cache) and the
 * grace has passed: claims of services deleted without their release, or whose ports changed.
 */
export async function claim(store: ClaimStore, key: string, holder: string, holds: (holder: string) => boolean, now = Date.now()): Promise<string | undefined> {
  const mine = new TextEncoder().encode(JSON.stringify({ holder, at: now } satisfies Claim));
  for (let attempt = 0; attempt < ALLOCATION_ATTEMPTS; attempt++) {
    const current = await store.getClaim(key);
    if (current?.value) {
      const c = readClaim(current.value);
      if (c.holder === holder) return undefined;
      if (holds(c.holder) || now - c.at < CLAIM_GRACE_MS) return c.holder;
    }
    if (await store.putClaim(key, mine, current?.revision ?? 0)) return undefined;
  }
  return 'another service';
}

/** Drops `holder`'s claim on `key`, if it is still its. */
export async function release(store: ClaimStore, key: string, holder: string): Promise<void> {
  const current = await store.getClaim(key);
  if (current?.value && readClaim(current.value).holder === holder) await store.dropClaim(key, current.revision);
}
