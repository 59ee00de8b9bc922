// The client against an in-process fake server (connect-node's gRPC handler over h2c): streaming,
// cancellation, the bearer token, error details and the ordering of StreamPredict results, without
// a real Kiln server.
import assert from "node:assert/strict";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../src/errdetails.js";
import {
  ErrorSchema,
  InferenceService,
  type PredictRequest,
  type StreamPredictResponse,
  StreamPredictResponseSchema,
} from "../src/gen/kiln/v1/inference_service_pb.js";
import { ModelService } from "../src/gen/kiln/v1/model_service_pb.js";
import { KilnClient, KilnError } from "../src/index.js";
import { fromTensorProto, type TensorInput, toTensorProto } from "../src/tensor.js";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// The fake StreamPredict answer: y = 2x, or an error when there is no input x.
function answer(requestId: string, request: PredictRequest | undefined): StreamPredictResponse {
  const x = request?.inputs.x;
  if (!x) {
    const error = create(ErrorSchema, {
      code: Code.InvalidArgument,
      message: "missing input x",
      reason: "INPUT_MISSING",
      metadata: { model: request?.model ?? "" },
      field: "inputs[x]",
    });
    return create(StreamPredictResponseSchema, { requestId, result: { case: "error", value: error } });
  }
  const data = (fromTensorProto(x).data as Float32Array).map((v) => v * 2);
  const outputs = { y: toTensorProto("y", { shape: x.shape.map(Number), data }) };
  return create(StreamPredictResponseSchema, { requestId, result: { case: "response", value: { model: request.model, outputs } } });
}

const batch = (...values: number[]): Record<string, TensorInput> => ({
  x: { shape: [values.length], data: Float32Array.from(values) },
});
async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all = [];
  for await (const item of items) all.push(item);
  return all;
}
const ys = (results: { outputs?: Record<string, { data: unknown }> }[]) =>
  results.map((r) => (r.outputs ? Array.from(r.outputs.y!.data as Float32Array) : null));

describe("against a fake server", () => {
  let server: Http2Server;
  let client: KilnClient;
  const seen = { authorization: "", cancelled: 0, produced: 0, streamCancelled: 0 };

  const routes = (router: ConnectRouter) => {
    router.service(ModelService, {
      listModels: (_request, context) => {
        seen.authorization = context.requestHeader.get("authorization") ?? "";
        return { models: [] };
      },
      getModel: (request) => {
        throw new ConnectError(`no model named ${request.name}`, Code.NotFound, undefined, [
          { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "MODEL_NOT_FOUND", domain: "kiln.dev" } as never) },
        ]);
      },
    });
    router.service(InferenceService, {
      // Model "reverse" answers after the half-close, last request first; "drop" never answers
      // request "1"; "broken" fails the whole stream at its second request; others answer at once.
      async *streamPredict(requests, context) {
        const held: StreamPredictResponse[] = [];
        let count = 0;
        try {
          for await (const { requestId, request } of requests) {
            const model = request?.model;
            if (model === "broken" && count++ === 1) {
              throw new ConnectError("the model crashed", Code.Internal, undefined, [
                { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason: "INTERNAL", domain: "kiln.dev" } as never) },
              ]);
            }
            if (model === "drop" && requestId === "1") continue;
            if (model === "reverse") held.unshift(answer(requestId, request));
            else yield answer(requestId, request);
          }
          yield* held;
        } finally {
          if (context.signal.aborted) seen.streamCancelled++;
        }
      },
      async *generate(request, context) {
        const chunk = Number(request.chunkSize);
        try {
          for (let index = 0, done = 0; done < request.count; index++) {
            await delay(20);
            if (context.signal.aborted) return;
            const n = Math.min(chunk, Number(request.count) - done);
            done += n;
            seen.produced++;
            const samples = toTensorProto("samples", { shape: [n, 2], data: new Float32Array(n * 2).fill(index) });
            yield { chunkIndex: BigInt(index), samples, samplesDone: BigInt(done), samplesTotal: request.count };
          }
        } finally {
          if (context.signal.aborted) seen.cancelled++;
        }
      },
    });
  };

  before(async () => {
    server = createServer(connectNodeAdapter({ routes }));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    client = new KilnClient(`127.0.0.1:${port}`, { token: "s3cret" });
  });
  after(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  test("the bearer token is sent", async () => {
    await client.listModels();
    assert.equal(seen.authorization, "Bearer s3cret");
  });

  test("status details become KilnError fields", async () => {
    await assert.rejects(client.getModel("nope"), (err) => {
      assert.ok(err instanceof KilnError);
      assert.equal(err.code, Code.NotFound);
      assert.equal(err.reason, "MODEL_NOT_FOUND");
      return true;
    });
  });

  test("generate streams every chunk in order", async () => {
    const chunks = [];
    for await (const chunk of client.generate("fake", 10, { chunkSize: 4 })) chunks.push(chunk);
    assert.deepEqual(chunks.map((c) => [c.index, c.done, c.total, c.samples?.shape[0]]), [
      [0, 4, 10, 4],
      [1, 8, 10, 4],
      [2, 10, 10, 2],
    ]);
    assert.deepEqual(Array.from(chunks[2]!.samples!.data as Float32Array), [2, 2, 2, 2]);
  });

  test("breaking out of the loop cancels the call on the server", async () => {
    const before = seen.cancelled;
    for await (const _ of client.generate("fake", 100_000, { chunkSize: 1 })) break;
    for (let i = 0; i < 100 && seen.cancelled === before; i++) await delay(10);
    assert.equal(seen.cancelled, before + 1);
  });

  test("aborting the signal cancels promptly with CANCELLED", async () => {
    const controller = new AbortController();
    const produced = seen.produced;
    let received = 0;
    const started = performance.now();
    await assert.rejects(
      (async () => {
        for await (const _ of client.generate("fake", 100_000, { chunkSize: 16, signal: controller.signal })) {
          if (received++ === 0) controller.abort();
        }
      })(),
      (err) => err instanceof KilnError && err.code === Code.Canceled,
    );
    assert.ok(received <= 3, `${received} chunks arrived after the abort`);
    assert.ok(performance.now() - started < 1000);
    await delay(100);
    assert.ok(seen.produced - produced < 10, "the server kept producing after the cancel");
  });

  test("streamPredict yields results in the order sent, failed batches included", async () => {
    const batches = [batch(1), batch(2, 3), {}, batch(4), batch(5)];
    const results = [];
    for await (const result of client.streamPredict("reverse", batches)) results.push(result);
    assert.deepEqual(results.map((r) => r.requestId), ["0", "1", "2", "3", "4"]);
    assert.deepEqual(ys(results), [[2], [4, 6], null, [8], [10]]);
    assert.deepEqual(results[1]!.outputs!.y!.shape, [2]);
    const error = results[2]!.error;
    assert.ok(error instanceof KilnError);
    assert.equal(error.code, Code.InvalidArgument);
    assert.equal(error.reason, "INPUT_MISSING");
    assert.equal(error.field, "inputs[x]");
    assert.equal(error.domain, "kiln.dev");
    assert.deepEqual(error.metadata, { model: "reverse" });
    assert.equal(error.rawMessage, "missing input x");
    assert.equal(error.message, "INVALID_ARGUMENT (INPUT_MISSING): missing input x");
    assert.ok(results.every((r, i) => (i === 2 ? r.outputs === undefined : r.error === undefined)));
  });

  test("streamPredict sends while results arrive, from an async iterable", async () => {
    let received = 0;
    async function* batches() {
      for (let i = 0; i < 4; i++) {
        // Each batch waits for the result of the one before: the stream is full duplex.
        while (received < i) await delay(1);
        yield batch(i);
      }
    }
    const results = [];
    for await (const result of client.streamPredict("echo", batches())) {
      results.push(result);
      received++;
    }
    assert.deepEqual(ys(results), [[0], [2], [4], [6]]);
    assert.deepEqual(await collect(client.streamPredict("echo", [])), []);
  });

  test("streamPredict: stream failures are KilnErrors; errors of the batches are thrown unchanged", async () => {
    const results: unknown[] = [];
    await assert.rejects(
      (async () => {
        for await (const result of client.streamPredict("broken", [batch(1), batch(2), batch(3)])) results.push(result);
      })(),
      (err) => err instanceof KilnError && err.code === Code.Internal && err.reason === "INTERNAL",
    );
    assert.ok(results.length <= 1);
    const oops = new Error("no more batches");
    await assert.rejects(
      collect(
        client.streamPredict("echo", (function* () {
          yield batch(1);
          throw oops;
        })()),
      ),
      (err) => err === oops,
    );
    await assert.rejects(
      collect(client.streamPredict("echo", [batch(1), { x: { shape: [2], data: new Float32Array(3) } }])),
      (err) => err instanceof RangeError && /needs 2 elements/.test(err.message),
    );
    await assert.rejects(
      collect(client.streamPredict("drop", [batch(1), batch(2), batch(3)])),
      (err) => err instanceof KilnError && err.code === Code.Internal && /request "1" \(1 of 3 unanswered\)/.test(err.message),
    );
  });

  test("breaking out of a streamPredict loop cancels the call on the server", async () => {
    const before = seen.streamCancelled;
    async function* endless() {
      for (let i = 0; ; i++) yield batch(i);
    }
    for await (const _ of client.streamPredict("echo", endless())) break;
    for (let i = 0; i < 100 && seen.streamCancelled === before; i++) await delay(10);
    assert.equal(seen.streamCancelled, before + 1);
  });
});
