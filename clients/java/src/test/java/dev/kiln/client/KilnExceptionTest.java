package dev.kiln.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import org.junit.jupiter.api.Test;

/** Decoding of the server's rich status; needs no server. */
class KilnExceptionTest {
  @Test
  void decodesErrorInfoAndBadRequest() {
    com.google.rpc.Status status =
        com.google.rpc.Status.newBuilder()
            .setCode(Code.INVALID_ARGUMENT_VALUE)
            .setMessage("input 'image' has shape [1, 27, 28, 1]")
            .addDetails(
                Any.pack(
                    ErrorInfo.newBuilder()
                        .setReason("INPUT_SHAPE_MISMATCH")
                        .setDomain("kiln.dev")
                        .putMetadata("model", "digits")
                        .build()))
            .addDetails(
                Any.pack(
                    BadRequest.newBuilder()
                        .addFieldViolations(
                            BadRequest.FieldViolation.newBuilder()
                                .setField("inputs[image].shape")
                                .setDescription("expected [-1, 28, 28, 1]"))
                        .build()))
            .build();
    StatusRuntimeException wire = StatusProto.toStatusRuntimeException(status);

    KilnException e = KilnException.from(wire);

    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("INPUT_SHAPE_MISMATCH", e.reason());
    assertEquals("inputs[image].shape", e.field());
    assertEquals("digits", e.metadata().get("model"));
    assertEquals("expected [-1, 28, 28, 1]", e.fieldViolations().get(0).description());
    assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT (INPUT_SHAPE_MISMATCH): input 'image'"));
  }

  @Test
  void decodesStreamError() {
    dev.kiln.v1.Error error =
        dev.kiln.v1.Error.newBuilder()
            .setCode(Code.INVALID_ARGUMENT_VALUE)
            .setMessage("input 'image' has shape [1, 27, 28, 1]")
            .setReason("INPUT_SHAPE_MISMATCH")
            .putMetadata("model", "digits")
            .setField("inputs[image].shape")
            .build();

    KilnException e = KilnException.from(error);

    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("INPUT_SHAPE_MISMATCH", e.reason());
    assertEquals("inputs[image].shape", e.field());
    assertEquals("digits", e.metadata().get("model"));
    assertEquals("input 'image' has shape [1, 27, 28, 1]", e.description());
    assertTrue(e.getMessage().startsWith("INVALID_ARGUMENT (INPUT_SHAPE_MISMATCH): input 'image'"));

    KilnException odd = KilnException.from(dev.kiln.v1.Error.newBuilder().setCode(99).build());
    assertEquals(Status.Code.UNKNOWN, odd.code());
    assertTrue(odd.fieldViolations().isEmpty());
  }

  @Test
  void plainStatusHasNoReason() {
    KilnException e = KilnException.from(Status.UNAVAILABLE.withDescription("connection refused").asRuntimeException());
    assertEquals(Status.Code.UNAVAILABLE, e.code());
    assertEquals("", e.reason());
    assertEquals("", e.field());
    assertEquals("connection refused", e.description());
  }
}
