import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { findTrailerError, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { BadRequestSchema, ErrorInfoSchema } from "../src/errdetails.js";
import { fromStreamError, KilnError } from "../src/errors.js";
import { ErrorSchema } from "../src/gen/kiln/v1/inference_service_pb.js";

test("ErrorInfo and BadRequest are decoded from grpc-status-details-bin", () => {
  const sent = new ConnectError("input image has shape [1, 27, 28, 1]", Code.InvalidArgument, undefined, [
    {
      desc: ErrorInfoSchema,
      value: create(ErrorInfoSchema, {
        reason: "INPUT_SHAPE_MISMATCH",
        domain: "kiln.dev",
        metadata: { model: "digits" },
      } as never),
    },
    {
      desc: BadRequestSchema,
      value: create(BadRequestSchema, {
        fieldViolations: [{ field: "inputs[image].shape", description: "wrong shape", reason: "INPUT_SHAPE_MISMATCH" }],
      } as never),
    },
  ]);
  const trailer = setTrailerStatus(new Headers(), sent);
  assert.ok(trailer.get("grpc-status-details-bin"));
  const received = findTrailerError(trailer);
  const err = KilnError.from(received) as KilnError;
  assert.ok(err instanceof KilnError);
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.codeName, "INVALID_ARGUMENT");
  assert.equal(err.reason, "INPUT_SHAPE_MISMATCH");
  assert.equal(err.domain, "kiln.dev");
  assert.deepEqual(err.metadata, { model: "digits" });
  assert.equal(err.field, "inputs[image].shape");
  assert.equal(err.rawMessage, "input image has shape [1, 27, 28, 1]");
  assert.equal(err.message, "INVALID_ARGUMENT (INPUT_SHAPE_MISMATCH): input image has shape [1, 27, 28, 1]");
});

test("errors without details and non-gRPC errors", () => {
  const err = KilnError.from(new ConnectError("connection refused", Code.Unavailable)) as KilnError;
  assert.equal(err.code, Code.Unavailable);
  assert.equal(err.reason, "");
  assert.equal(err.field, "");
  const plain = new TypeError("bad input");
  assert.equal(KilnError.from(plain), plain);
});

test("CANCELLED is UNAVAILABLE unless the caller cancelled", () => {
  const dropped = new ConnectError("http/2 stream closed with error code CANCEL (0x8)", Code.Canceled);
  assert.equal((KilnError.from(dropped) as KilnError).code, Code.Unavailable);
  const controller = new AbortController();
  assert.equal((KilnError.from(dropped, controller.signal) as KilnError).code, Code.Unavailable);
  controller.abort();
  assert.equal((KilnError.from(dropped, controller.signal) as KilnError).code, Code.Canceled);
});

test("an in-stream kiln.v1.Error decodes like the status of a unary call", () => {
  const err = fromStreamError(
    create(ErrorSchema, {
      code: 3,
      message: "input image has shape [1, 27, 28, 1]",
      reason: "INPUT_SHAPE_MISMATCH",
      metadata: { model: "digits" },
      field: "inputs[image].shape",
    }),
  );
  assert.ok(err instanceof KilnError);
  assert.equal(err.code, Code.InvalidArgument);
  assert.equal(err.reason, "INPUT_SHAPE_MISMATCH");
  assert.equal(err.domain, "kiln.dev");
  assert.deepEqual(err.metadata, { model: "digits" });
  assert.equal(err.field, "inputs[image].shape");
  assert.deepEqual(err.violations, [{ field: "inputs[image].shape", description: "input image has shape [1, 27, 28, 1]" }]);
  assert.equal(err.message, "INVALID_ARGUMENT (INPUT_SHAPE_MISMATCH): input image has shape [1, 27, 28, 1]");
  const internal = fromStreamError(create(ErrorSchema, { code: 13, message: "internal error", reason: "INTERNAL" }));
  assert.equal(internal.codeName, "INTERNAL");
  assert.equal(internal.field, "");
  assert.deepEqual(internal.violations, []);
});
