// The shared SDK scenarios, run against a real server: scripts/sdk-scenarios starts one and sets
// KILN_ADDRESS (host:port), KILN_VECTORS (tests/vectors) and KILN_SCENARIO_OUT (a directory for
// typescript.sha256). Without KILN_ADDRESS these tests are skipped. The mutual-TLS scenario runs
// against a second server, KILN_TLS_ADDRESS, with the PEM files KILN_TLS_CA, KILN_TLS_CLIENT_CERT
// and KILN_TLS_CLIENT_KEY; without KILN_TLS_ADDRESS it is skipped.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Code, KilnClient, KilnError } from "../src/index.js";

const address = process.env.KILN_ADDRESS;
const tlsAddress = process.env.KILN_TLS_ADDRESS;
const vectorsDir = process.env.KILN_VECTORS ?? join(import.meta.dirname ?? ".", "..", "..", "..", "..", "tests", "vectors");
const GAN = "digits-gan";

interface Vectors {
  digit: { file: string; shape: number[]; label: number };
  generate: { model: string; count: number; seed: number; chunk_size: number; sha256_of_samples: string | null };
}

async function rejection(promise: Promise<unknown>): Promise<KilnError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof KilnError, `expected a KilnError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call succeeded");
}

describe("scenarios against a real server", { skip: address ? false : "KILN_ADDRESS is not set: run scripts/sdk-scenarios typescript" }, () => {
  const client = new KilnClient(address ?? "", { timeoutMs: 60_000 });
  after(() => client.close());
  const vectors = JSON.parse(readFileSync(join(vectorsDir, "vectors.json"), "utf8")) as Vectors;
  let names: Promise<string[]> | undefined;
  const modelNames = () => (names ??= client.listModels().then((models) => models.map((m) => m.name)));
  const ganSkip = async (): Promise<string | false> => {
    const served = await modelNames();
    return served.includes(GAN) ? false : `SKIP: model "${GAN}" is not served by this server (models: ${served.join(", ")}); the GAN scenarios are skipped`;
  };

  test("list models: digits (and digits-gan) are present", async (t) => {
    const models = await client.listModels();
    const served = models.map((m) => m.name);
    assert.deepEqual(served, [...served].sort());
    const digits = await client.getModel("digits");
    assert.ok(digits.ready && digits.capabilities.includes("predict"), JSON.stringify(digits));
    assert.equal(digits.inputs[0]?.dtype, "float32");
    await t.test(GAN, async (t) => {
      const skip = await ganSkip();
      if (skip) return t.skip(skip);
      assert.ok((await client.getModel(GAN)).capabilities.includes("generate"));
    });
  });

  test("predict digits on the test image gives the expected label", async () => {
    const raw = readFileSync(join(vectorsDir, vectors.digit.file));
    const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const outputs = await client.predict("digits", { image: { shape: vectors.digit.shape, data: pixels } });
    assert.equal(outputs.label?.dtype, "int64");
    assert.deepEqual(Array.from(outputs.label!.data as BigInt64Array), [BigInt(vectors.digit.label)]);
    const probabilities = Array.from(outputs.probabilities!.data as Float32Array);
    assert.deepEqual(outputs.probabilities!.shape, [1, 10]);
    assert.equal(probabilities.indexOf(Math.max(...probabilities)), vectors.digit.label);
  });

  test("streamPredict: results in the order sent, a bad batch fails alone", async () => {
    const raw = readFileSync(join(vectorsDir, vectors.digit.file));
    const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const image = { shape: vectors.digit.shape, data: pixels };
    const wrong = { shape: [1, 27, 28, 1], data: new Float32Array(27 * 28) };
    const results = [];
    for await (const result of client.streamPredict("digits", [{ image }, { image: wrong }, { image }])) results.push(result);
    assert.deepEqual(results.map((r) => r.requestId), ["0", "1", "2"]);
    for (const result of [results[0]!, results[2]!]) {
      assert.equal(result.error, undefined);
      assert.equal(result.outputs?.label?.dtype, "int64");
      assert.deepEqual(Array.from(result.outputs!.label!.data as BigInt64Array), [BigInt(vectors.digit.label)]);
    }
    assert.equal(results[1]!.outputs, undefined);
    const err = results[1]!.error;
    assert.ok(err instanceof KilnError, `expected a KilnError, got ${String(err)}`);
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.reason, "INPUT_SHAPE_MISMATCH");
    assert.equal(err.field, "inputs[image].shape");
  });

  test("generate: seeded samples, chunked, digest written", async (t) => {
    const skip = await ganSkip();
    if (skip) return t.skip(skip);
    const g = vectors.generate;
    const digest = createHash("sha256");
    let index = 0;
    let done = 0;
    for await (const chunk of client.generate(g.model, g.count, { seed: g.seed, chunkSize: g.chunk_size, timeoutMs: 120_000 })) {
      assert.equal(chunk.index, index);
      assert.equal(chunk.total, g.count);
      assert.ok(chunk.samples);
      done += chunk.samples.shape[0]!;
      assert.equal(chunk.done, done);
      digest.update(chunk.samples.bytes);
      index++;
    }
    assert.equal(done, g.count);
    assert.equal(index, Math.ceil(g.count / g.chunk_size));
    const sum = digest.digest("hex");
    t.diagnostic(`sha256 of samples: ${sum}`);
    if (process.env.KILN_SCENARIO_OUT) writeFileSync(join(process.env.KILN_SCENARIO_OUT, "typescript.sha256"), `${sum}\n`);
    if (g.sha256_of_samples !== null) assert.equal(sum, g.sha256_of_samples);
  });

  test("unknown model: NOT_FOUND / MODEL_NOT_FOUND", async () => {
    const err = await rejection(client.getModel("no-such-model"));
    assert.equal(err.code, Code.NotFound);
    assert.equal(err.reason, "MODEL_NOT_FOUND");
    const predictErr = await rejection(client.predict("no-such-model", { image: { shape: [1], data: new Float32Array(1) } }));
    assert.equal(predictErr.code, Code.NotFound);
    assert.equal(predictErr.reason, "MODEL_NOT_FOUND");
  });

  test("wrong input shape: INVALID_ARGUMENT / INPUT_SHAPE_MISMATCH on inputs[image].shape", async () => {
    const image = { shape: [1, 27, 28, 1], data: new Float32Array(27 * 28) };
    const err = await rejection(client.predict("digits", { image }));
    assert.equal(err.code, Code.InvalidArgument);
    assert.equal(err.reason, "INPUT_SHAPE_MISMATCH");
    assert.equal(err.field, "inputs[image].shape");
    assert.equal(err.domain, "kiln.dev");
  });

  test("generate from a classifier: FAILED_PRECONDITION / GENERATION_UNSUPPORTED", async () => {
    const err = await rejection((async () => {
      for await (const _ of client.generate("digits", 1)) assert.fail("got a chunk");
    })());
    assert.equal(err.code, Code.FailedPrecondition);
    assert.equal(err.reason, "GENERATION_UNSUPPORTED");
  });

  test("cancelling a generate stream after the first chunk returns promptly", async (t) => {
    const skip = await ganSkip();
    if (skip) return t.skip(skip);
    const controller = new AbortController();
    let received = 0;
    let started = 0;
    const err = await rejection((async () => {
      for await (const chunk of client.generate(GAN, 4096, { seed: 1, chunkSize: 16, signal: controller.signal })) {
        if (received++ === 0) {
          assert.equal(chunk.index, 0);
          assert.equal(chunk.total, 4096);
          started = performance.now();
          controller.abort();
        }
      }
    })());
    const elapsed = performance.now() - started;
    assert.equal(err.code, Code.Canceled);
    assert.ok(elapsed < 2000 && received < 4096 / 16, `cancel took ${elapsed} ms, ${received} chunks arrived`);
    // Leaving the loop with break cancels too, and the server keeps serving.
    for await (const _ of client.generate(GAN, 4096, { seed: 1, chunkSize: 16 })) break;
    assert.ok((await client.getModel(GAN)).ready);
  });
});

describe("mutual TLS against a real server", { skip: tlsAddress ? false : "KILN_TLS_ADDRESS is not set: run scripts/sdk-scenarios typescript" }, () => {
  test("a client certificate signed by the CA is accepted; without one the call fails", async () => {
    const vectors = JSON.parse(readFileSync(join(vectorsDir, "vectors.json"), "utf8")) as Vectors;
    const raw = readFileSync(join(vectorsDir, vectors.digit.file));
    const pixels = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const ca = readFileSync(process.env.KILN_TLS_CA!);
    const cert = readFileSync(process.env.KILN_TLS_CLIENT_CERT!);
    const key = readFileSync(process.env.KILN_TLS_CLIENT_KEY!);

    const client = new KilnClient(tlsAddress!, { tls: { ca, cert, key }, timeoutMs: 30_000 });
    try {
      const outputs = await client.predict("digits", { image: { shape: vectors.digit.shape, data: pixels } });
      assert.deepEqual(Array.from(outputs.label!.data as BigInt64Array), [BigInt(vectors.digit.label)]);
    } finally {
      client.close();
    }

    // Without a client certificate the server refuses the connection. Over TLS 1.3 the client's side
    // of the handshake is complete before the server checks for a certificate, so the call is
    // already on the HTTP/2 connection when the server closes it, without a TLS alert. Node ends
    // the open stream with code CANCEL; the caller did not cancel, so the SDK reports UNAVAILABLE,
    // as the other SDKs do, and at once.
    const anonymous = new KilnClient(tlsAddress!, { tls: { ca } });
    try {
      const err = await rejection(anonymous.listModels({ timeoutMs: 5_000 }));
      assert.equal(err.code, Code.Unavailable, err.message);
      assert.match(err.rawMessage, /CANCEL/);
    } finally {
      anonymous.close();
    }
  });
});
