package dev.kiln.client;

import dev.kiln.v1.PredictRequest;
import dev.kiln.v1.StreamPredictRequest;
import dev.kiln.v1.StreamPredictResponse;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The results of a {@link KilnClient#streamPredict} call, one per batch, in the order the batches
 * were sent.
 *
 * <p>The batches go out with ids {@code "0"}, {@code "1"}, ... as fast as the stream takes them,
 * while the answers come back in whatever order the server finishes them; answers that arrive
 * early are held until the ones before them are in. A batch that fails (bad shape, unknown model,
 * ...) gives a {@link StreamResult} with {@link StreamResult#error() error} set, and the stream
 * goes on. A failure of the stream itself (deadline, unreachable server, ...) throws {@link
 * KilnException} from {@code hasNext} or {@code next}, after the results that came before it (a
 * stream the server ends with a batch unanswered fails this way too, with {@code INTERNAL}); an
 * exception from the batches' iterator (or from encoding a batch) cancels the call and is rethrown
 * the same way.
 *
 * <p>Iteration blocks until the next result arrives. {@link #cancel()} (or {@link #close()}, so
 * try-with-resources works) cancels the call; after that {@link #hasNext()} returns false.
 *
 * <pre>{@code
 * try (PredictStream stream = client.streamPredict("digits", batches)) {
 *   while (stream.hasNext()) {
 *     StreamResult result = stream.next();
 *   }
 * }
 * }</pre>
 *
 * <p>Not thread-safe, except that {@code cancel} may be called from any thread.
 */
public final class PredictStream implements Iterator<StreamResult>, AutoCloseable {
  /** Results the client holds for the reader before it stops asking the server for more. */
  static final int BUFFERED_RESULTS = 64;

  /** One in-order result, and whether the server was already asked for a message in its place. */
  private static final class Entry {
    final StreamResult result;
    final boolean replaced;

    Entry(StreamResult result, boolean replaced) {
      this.result = result;
      this.replaced = replaced;
    }
  }

  private static final Entry END = new Entry(null, true);

  private final ClientCall<StreamPredictRequest, StreamPredictResponse> call;
  private final Iterator<PredictRequest> requests;
  private final BlockingQueue<Entry> ready = new LinkedBlockingQueue<>();
  private final Object sendLock = new Object();
  private volatile boolean cancelled;
  private volatile RuntimeException failure;

  // Touched only by the call's listener, whose callbacks never run concurrently.
  private final Map<String, StreamResult> early = new HashMap<>();
  private long sent;
  private long position;
  private boolean stopped;

  // Touched only by the reader.
  private StreamResult next;
  private boolean ended;

  PredictStream(
      ClientCall<StreamPredictRequest, StreamPredictResponse> call,
      Iterator<PredictRequest> requests) {
    this.call = call;
    this.requests = requests;
    call.start(new Listener(), new Metadata());
    call.request(BUFFERED_RESULTS);
  }

  /**
   * Waits for the next result or the end of the stream.
   *
   * @return true if a result is available; false at the end or after {@link #cancel()}
   * @throws KilnException if the stream failed
   * @throws RuntimeException whatever reading or encoding the batches threw, which ends the call
   */
  @Override
  public boolean hasNext() {
    if (cancelled) {
      return false;
    }
    if (next != null) {
      return true;
    }
    if (!ended) {
      Entry entry;
      try {
        entry = ready.take();
      } catch (InterruptedException e) {
        cancel();
        Thread.currentThread().interrupt();
        throw KilnException.from(
            Status.CANCELLED.withDescription("interrupted").withCause(e).asRuntimeException());
      }
      if (entry != END) {
        if (!entry.replaced) {
          call.request(1);
        }
        next = entry.result;
        return true;
      }
      ended = true;
    }
    // A cancel from another thread while this one waited ends the stream quietly.
    if (failure != null && !cancelled) {
      throw failure;
    }
    return false;
  }

  /**
   * The next result, waiting for it if needed.
   *
   * @return the result for the next batch in send order
   * @throws NoSuchElementException at the end of the stream or after {@link #cancel()}
   * @throws KilnException if the stream failed
   * @throws RuntimeException whatever reading or encoding the batches threw, which ends the call
   */
  @Override
  public StreamResult next() {
    if (!hasNext()) {
      throw new NoSuchElementException();
    }
    StreamResult result = next;
    next = null;
    return result;
  }

  /**
   * Cancels the call: no more batches are sent and the server drops the ones in flight. Safe to
   * call more than once, from any thread.
   */
  public void cancel() {
    synchronized (sendLock) {
      if (!cancelled) {
        cancelled = true;
        call.cancel("cancelled by the client", null);
      }
    }
  }

  /** Cancels the call if it is still running (a no-op once the stream has ended). */
  @Override
  public void close() {
    cancel();
  }

  /**
   * Ends the call on a failure in the client (the batches, or decoding an answer); the reader gets
   * {@code error} after the results before it.
   */
  private void abort(RuntimeException error) {
    stopped = true;
    synchronized (sendLock) {
      if (failure == null) {
        failure = error;
      }
      if (!cancelled) {
        call.cancel("the client failed: " + error, error);
      }
    }
  }

  private final class Listener extends ClientCall.Listener<StreamPredictResponse> {
    @Override
    public void onReady() {
      try {
        while (!stopped && !cancelled && call.isReady()) {
          if (!requests.hasNext()) {
            stopped = true;
            synchronized (sendLock) {
              if (!cancelled) {
                call.halfClose();
              }
            }
            return;
          }
          StreamPredictRequest request =
              StreamPredictRequest.newBuilder()
                  .setRequestId(Long.toString(sent))
                  .setRequest(requests.next())
                  .build();
          synchronized (sendLock) {
            if (cancelled) {
              stopped = true;
              return;
            }
            call.sendMessage(request);
          }
          sent++;
        }
      } catch (RuntimeException e) {
        abort(e);
      }
    }

    @Override
    public void onMessage(StreamPredictResponse message) {
      StreamResult result;
      try {
        result = StreamResult.fromProto(message);
      } catch (RuntimeException e) {
        abort(e);
        return;
      }
      if (!message.getRequestId().equals(Long.toString(position))) {
        // Early: hold it, and ask for another message so the one it waits for can still arrive.
        early.put(message.getRequestId(), result);
        call.request(1);
        return;
      }
      ready.add(new Entry(result, false));
      position++;
      for (StreamResult held; (held = early.remove(Long.toString(position))) != null; position++) {
        ready.add(new Entry(held, true));
      }
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      stopped = true;
      if (!status.isOk() && failure == null) {
        failure = KilnException.from(status.asRuntimeException(trailers));
      } else if (status.isOk() && failure == null && position < sent) {
        failure =
            KilnException.from(
                Status.INTERNAL
                    .withDescription(
                        String.format(
                            "the stream ended without an answer to request \"%d\" (%d of %d"
                                + " unanswered)",
                            position, sent - position, sent))
                    .asRuntimeException());
      }
      ready.add(END);
    }
  }
}
