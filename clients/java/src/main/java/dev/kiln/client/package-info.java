/**
 * The Kiln Java SDK: {@link dev.kiln.client.KilnClient} (channel setup with TLS and bearer tokens,
 * list/get models, predict, streaming predict with results in send order, streaming generate),
 * {@link dev.kiln.client.Tensor} (typed arrays to and from Kiln's little-endian tensor bytes) and
 * {@link dev.kiln.client.KilnException} (the server's status code, {@code ErrorInfo.reason} and
 * {@code BadRequest} field).
 *
 * <p>The generated protobuf messages and gRPC stubs live in {@code dev.kiln.v1}.
 */
package dev.kiln.client;
