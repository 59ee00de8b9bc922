package dev.kiln.client;

import dev.kiln.v1.StreamPredictResponse;
import java.util.Collections;
import java.util.Map;
import java.util.Optional;

/**
 * The answer to one batch of a {@link KilnClient#streamPredict} stream: its outputs, or why that
 * one request failed.
 *
 * <pre>{@code
 * StreamResult result = stream.next();
 * if (result.error().isPresent()) {
 *   KilnException e = result.error().get(); // e.code(), e.reason(), e.field()
 * } else {
 *   long label = result.outputs().get("label").toLongArray()[0];
 * }
 * }</pre>
 */
public final class StreamResult {
  private final String requestId;
  private final Map<String, Tensor> outputs;
  private final KilnException error;

  private StreamResult(String requestId, Map<String, Tensor> outputs, KilnException error) {
    this.requestId = requestId;
    this.outputs = outputs;
    this.error = error;
  }

  /**
   * Decodes a {@code kiln.v1.StreamPredictResponse}: its outputs as {@link KilnClient#predict}
   * returns them, or its {@code kiln.v1.Error} as a {@link KilnException}.
   *
   * @param response the message
   * @return the result
   * @throws IllegalArgumentException if an output tensor is malformed
   */
  public static StreamResult fromProto(StreamPredictResponse response) {
    if (response.hasError()) {
      return new StreamResult(
          response.getRequestId(), Map.of(), KilnException.from(response.getError()));
    }
    return new StreamResult(
        response.getRequestId(),
        Collections.unmodifiableMap(KilnClient.decodeOutputs(response.getResponse())),
        null);
  }

  /**
   * The id the request was sent with: its position in the stream, {@code "0"}, {@code "1"}, ...
   *
   * @return the request id
   */
  public String requestId() {
    return requestId;
  }

  /**
   * The output tensors by name, batch axis first.
   *
   * @return an unmodifiable map; empty when the request failed
   */
  public Map<String, Tensor> outputs() {
    return outputs;
  }

  /**
   * Why the request failed: the same status code, reason, field and metadata that {@link
   * KilnClient#predict} would have thrown for this batch.
   *
   * @return the error; empty when the request succeeded
   */
  public Optional<KilnException> error() {
    return Optional.ofNullable(error);
  }

  /**
   * The outputs, or the error thrown.
   *
   * @return the output tensors by name (an unmodifiable map)
   * @throws KilnException if the request failed
   */
  public Map<String, Tensor> outputsOrThrow() {
    if (error != null) {
      throw error;
    }
    return outputs;
  }

  @Override
  public String toString() {
    return "StreamResult(id="
        + requestId
        + (error == null ? ", outputs=" + outputs.keySet() : ", error=" + error.getMessage())
        + ")";
  }
}
