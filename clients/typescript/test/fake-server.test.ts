// The client against an in-process fake server (connect-node's gRPC handler over h2c): streaming,
// cancellation, the bearer token and error details, without a real Kiln server.
import assert from "node:assert/strict";
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "../src/errdetails.js";
import { InferenceService } from "../src/gen/kiln/v1/inference_service_pb.js";
import { ModelService } from "../src/gen/kiln/v1/model_service_pb.js";
import { KilnClient, KilnError } from "../src/index.js";
import { toTensorProto } from "../src/tensor.js";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("against a fake server", () => {
  let server: Http2Server;
  let client: KilnClient;
  const seen = { authorization: "", cancelled: 0, produced: 0 };

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
});
