// Every message on the wire is msgpack `{ v, type, ... }`. Plain pack/unpack only: shared record
// structures would leave a late-joining process unable to decode.
import { pack, unpack } from 'msgpackr';
import { BadRequest } from './errors.ts';

export const PROTOCOL_VERSION = 1;

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
  return env as Envelope;
}

/**
 * A response carrying an object exactly as the store holds it (its msgpack without
 * resourceVersion), and its resourceVersion beside it: the apiserver answers a write or a get
 * without encoding the object again. `decode` puts the resourceVersion back in place.
 */
export function encodeWithStoredObject(stored: Uint8Array, resourceVersion: string): Uint8Array {
  // Written by hand, as this is on every write's path: fixmap(4) { v, type: 'response', objectResourceVersion, object }.
  const head = STORED_OBJECT_HEAD;
  const rvLength = Buffer.byteLength(resourceVersion, 'latin1');
  if (rvLength > FIXSTR_MAX) throw new Error(`encodeWithStoredObject: resourceVersion ${resourceVersion} is too long`);
  const out = Buffer.allocUnsafe(1 + head.length + 1 + rvLength + OBJECT_KEY.length + stored.length);
  let at = 0;
  out[at++] = FIXMAP + 4;
  out.set(head, at);
  at += head.length;
  out[at++] = FIXSTR + rvLength;
  at += out.write(resourceVersion, at, 'latin1');
  out.set(OBJECT_KEY, at);
  out.set(stored, at + OBJECT_KEY.length);
  return out;
}

const FIXSTR = 0xa0;
const FIXSTR_MAX = 31;
const OBJECT_KEY = pack('object');
const STORED_OBJECT_HEAD = Buffer.concat([pack('v'), pack(PROTOCOL_VERSION), pack('type'), pack('response'), pack('objectResourceVersion')]);

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
export function encodeWithRaw(type: string, body: Record<string, unknown>, field: string, raw: Uint8Array): Uint8Array {
  const head = pack({ ...body, v: PROTOCOL_VERSION, type });
  const key = pack(field);
  // allocUnsafe: from Node's pool for small sizes, and every byte is written below.
  const out = Buffer.allocUnsafe(head.length + key.length + raw.length);
  out.set(head, 0);
  // msgpackr writes a map's size as map16 (0xde, two bytes) or, in general, may use a fixmap.
  if (head[0] === MAP16) {
    const n = ((head[1] << 8) | head[2]) + 1;
    out[1] = n >> 8;
    out[2] = n & 0xff;
  } else if (head[0] >= FIXMAP && head[0] < FIXMAP + FIXMAP_MAX) out[0] = head[0] + 1;
  else throw new Error('encodeWithRaw: the body must encode as a small map');
  out.set(key, head.length);
  out.set(raw, head.length + key.length);
  return out;
}

/** Objects at rest in the KV: msgpack of the object itself, without resourceVersion. */
export function encodeObject(obj: unknown): Uint8Array {
  return pack(obj);
}

export function decodeObject<T>(data: Uint8Array): T {
  return unpack(data) as T;
}
