// Every message on the wire is msgpack `{ v, type, ... }`. Plain pack/unpack only: shared record
// structures would leave a late-joining process unable to decode.
import { pack, unpack } from 'msgpackr';
import { BadRequest } from './errors.ts';
import { PROTOCOL_VERSION } from './version.ts';

export { PROTOCOL_VERSION };

export interface Envelope {
  v: number;
  type: string;
  [field: string]: unknown;
}

export function encode(type: string, body: Record<string, unknown> = {}): Uint8Array {
  return pack({ ...body, v: PROTOCOL_VERSION, type });
}

/** Decodes and checks the envelope; anything else is a BadRequest naming what is wrong. */
export function decode(data: Uint8Array): Envelope {
  let msg: unknown;
  try {
    msg = unpack(data);
  } catch (err) {
    throw new BadRequest(`undecodable message: not msgpack (${(err as Error).message})`, { cause: err });
  }
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    throw new BadRequest('malformed message: expected a map with fields v and type');
  }
  const env = msg as Record<string, unknown>;
  if (env.v !== PROTOCOL_VERSION) {
    throw new BadRequest(`unsupported protocol version ${JSON.stringify(env.v)}: this process speaks v${PROTOCOL_VERSION}`);
  }
  if (typeof env.type !== 'string') throw new BadRequest('malformed message: field type must be a string');
  if (typeof env.objectResourceVersion === 'string') restoreResourceVersion(env);
  const event = env.event as Record<string, unknown> | undefined;
  if (event && typeof event === 'object' && typeof event.objectResourceVersion === 'string') restoreResourceVersion(event);
  if (Array.isArray(env.events)) {
    for (const e of env.events as Record<string, unknown>[]) if (e && typeof e === 'object' && typeof e.objectResourceVersion === 'string') restoreResourceVersion(e);
  }
  return env as Envelope;
}

/** The most events one watch message carries (a msgpack array16's count). */
export const MAX_WATCH_BATCH = 0xffff;

/**
 * Watch events numbered from `seq`, in one message: `{ v, type: 'watch', seq, events: [...] }`,
 * each event already encoded (encodeStoredEvent). A msgpack array is its count followed by the
 * elements, so the encoded events are simply laid end to end.
 */
export function encodeWatchEvents(seq: number, events: readonly Uint8Array[]): Uint8Array {
  const n = events.length;
  if (n === 0 || n > MAX_WATCH_BATCH) throw new Error(`encodeWatchEvents: ${n} events (1 to ${MAX_WATCH_BATCH})`);
  const count = n <= FIXARRAY_MAX ? Uint8Array.of(FIXARRAY + n) : Uint8Array.of(ARRAY16, n >> 8, n & 0xff);
  return encodeWithRaw('watch', { seq }, 'events', [count, ...events]);
}

const FIXARRAY = 0x90;
const FIXARRAY_MAX = 15;
const ARRAY16 = 0xdc;

/**
 * A response carrying an object exactly as the store holds it (its msgpack without
 * resourceVersion), and its resourceVersion beside it: the apiserver answers a write or a get
 * without encoding the object again. `decode` puts the resourceVersion back in place.
 */
export function encodeWithStoredObject(stored: Uint8Array, resourceVersion: string): Uint8Array {
  return withStoredObject(RESPONSE_HEAD, 2, stored, resourceVersion);
}

/**
 * A watch event, `{ type, object }`, whose object is given as the store holds it, the same way:
 * an event goes to every watcher that sees it, and its object need not be encoded again.
 */
export function encodeStoredEvent(type: string, stored: Uint8Array, resourceVersion: string): Uint8Array {
  let head = EVENT_HEADS.get(type);
  if (!head) EVENT_HEADS.set(type, (head = Buffer.concat([TYPE_KEY, pack(type)])));
  return withStoredObject(head, 1, stored, resourceVersion, true);
}

const EVENT_HEADS = new Map<string, Uint8Array>();

/**
 * Written by hand, as this is on every write's and watch event's path: a map of the `fields`
 * key-value pairs already encoded in `head`, then `object: <stored>`, then
 * `objectResourceVersion` last, so that `decode` deletes the last property it added (which keeps
 * the decoded map a fast object in V8).
 */
function withStoredObject(head: Uint8Array, fields: number, stored: Uint8Array, resourceVersion: string, kept = false): Uint8Array {
  const rvLength = Buffer.byteLength(resourceVersion, 'latin1');
  if (rvLength > FIXSTR_MAX) throw new Error(`resourceVersion ${resourceVersion} is too long`);
  // What is kept (a watch cache's events) gets memory of its own: a slice of Node's shared pool
  // would keep the rest of its 8 KiB alive too.
  const out = (kept ? Buffer.allocUnsafeSlow : Buffer.allocUnsafe)(1 + head.length + OBJECT_KEY.length + stored.length + RV_KEY.length + 1 + rvLength);
  let at = 0;
  out[at++] = FIXMAP + fields + 2;
  out.set(head, at);
  at += head.length;
  out.set(OBJECT_KEY, at);
  at += OBJECT_KEY.length;
  out.set(stored, at);
  at += stored.length;
  out.set(RV_KEY, at);
  at += RV_KEY.length;
  out[at++] = FIXSTR + rvLength;
  out.write(resourceVersion, at, 'latin1');
  return out;
}

const FIXSTR = 0xa0;
const FIXSTR_MAX = 31;
const OBJECT_KEY = pack('object');
const RV_KEY = pack('objectResourceVersion');
const TYPE_KEY = pack('type');
const RESPONSE_HEAD = Buffer.concat([pack('v'), pack(PROTOCOL_VERSION), TYPE_KEY, pack('response')]);

/** Puts back the resourceVersion of a map made by withStoredObject. */
function restoreResourceVersion(env: Record<string, unknown>): void {
  const obj = env.object as { metadata?: Record<string, unknown> } | undefined;
  if (obj && typeof obj.metadata === 'object' && obj.metadata !== null) obj.metadata.resourceVersion = env.objectResourceVersion;
  delete env.objectResourceVersion;
}

const FIXMAP = 0x80;
const FIXMAP_MAX = 15;
const MAP16 = 0xde;

/**
 * A message with one field already encoded, `{ v, type, ...body, [field]: <raw> }`, without
 * decoding and encoding that field again: a watch event goes to many watchers, and only its
 * sequence number differs. A msgpack map is its entry count followed by the entries, so the raw
 * bytes can simply be appended.
 */
export function encodeWithRaw(type: string, body: Record<string, unknown>, field: string, raw: Uint8Array | readonly Uint8Array[]): Uint8Array {
  const head = pack({ ...body, v: PROTOCOL_VERSION, type });
  const key = pack(field);
  // The field's bytes may come in parts (an array's count, then its elements), laid end to end.
  const parts = raw instanceof Uint8Array ? [raw] : raw;
  let rawLength = 0;
  for (const r of parts) rawLength += r.length;
  // allocUnsafe: from Node's pool for small sizes, and every byte is written below.
  const out = Buffer.allocUnsafe(head.length + key.length + rawLength);
  out.set(head, 0);
  // msgpackr writes a map's size as map16 (0xde, two bytes) or, in general, may use a fixmap.
  if (head[0] === MAP16) {
    const n = ((head[1] << 8) | head[2]) + 1;
    out[1] = n >> 8;
    out[2] = n & 0xff;
  } else if (head[0] >= FIXMAP && head[0] < FIXMAP + FIXMAP_MAX) out[0] = head[0] + 1;
  else throw new Error('encodeWithRaw: the body must encode as a small map');
  out.set(key, head.length);
  let at = head.length + key.length;
  for (const r of parts) {
    out.set(r, at);
    at += r.length;
  }
  return out;
}

/** Objects at rest in the KV: msgpack of the object itself, without resourceVersion. */
export function encodeObject(obj: unknown): Uint8Array {
  return pack(obj);
}

export function decodeObject<T>(data: Uint8Array): T {
  return unpack(data) as T;
}
