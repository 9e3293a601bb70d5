// Errors travel as { name, message, code, details } and are rebuilt on the receiving side as the
// named classes below, so `err instanceof Conflict` works across the wire.

export interface FieldError {
  /** e.g. `spec.template.spec.containers[0].command` */
  path: string;
  /** e.g. `required (a process needs a command; image alone cannot run)` */
  message: string;
}

export interface WireError {
  name: string;
  message: string;
  code: number;
  details?: { fields?: FieldError[]; kind?: string; name?: string; retryAfterMs?: number };
}

export class SkiffError extends Error {
  code = 500;
  /**
   * The wire form's `details`, under another name: uvu's failure report reads `err.details` as a
   * string, and an object there made it drop the whole report of a failed test.
   */
  wireDetails?: WireError['details'];
  constructor(message: string, options?: { cause?: unknown; details?: WireError['details'] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.details) this.wireDetails = options.details;
  }
  toWire(): WireError {
    return { name: this.name, message: this.message, code: this.code, ...(this.wireDetails ? { details: this.wireDetails } : {}) };
  }
}

export class BadRequest extends SkiffError { code = 400; }
/** No credentials, or credentials the cluster does not accept. */
export class Unauthorized extends SkiffError { code = 401; }
export class Forbidden extends SkiffError { code = 403; }
export class NotFound extends SkiffError { code = 404; }
export class Conflict extends SkiffError { code = 409; }
export class AlreadyExists extends Conflict {}
export class StaleLeader extends Conflict {}
/** The requested resourceVersion is older than the watch cache holds; the client must relist. */
export class Gone extends SkiffError { code = 410; }
export class Timeout extends SkiffError { code = 504; }
export class Unavailable extends SkiffError { code = 503; }
export class InternalError extends SkiffError { code = 500; }

export class Invalid extends SkiffError {
  code = 422;
  readonly fields: FieldError[];
  constructor(what: string, fields: FieldError[]) {
    super(`${what} is invalid: ${fields.map(formatFieldError).join('; ')}`, { details: { fields } });
    this.fields = fields;
  }
}

export function formatFieldError(e: FieldError): string {
  return e.path ? `${e.path}: ${e.message}` : e.message;
}

const byName: Record<string, new (message: string) => SkiffError> = {
  BadRequest, Unauthorized, Forbidden, NotFound, Conflict, AlreadyExists, StaleLeader, Gone, Timeout, Unavailable, InternalError,
};

/** Rebuilds a named error class from its wire form. */
export function fromWire(w: WireError): SkiffError {
  if (w.name === 'Invalid') {
    const err = new Invalid('object', w.details?.fields ?? [{ path: '', message: w.message }]);
    err.message = w.message;
    return err;
  }
  const Cls = byName[w.name] ?? InternalError;
  const err = new Cls(w.message);
  if (w.details) err.wireDetails = w.details;
  return err;
}

/** The message of any thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Any thrown value as a wire error; unknown exceptions become InternalError. */
export function toWire(err: unknown): WireError {
  if (err instanceof SkiffError) return err.toWire();
  return { name: 'InternalError', message: errorMessage(err), code: 500 };
}

export function isNotFound(err: unknown): err is NotFound {
  return err instanceof NotFound;
}
