// KilnClient: the Kiln gRPC API over Node's HTTP/2 (connect-node's gRPC transport).
import { type CallOptions, type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  type GenerateResponse,
  InferenceService,
  type PredictResponse,
  SampleEncoding,
  type StreamPredictResponse,
} from "./gen/kiln/v1/inference_service_pb.js";
import { Capability, type Model, ModelService, ModelState } from "./gen/kiln/v1/model_service_pb.js";
import type { TensorSignature } from "./gen/kiln/v1/tensor_pb.js";
import { Code, fromStreamError, KilnError } from "./errors.js";
import { type DType, dtypeFromProto, fromTensorProto, type Tensor, type TensorInput, toTensorProto } from "./tensor.js";

/** Largest message the client sends or accepts (the server has its own limit). */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/** Options of a KilnClient. */
export interface KilnClientOptions {
  /**
   * Connect over TLS: `true` trusts the system's roots; an object adds a CA bundle (`ca`) and,
   * for mutual TLS, a client certificate and key (PEM). Default: plaintext.
   */
  tls?: boolean | { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Bearer token sent with every call (`authorization: Bearer <token>`). */
  token?: string;
  /** Deadline of each unary call in milliseconds (default 30000; 0 = none). Streams have none unless given per call. */
  timeoutMs?: number;
  /** Extra connect interceptors (logging, tracing, ...). */
  interceptors?: Interceptor[];
}

/** Per-call options. */
export interface KilnCallOptions {
  /** Deadline of this call in milliseconds. */
  timeoutMs?: number;
  /** Aborting the signal cancels the call (and the server's work). */
  signal?: AbortSignal;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

/** Options of `predict`. */
export interface PredictOptions extends KilnCallOptions {
  /** Model version ("" = the newest ready one). */
  version?: string;
  /** Names of the outputs to return (default: all). */
  outputs?: string[];
}

/** Options of `generate`. */
export interface GenerateOptions extends KilnCallOptions {
  /** Seed; equal seeds give equal samples whatever the chunk size (default 0). */
  seed?: number | bigint;
  /** Samples per chunk (default 0 = the server's choice). */
  chunkSize?: number;
  /** Also return each sample as a PNG ("both"), or only PNGs ("only"). Default: tensors only. */
  png?: "both" | "only";
  /** Model version ("" = the newest ready one). */
  version?: string;
}

/** An input or output a model declares; -1 in `shape` marks a free dimension. */
export interface TensorSpec {
  name: string;
  dtype: DType;
  shape: number[];
  description: string;
}

/** One version of a model. */
export interface ModelVersionInfo {
  version: string;
  state: "UNSPECIFIED" | "LOADING" | "READY" | "UNLOADING" | "UNAVAILABLE" | "FAILED";
  /** Why it is not READY, when it is not. */
  reason: string;
}

/** A model the server knows. */
export interface ModelInfo {
  name: string;
  description: string;
  /** Distribution of the plugin that provides the model. */
  plugin: string;
  /** Newest first. */
  versions: ModelVersionInfo[];
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  maxBatchSize: number;
  capabilities: ("predict" | "generate")[];
  /** True when some version is READY. */
  ready: boolean;
}

/** One streamed chunk of generated samples. */
export interface GenerateChunk {
  /** Position of the chunk in the stream, from 0. */
  index: number;
  /** The chunk's samples, batch axis first (absent with `png: "only"`). */
  samples?: Tensor;
  /** One PNG per sample (with `png`). */
  png: Uint8Array[];
  /** Samples produced so far, this chunk included. */
  done: number;
  /** Samples asked for. */
  total: number;
}

/** The answer to one batch of `streamPredict`: its outputs, or why it failed. */
export interface StreamResult {
  /** The id the batch was sent with: its position in the stream, "0", "1", ... */
  requestId: string;
  /** Output tensors by name, batch axis first; absent when the batch failed. */
  outputs?: Record<string, Tensor>;
  /** Why the batch failed: the KilnError `predict` would have thrown for it. */
  error?: KilnError;
}

function spec(signature: TensorSignature): TensorSpec {
  return {
    name: signature.name,
    dtype: dtypeFromProto(signature.dtype),
    shape: signature.shape.map(Number),
    description: signature.description,
  };
}

function modelInfo(model: Model): ModelInfo {
  const versions = model.versions.map((v) => ({
    version: v.version,
    state: ModelState[v.state] as ModelVersionInfo["state"],
    reason: v.reason,
  }));
  return {
    name: model.name,
    description: model.description,
    plugin: model.plugin,
    versions,
    inputs: model.inputs.map(spec),
    outputs: model.outputs.map(spec),
    maxBatchSize: Number(model.maxBatchSize),
    capabilities: model.capabilities
      .filter((c) => c !== Capability.UNSPECIFIED)
      .map((c) => Capability[c].toLowerCase() as "predict" | "generate"),
    ready: versions.some((v) => v.state === "READY"),
  };
}

function outputs(response: PredictResponse): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(response.outputs).map(([name, t]) => [name, fromTensorProto(t)]));
}

function predictRequest(model: string, inputs: Record<string, TensorInput>, options: PredictOptions) {
  return {
    model,
    version: options.version ?? "",
    inputs: Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, toTensorProto(name, input)])),
    outputFilter: options.outputs ?? [],
  };
}

function streamResult(response: StreamPredictResponse): StreamResult {
  const { requestId, result } = response;
  if (result.case === "error") return { requestId, error: fromStreamError(result.value) };
  return { requestId, outputs: result.case === "response" ? outputs(result.value) : {} };
}

function chunk(response: GenerateResponse): GenerateChunk {
  return {
    index: Number(response.chunkIndex),
    samples: response.samples ? fromTensorProto(response.samples) : undefined,
    png: response.png,
    done: Number(response.samplesDone),
    total: Number(response.samplesTotal),
  };
}

/**
 * A client for one Kiln server.
 *
 * ```ts
 * const client = new KilnClient("localhost:50051");
 * const { label } = await client.predict("digits", { image: { shape: [1, 28, 28, 1], data: pixels } });
 * client.close();
 * ```
 */
export class KilnClient {
  private readonly session: Http2SessionManager;
  private readonly transport: Transport;
  private readonly models: Client<typeof ModelService>;
  private readonly inference: Client<typeof InferenceService>;
  private readonly timeoutMs: number;

  /**
   * @param address `host:port` of the server, or a URL (`http://host:port`, `https://host:port`).
   */
  constructor(address: string, options: KilnClientOptions = {}) {
    const tls = options.tls ?? false;
    const scheme = tls ? "https" : "http";
    const baseUrl = address.includes("://") ? address : `${scheme}://${address}`;
    const nodeOptions = typeof tls === "object" ? { ca: tls.ca, cert: tls.cert, key: tls.key } : {};
    this.session = new Http2SessionManager(baseUrl, {}, nodeOptions);
    const interceptors: Interceptor[] = [...(options.interceptors ?? [])];
    if (options.token) {
      const header = `Bearer ${options.token}`;
      interceptors.push((next) => (request) => {
        request.header.set("authorization", header);
        return next(request);
      });
    }
    this.transport = createGrpcTransport({
      baseUrl,
      sessionManager: this.session,
      interceptors,
      readMaxBytes: MAX_MESSAGE_BYTES,
      writeMaxBytes: MAX_MESSAGE_BYTES,
    });
    this.models = createClient(ModelService, this.transport);
    this.inference = createClient(InferenceService, this.transport);
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Closes the HTTP/2 connection; calls in flight fail. */
  close(): void {
    this.session.abort();
  }

  private unary(options: KilnCallOptions): CallOptions {
    const timeoutMs = options.timeoutMs ?? (this.timeoutMs > 0 ? this.timeoutMs : undefined);
    return { timeoutMs, signal: options.signal, headers: options.headers };
  }

  /** Every model the server knows, ready or not, sorted by name. */
  async listModels(options: KilnCallOptions = {}): Promise<ModelInfo[]> {
    try {
      const response = await this.models.listModels({}, this.unary(options));
      return response.models.map(modelInfo);
    } catch (err) {
      throw KilnError.from(err, options.signal);
    }
  }

  /** One model; an unknown name throws a KilnError NOT_FOUND with reason MODEL_NOT_FOUND. */
  async getModel(name: string, options: KilnCallOptions = {}): Promise<ModelInfo> {
    try {
      const response = await this.models.getModel({ name }, this.unary(options));
      if (!response.model) throw new KilnError(13, "the server returned no model");
      return modelInfo(response.model);
    } catch (err) {
      throw KilnError.from(err, options.signal);
    }
  }

  /**
   * Runs one batch through `model`: one tensor per model input, batch axis first.
   * Resolves to the output tensors by name; rejects with a KilnError.
   */
  async predict(
    model: string,
    inputs: Record<string, TensorInput>,
    options: PredictOptions = {},
  ): Promise<Record<string, Tensor>> {
    const request = predictRequest(model, inputs, options);
    try {
      return outputs(await this.inference.predict(request, this.unary(options)));
    } catch (err) {
      throw KilnError.from(err, options.signal);
    }
  }

  /**
   * Streams `count` samples from a generative model, chunk by chunk:
   *
   * ```ts
   * for await (const chunk of client.generate("digits-gan", 8, { seed: 7 })) { ... }
   * ```
   *
   * Leaving the loop early (break, throw) or aborting `options.signal` cancels the call and
   * the server's work. Errors are thrown as KilnError.
   */
  async *generate(model: string, count: number, options: GenerateOptions = {}): AsyncGenerator<GenerateChunk> {
    const encodings: SampleEncoding[] = [];
    if (options.png !== "only") encodings.push(SampleEncoding.TENSOR);
    if (options.png) encodings.push(SampleEncoding.PNG);
    const request = {
      model,
      version: options.version ?? "",
      count: BigInt(count),
      seed: BigInt(options.seed ?? 0),
      chunkSize: BigInt(options.chunkSize ?? 0),
      encodings,
    };
    // Our own controller, so that leaving the loop always cancels the HTTP/2 stream.
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    try {
      const stream = this.inference.generate(request, {
        signal,
        timeoutMs: options.timeoutMs,
        headers: options.headers,
      });
      for await (const response of stream) {
        yield chunk(response);
      }
    } catch (err) {
      throw KilnError.from(err, signal);
    } finally {
      controller.abort();
    }
  }

  /**
   * Runs many batches through `model` over one stream and yields one result per batch, in the
   * order sent, whatever order the server answers in:
   *
   * ```ts
   * for await (const { requestId, outputs, error } of client.streamPredict("digits", batches)) {
   *   if (error) console.log(requestId, error.reason);
   *   else console.log(requestId, outputs!.label.data);
   * }
   * ```
   *
   * `batches` is any iterable or async iterable of inputs (as for `predict`); batch i is sent with
   * request id `String(i)` as soon as the connection takes it, while results are still arriving.
   * A batch the server rejects yields a result with `error` set and the stream goes on. A failure
   * of the stream itself is thrown as a KilnError; an error thrown by `batches` or by a malformed
   * input is thrown unchanged. Leaving the loop early or aborting `options.signal` cancels the
   * call; `options.timeoutMs` bounds the whole stream (default: no deadline).
   */
  async *streamPredict(
    model: string,
    batches: Iterable<Record<string, TensorInput>> | AsyncIterable<Record<string, TensorInput>>,
    options: PredictOptions = {},
  ): AsyncGenerator<StreamResult> {
    const controller = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, controller.signal]) : controller.signal;
    let sent = 0;
    // An error from `batches` or from encoding a batch, as opposed to one the call throws in.
    let failure: { error: unknown } | undefined;
    async function* requests() {
      let suspended = false;
      try {
        for await (const inputs of batches) {
          const request = { requestId: String(sent), request: predictRequest(model, inputs, options) };
          sent++;
          suspended = true;
          yield request;
          suspended = false;
        }
      } catch (err) {
        if (!suspended) failure = { error: err };
        throw err;
      }
    }
    // Answers that came ahead of an earlier one, by request id.
    const early = new Map<string, StreamResult>();
    let next = 0;
    try {
      const stream = this.inference.streamPredict(requests(), {
        signal,
        timeoutMs: options.timeoutMs,
        headers: options.headers,
      });
      for await (const response of stream) {
        const index = Number(response.requestId);
        // Ids that were not sent, or were already answered, have nothing to go with.
        if (!(String(index) === response.requestId && index >= next && index < sent)) continue;
        early.set(response.requestId, streamResult(response));
        while (early.has(String(next))) {
          const result = early.get(String(next))!;
          early.delete(String(next));
          next++;
          yield result;
        }
      }
    } catch (err) {
      throw failure ? failure.error : KilnError.from(err, signal);
    } finally {
      controller.abort();
    }
    if (next < sent) {
      const missing = sent - next - early.size;
      throw new KilnError(
        Code.Internal,
        `the stream ended without an answer to request "${next}" (${missing} of ${sent} unanswered)`,
      );
    }
  }
}
