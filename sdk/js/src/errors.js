// Errors of the SDK: one class per error code of the spec, and one per kind of HTTP failure.
// Every one carries `code` (1001-1005, or the HTTP status for other errors), `message` (the
// server's upper-case name, e.g. NODE_NOT_FOUND), `detail` and `status` (HTTP).

export class SwarmError extends Error {
  static code = 0;
  static errorName = 'ERROR';

  /**
   * @param {unknown} [detail] the server's detail: text, or field errors for VALIDATION_ERROR
   * @param {{code?: number, message?: string, status?: number}} [options]
   */
  constructor(detail = '', { code, message, status = 0 } = {}) {
    const self = /** @type {typeof SwarmError} */ (new.target);
    const c = code ?? self.code;
    const m = message ?? self.errorName;
    const text = typeof detail === 'string' ? detail : JSON.stringify(detail);
    super(text ? `${c} ${m}: ${text}` : `${c} ${m}`);
    this.name = self.name;
    /** @type {number} */
    this.code = c;
    /** @type {string} the server's upper-case name: NODE_NOT_FOUND, VALIDATION_ERROR, … */
    this.errorName = m;
    /** @type {unknown} */
    this.detail = detail;
    /** @type {number} */
    this.status = status;
  }
}

// --- the spec's domain errors ------------------------------------------------------------------
export class NodeNotFound extends SwarmError { static code = 1001; static errorName = 'NODE_NOT_FOUND'; }
export class TrainingInProgress extends SwarmError { static code = 1002; static errorName = 'TRAINING_IN_PROGRESS'; }
export class ConsensusFailed extends SwarmError { static code = 1003; static errorName = 'CONSENSUS_FAILED'; }
export class ModelCorrupt extends SwarmError { static code = 1004; static errorName = 'MODEL_CORRUPT'; }
export class NetworkPartition extends SwarmError { static code = 1005; static errorName = 'NETWORK_PARTITION'; }

// --- everything else, by HTTP status -----------------------------------------------------------
/** 400: `detail` maps each offending field to its messages. */
export class ValidationError extends SwarmError { static code = 400; static errorName = 'VALIDATION_ERROR'; }
export class AuthenticationError extends SwarmError { static code = 401; static errorName = 'NOT_AUTHENTICATED'; }
export class PermissionDenied extends SwarmError { static code = 403; static errorName = 'PERMISSION_DENIED'; }
export class NotFound extends SwarmError { static code = 404; static errorName = 'NOT_FOUND'; }
export class Conflict extends SwarmError { static code = 409; static errorName = 'CONFLICT'; }
/** 429 after the client's retries; `retryAfter` is the server's last Retry-After (seconds). */
export class RateLimited extends SwarmError {
  static code = 429;
  static errorName = 'RATE_LIMITED';
  /** @type {number | null} */
  retryAfter = null;
}
export class ServerError extends SwarmError { static code = 500; static errorName = 'INTERNAL_ERROR'; }
/** The server could not be reached (refused, timed out, DNS). */
export class ConnectionFailed extends SwarmError { static code = 0; static errorName = 'CONNECTION_FAILED'; }
/** A downloaded checkpoint whose bytes do not match the sha256 the server announced. */
export class DownloadCorrupt extends ModelCorrupt {}

/** @type {Record<number, typeof SwarmError>} */
const BY_CODE = Object.fromEntries(
  [NodeNotFound, TrainingInProgress, ConsensusFailed, ModelCorrupt, NetworkPartition].map((c) => [c.code, c]),
);
/** @type {Record<number, typeof SwarmError>} */
const BY_STATUS = Object.fromEntries(
  [ValidationError, AuthenticationError, PermissionDenied, NotFound, Conflict, RateLimited].map((c) => [c.code, c]),
);

/**
 * The error for an error response: by the body's code first, else by the HTTP status.
 * @param {number} status
 * @param {unknown} body the decoded JSON body, or the text of a body that is not JSON
 * @returns {SwarmError}
 */
export function errorFor(status, body) {
  const fallback = BY_STATUS[status] ?? (status >= 500 ? ServerError : SwarmError);
  const error = body && typeof body === 'object' && 'error' in body ? body.error : null;
  if (!error || typeof error !== 'object') {
    return new fallback(typeof body === 'string' ? body : '', { code: status, status });
  }
  const { code = status, message, detail = '' } = /** @type {{code?: number, message?: string, detail?: unknown}} */ (error);
  const cls = BY_CODE[code] ?? fallback;
  return new cls(detail, { code, message, status });
}
