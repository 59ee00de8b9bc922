package dev.kiln.client;

import dev.kiln.v1.GenerateRequest;
import dev.kiln.v1.GenerateResponse;
import io.grpc.ClientCall;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * The chunks of a {@link KilnClient#generate} call, as they arrive.
 *
 * <p>Iteration blocks until the next chunk arrives. {@link #cancel()} (or {@link #close()}, so
 * try-with-resources works) cancels the call, which stops the server's work; after that {@link
 * #hasNext()} returns false. A failed call throws {@link KilnException} from {@code hasNext} or
 * {@code next}.
 *
 * <pre>{@code
 * try (GenerateStream stream = client.generate("digits-gan", 8, 7, 4)) {
 *   while (stream.hasNext()) {
 *     GenerateChunk chunk = stream.next();
 *   }
 * }
 * }</pre>
 *
 * <p>Not thread-safe, except that {@code cancel} may be called from any thread.
 */
public final class GenerateStream implements Iterator<GenerateChunk>, AutoCloseable {
  private final ClientCall<GenerateRequest, GenerateResponse> call;
  private final Iterator<GenerateResponse> responses;
  private volatile boolean cancelled;

  GenerateStream(ClientCall<GenerateRequest, GenerateResponse> call, GenerateRequest request) {
    this.call = call;
    this.responses = ClientCalls.blockingServerStreamingCall(call, request);
  }

  /**
   * Waits for the next chunk or the end of the stream.
   *
   * @return true if a chunk is available; false at the end or after {@link #cancel()}
   * @throws KilnException if the call failed
   */
  @Override
  public boolean hasNext() {
    if (cancelled) {
      return false;
    }
    try {
      return responses.hasNext();
    } catch (StatusRuntimeException e) {
      if (cancelled && e.getStatus().getCode() == Status.Code.CANCELLED) {
        return false;
      }
      throw KilnException.from(e);
    }
  }

  /**
   * The next chunk, waiting for it if needed.
   *
   * @return the chunk
   * @throws NoSuchElementException at the end of the stream or after {@link #cancel()}
   * @throws KilnException if the call failed
   */
  @Override
  public GenerateChunk next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    try {
      return GenerateChunk.fromProto(responses.next());
    } catch (StatusRuntimeException e) {
      throw KilnException.from(e);
    }
  }

  /** Cancels the call; the server stops generating. Safe to call more than once, from any thread. */
  public void cancel() {
    if (!cancelled) {
      cancelled = true;
      call.cancel("cancelled by the client", null);
    }
  }

  /** Cancels the call if it is still running (a no-op once the stream has ended). */
  @Override
  public void close() {
    cancel();
  }
}
