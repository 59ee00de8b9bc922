// KilnError: a failed call, with the server's google.rpc.ErrorInfo / BadRequest decoded.
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema, type BadRequest, type ErrorInfo } from "./errdetails.js";
import type { Error as ErrorProto } from "./gen/kiln/v1/inference_service_pb.js";

export { Code };

/** Domain of every ErrorInfo the Kiln server emits. */
export const ERROR_DOMAIN = "kiln.dev";

/** One bad field of a request (google.rpc.BadRequest.FieldViolation). */
export interface FieldViolation {
  /** Path of the field, e.g. "inputs[image].shape". */
  field: string;
  /** What is wrong with it. */
  description: string;
}

const CODE_NAMES: Record<number, string> = {
  0: "OK",
  1: "CANCELLED",
  2: "UNKNOWN",
  3: "INVALID_ARGUMENT",
  4: "DEADLINE_EXCEEDED",
  5: "NOT_FOUND",
  6: "ALREADY_EXISTS",
  7: "PERMISSION_DENIED",
  8: "RESOURCE_EXHAUSTED",
  9: "FAILED_PRECONDITION",
  10: "ABORTED",
  11: "OUT_OF_RANGE",
  12: "UNIMPLEMENTED",
  13: "INTERNAL",
  14: "UNAVAILABLE",
  15: "DATA_LOSS",
  16: "UNAUTHENTICATED",
};

/** A call to the Kiln server failed. */
export class KilnError extends Error {
  override name = "KilnError";
  /** gRPC status code (numerically the same as connect's `Code`, e.g. Code.NotFound = 5). */
  readonly code: Code;
  /** Machine-readable reason (ErrorInfo.reason), e.g. "MODEL_NOT_FOUND"; "" when none was sent. */
  readonly reason: string;
  /** ErrorInfo.domain ("kiln.dev" for the server's own errors). */
  readonly domain: string;
  /** ErrorInfo.metadata: facts such as the model name or a limit. */
  readonly metadata: Record<string, string>;
  /** The offending request fields, for bad input. */
  readonly violations: FieldViolation[];
  /** The server's message for people. */
  readonly rawMessage: string;

  constructor(
    code: Code,
    message: string,
    details: { reason?: string; domain?: string; metadata?: Record<string, string>; violations?: FieldViolation[] } = {},
    options?: { cause?: unknown },
  ) {
    const reason = details.reason ?? "";
    super(`${CODE_NAMES[code] ?? code}${reason ? ` (${reason})` : ""}: ${message}`, options);
    this.code = code;
    this.rawMessage = message;
    this.reason = reason;
    this.domain = details.domain ?? "";
    this.metadata = details.metadata ?? {};
    this.violations = details.violations ?? [];
  }

  /** The gRPC name of the code, e.g. "NOT_FOUND". */
  get codeName(): string {
    return CODE_NAMES[this.code] ?? String(this.code);
  }

  /** The first offending field (e.g. "inputs[image].shape"), or "". */
  get field(): string {
    return this.violations[0]?.field ?? "";
  }

  /**
   * Converts any error from a call: a ConnectError becomes a KilnError with its status details
   * decoded; other errors (e.g. a TypeError from a malformed input) are returned unchanged.
   *
   * `signal` is the caller's abort signal for the call. A CANCELLED that the caller did not
   * ask for (the signal is absent or not aborted) means the connection went away under the
   * call, e.g. a server that refused the TLS handshake after TLS 1.3 let the request go out;
   * it becomes UNAVAILABLE, as the other Kiln SDKs report it, so that retry policies see it.
   */
  static from(err: unknown, signal?: AbortSignal): unknown {
    if (err instanceof KilnError || !(err instanceof ConnectError)) return err;
    const code = err.code === Code.Canceled && !signal?.aborted ? Code.Unavailable : err.code;
    const info = err.findDetails(ErrorInfoSchema)[0] as unknown as ErrorInfo | undefined;
    const violations = (err.findDetails(BadRequestSchema) as unknown as BadRequest[]).flatMap((d) =>
      d.fieldViolations.map((v) => ({ field: v.field, description: v.description })),
    );
    return new KilnError(
      code,
      err.rawMessage,
      { reason: info?.reason, domain: info?.domain, metadata: info?.metadata, violations },
      { cause: err },
    );
  }
}

/**
 * Decodes a kiln.v1.Error (the failure of one request inside a stream) into the KilnError a unary
 * call would have thrown for it: same code, reason, metadata and field.
 */
export function fromStreamError(error: ErrorProto): KilnError {
  const violations = error.field ? [{ field: error.field, description: error.message }] : [];
  // Only the Kiln server sends kiln.v1.Error, so the domain is its own.
  return new KilnError(error.code as Code, error.message, {
    reason: error.reason,
    domain: ERROR_DOMAIN,
    metadata: { ...error.metadata },
    violations,
  });
}
