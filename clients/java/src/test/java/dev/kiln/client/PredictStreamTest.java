package dev.kiln.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.rpc.Code;
import dev.kiln.v1.PredictRequest;
import dev.kiln.v1.PredictResponse;
import dev.kiln.v1.StreamPredictRequest;
import dev.kiln.v1.StreamPredictResponse;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** Sending, reordering and flow control of {@link PredictStream}, on a scripted call; no server. */
class PredictStreamTest {
  /** A call that records what the stream does and lets the test play the server. */
  private static final class ScriptedCall
      extends ClientCall<StreamPredictRequest, StreamPredictResponse> {
    Listener<StreamPredictResponse> listener;
    final List<StreamPredictRequest> sent = new ArrayList<>();
    int window = Integer.MAX_VALUE;
    int requested;
    boolean halfClosed;
    Throwable cancelCause;
    boolean cancelled;

    @Override
    public void start(Listener<StreamPredictResponse> listener, Metadata headers) {
      this.listener = listener;
    }

    @Override
    public void request(int numMessages) {
      requested += numMessages;
    }

    @Override
    public void cancel(String message, Throwable cause) {
      cancelled = true;
      cancelCause = cause;
    }

    @Override
    public void halfClose() {
      assertFalse(halfClosed, "half-closed twice");
      halfClosed = true;
    }

    @Override
    public void sendMessage(StreamPredictRequest message) {
      assertFalse(halfClosed, "sent after half-close");
      sent.add(message);
    }

    @Override
    public boolean isReady() {
      return sent.size() < window;
    }

    void answer(String id, long label) {
      PredictResponse response =
          PredictResponse.newBuilder()
              .putOutputs("label", Tensor.ofLongs(new long[] {label}).toProto())
              .build();
      listener.onMessage(
          StreamPredictResponse.newBuilder().setRequestId(id).setResponse(response).build());
    }

    void fail(String id, String reason) {
      dev.kiln.v1.Error error =
          dev.kiln.v1.Error.newBuilder()
              .setCode(Code.INVALID_ARGUMENT_VALUE)
              .setMessage("bad input")
              .setReason(reason)
              .setField("inputs[image].shape")
              .build();
      listener.onMessage(
          StreamPredictResponse.newBuilder().setRequestId(id).setError(error).build());
    }

    void close(Status status) {
      listener.onClose(status, new Metadata());
    }
  }

  private static Iterator<PredictRequest> batches(int count) {
    return IntStream.range(0, count)
        .mapToObj(i -> PredictRequest.newBuilder().setModel("m" + i).build())
        .iterator();
  }

  private static List<String> sentIds(ScriptedCall call) {
    return call.sent.stream().map(StreamPredictRequest::getRequestId).collect(Collectors.toList());
  }

  @Test
  void numbersBatchesAndReturnsResultsInSendOrder() {
    ScriptedCall call = new ScriptedCall();
    PredictStream stream = new PredictStream(call, batches(4));
    call.listener.onReady();
    assertEquals(List.of("0", "1", "2", "3"), sentIds(call));
    assertEquals("m2", call.sent.get(2).getRequest().getModel());
    assertTrue(call.halfClosed);

    call.answer("2", 12);
    call.fail("1", "INPUT_SHAPE_MISMATCH");
    call.answer("3", 13);
    call.answer("0", 10);
    call.close(Status.OK);

    List<StreamResult> results = new ArrayList<>();
    stream.forEachRemaining(results::add);
    assertEquals(
        List.of("0", "1", "2", "3"),
        results.stream().map(StreamResult::requestId).collect(Collectors.toList()));
    assertEquals(10, results.get(0).outputs().get("label").toLongArray()[0]);
    assertEquals(12, results.get(2).outputsOrThrow().get("label").toLongArray()[0]);
    assertEquals(13, results.get(3).outputs().get("label").toLongArray()[0]);
    StreamResult failed = results.get(1);
    assertTrue(failed.outputs().isEmpty());
    KilnException e = failed.error().orElseThrow();
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("INPUT_SHAPE_MISMATCH", e.reason());
    assertEquals("inputs[image].shape", e.field());
    assertSame(e, assertThrows(KilnException.class, failed::outputsOrThrow));
    assertFalse(stream.hasNext());
    assertThrows(NoSuchElementException.class, stream::next);
  }

  @Test
  void sendsOnlyWhileTheCallIsReady() {
    ScriptedCall call = new ScriptedCall();
    call.window = 2;
    new PredictStream(call, batches(5));
    call.listener.onReady();
    assertEquals(List.of("0", "1"), sentIds(call));
    assertFalse(call.halfClosed);

    call.window = 4;
    call.listener.onReady();
    assertEquals(List.of("0", "1", "2", "3"), sentIds(call));
    assertFalse(call.halfClosed);

    call.window = Integer.MAX_VALUE;
    call.listener.onReady();
    call.listener.onReady();
    assertEquals(List.of("0", "1", "2", "3", "4"), sentIds(call));
    assertTrue(call.halfClosed);
  }

  @Test
  void asksForMoreAnswersAsTheyAreRead() {
    ScriptedCall call = new ScriptedCall();
    PredictStream stream = new PredictStream(call, batches(3));
    call.listener.onReady();
    int initial = PredictStream.BUFFERED_RESULTS;
    assertEquals(initial, call.requested);

    // Early answers are held, and each is replaced at once so the missing one can still come.
    call.answer("2", 2);
    call.answer("1", 1);
    assertEquals(initial + 2, call.requested);
    call.answer("0", 0);
    assertEquals(initial + 2, call.requested);

    // Reading an answer that came in order asks for one more; reading a held one does not.
    assertEquals("0", stream.next().requestId());
    assertEquals(initial + 3, call.requested);
    assertEquals("1", stream.next().requestId());
    assertEquals("2", stream.next().requestId());
    assertEquals(initial + 3, call.requested);
    call.close(Status.OK);
    assertFalse(stream.hasNext());
  }

  @Test
  void anUnansweredBatchFailsTheStreamAfterTheEarlierResults() {
    ScriptedCall call = new ScriptedCall();
    PredictStream stream = new PredictStream(call, batches(3));
    call.listener.onReady();
    call.answer("1", 1);
    call.answer("0", 0);
    call.close(Status.OK);

    assertEquals("0", stream.next().requestId());
    assertEquals("1", stream.next().requestId());
    KilnException e = assertThrows(KilnException.class, stream::hasNext);
    assertEquals(Status.Code.INTERNAL, e.code());
    assertTrue(e.getMessage().contains("request \"2\" (1 of 3 unanswered)"), e.getMessage());
  }

  @Test
  void streamFailureThrowsAfterEarlierResults() {
    ScriptedCall call = new ScriptedCall();
    PredictStream stream = new PredictStream(call, batches(3));
    call.listener.onReady();
    call.answer("0", 0);
    call.answer("2", 2);
    call.close(Status.DEADLINE_EXCEEDED.withDescription("deadline exceeded"));

    assertEquals("0", stream.next().requestId());
    KilnException e = assertThrows(KilnException.class, stream::hasNext);
    assertEquals(Status.Code.DEADLINE_EXCEEDED, e.code());
    assertThrows(KilnException.class, stream::next);
  }

  @Test
  void failingBatchesCancelTheCallAndSurface() {
    ScriptedCall call = new ScriptedCall();
    IllegalStateException boom = new IllegalStateException("no more data");
    Iterator<PredictRequest> requests =
        new Iterator<>() {
          private int next;

          @Override
          public boolean hasNext() {
            return true;
          }

          @Override
          public PredictRequest next() {
            if (next == 2) {
              throw boom;
            }
            return PredictRequest.newBuilder().setModel("m" + next++).build();
          }
        };
    PredictStream stream = new PredictStream(call, requests);
    call.listener.onReady();
    assertEquals(List.of("0", "1"), sentIds(call));
    assertTrue(call.cancelled);
    assertSame(boom, call.cancelCause);

    call.answer("0", 0);
    call.close(Status.CANCELLED.withCause(boom));
    assertEquals("0", stream.next().requestId());
    assertSame(boom, assertThrows(IllegalStateException.class, stream::hasNext));
  }

  @Test
  void cancelEndsIteration() {
    ScriptedCall call = new ScriptedCall();
    call.window = 1;
    try (PredictStream stream = new PredictStream(call, batches(3))) {
      call.listener.onReady();
      call.answer("0", 0);
      stream.cancel();
      assertTrue(call.cancelled);
      assertFalse(stream.hasNext());
      // Nothing more goes out once cancelled.
      call.window = Integer.MAX_VALUE;
      call.listener.onReady();
      assertEquals(List.of("0"), sentIds(call));
      assertFalse(call.halfClosed);
      call.close(Status.CANCELLED);
      assertFalse(stream.hasNext());
    }
  }

  @Test
  void cancelFromAnotherThreadWakesTheReader() throws InterruptedException {
    ScriptedCall call = new ScriptedCall();
    PredictStream stream = new PredictStream(call, batches(1));
    call.listener.onReady();
    Thread canceller =
        new Thread(
            () -> {
              try {
                Thread.sleep(100);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
              stream.cancel();
              call.close(Status.CANCELLED.withDescription("cancelled by the client"));
            });
    canceller.start();
    assertFalse(stream.hasNext());
    canceller.join();
    assertTrue(call.cancelled);
  }
}
