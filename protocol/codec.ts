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
  return env as Envelope;
}

/** Objects at rest in the KV: msgpack of the object itself, without resourceVersion. */
export function encodeObject(obj: unknown): Uint8Array {
  return pack(obj);
}

export function decodeObject<T>(data: Uint8Array): T {
  return unpack(data) as T;
}
