package dev.kiln.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A call to the Kiln server failed.
 *
 * <p>Decoded from the server's rich status ({@code google.rpc.Status} in the {@code
 * grpc-status-details-bin} trailer): the gRPC {@link #code() code}, the machine-readable {@link
 * #reason() reason} from {@code google.rpc.ErrorInfo} (e.g. {@code MODEL_NOT_FOUND}), its {@link
 * #metadata() metadata}, and for bad input the offending {@link #field() field} from {@code
 * google.rpc.BadRequest} (e.g. {@code inputs[image].shape}).
 *
 * <p>A request that fails inside a {@link KilnClient#streamPredict} stream is reported with the
 * same fields, decoded from the {@code kiln.v1.Error} of its answer (see {@link
 * StreamResult#error()}).
 */
public final class KilnException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** One bad field of a request, from {@code google.rpc.BadRequest}. */
  public static final class FieldViolation {
    private final String field;
    private final String description;

    /**
     * A field violation.
     *
     * @param field path of the field, e.g. {@code inputs[image].shape}
     * @param description what is wrong with it
     */
    public FieldViolation(String field, String description) {
      this.field = Objects.requireNonNull(field);
      this.description = Objects.requireNonNull(description);
    }

    /**
     * Path of the field, e.g. {@code inputs[image].shape}.
     *
     * @return the field path
     */
    public String field() {
      return field;
    }

    /**
     * What is wrong with the field.
     *
     * @return the description
     */
    public String description() {
      return description;
    }

    @Override
    public String toString() {
      return field + ": " + description;
    }
  }

  private final Status.Code code;
  private final String description;
  private final String reason;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;

  /**
   * An exception from its parts (normally built by {@link #from(StatusRuntimeException)}).
   *
   * @param code the gRPC status code
   * @param description the server's message for people
   * @param reason {@code ErrorInfo.reason}, or empty
   * @param metadata {@code ErrorInfo.metadata}
   * @param fieldViolations {@code BadRequest.field_violations}
   * @param cause the underlying gRPC exception, or null
   */
  public KilnException(
      Status.Code code,
      String description,
      String reason,
      Map<String, String> metadata,
      List<FieldViolation> fieldViolations,
      Throwable cause) {
    super(format(code, reason, description), cause);
    this.code = Objects.requireNonNull(code);
    this.description = description == null ? "" : description;
    this.reason = reason == null ? "" : reason;
    this.metadata = Map.copyOf(metadata);
    this.fieldViolations = List.copyOf(fieldViolations);
  }

  /**
   * Decodes a failed gRPC call, including the rich error details when the server sent them.
   *
   * @param error the exception the gRPC stub threw
   * @return the decoded exception
   */
  public static KilnException from(StatusRuntimeException error) {
    Status status = error.getStatus();
    String reason = "";
    Map<String, String> metadata = Map.of();
    List<FieldViolation> violations = new ArrayList<>();
    com.google.rpc.Status rich = StatusProto.fromThrowable(error);
    if (rich != null) {
      for (Any detail : rich.getDetailsList()) {
        try {
          if (detail.is(ErrorInfo.class)) {
            ErrorInfo info = detail.unpack(ErrorInfo.class);
            reason = info.getReason();
            metadata = info.getMetadataMap();
          } else if (detail.is(BadRequest.class)) {
            for (BadRequest.FieldViolation v : detail.unpack(BadRequest.class).getFieldViolationsList()) {
              violations.add(new FieldViolation(v.getField(), v.getDescription()));
            }
          }
        } catch (InvalidProtocolBufferException ignored) {
          // A malformed detail is skipped; the status code and message still stand.
        }
      }
    }
    String description = status.getDescription();
    if (description == null && status.getCause() != null) {
      description = status.getCause().toString();
    }
    return new KilnException(status.getCode(), description, reason, metadata, violations, error);
  }

  /**
   * Decodes the error of one failed request inside a stream ({@code kiln.v1.Error}), which carries
   * what a rich status would: code, message, reason, metadata and the offending field.
   *
   * @param error the message
   * @return the decoded exception; an unknown code becomes {@code UNKNOWN}
   */
  public static KilnException from(dev.kiln.v1.Error error) {
    List<FieldViolation> violations =
        error.getField().isEmpty()
            ? List.of()
            : List.of(new FieldViolation(error.getField(), error.getMessage()));
    return new KilnException(
        Status.fromCodeValue(error.getCode()).getCode(),
        error.getMessage(),
        error.getReason(),
        error.getMetadataMap(),
        violations,
        null);
  }

  /**
   * The gRPC status code, e.g. {@code NOT_FOUND} or {@code INVALID_ARGUMENT}.
   *
   * @return the status code
   */
  public Status.Code code() {
    return code;
  }

  /**
   * The server's message for people (without the code and reason).
   *
   * @return the message, possibly empty
   */
  public String description() {
    return description;
  }

  /**
   * The machine-readable reason from {@code google.rpc.ErrorInfo}, e.g. {@code MODEL_NOT_FOUND}.
   *
   * @return the reason; empty when the server sent none (e.g. a transport failure)
   */
  public String reason() {
    return reason;
  }

  /**
   * Extra facts from {@code google.rpc.ErrorInfo.metadata} (such as the model name or a limit).
   *
   * @return an unmodifiable map, possibly empty
   */
  public Map<String, String> metadata() {
    return metadata;
  }

  /**
   * The offending request fields, for bad input.
   *
   * @return an unmodifiable list, possibly empty
   */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /**
   * The first offending field, e.g. {@code inputs[image].shape}.
   *
   * @return the field path, or empty when there is none
   */
  public String field() {
    return fieldViolations.isEmpty() ? "" : fieldViolations.get(0).field();
  }

  private static String format(Status.Code code, String reason, String description) {
    StringBuilder text = new StringBuilder(code.name());
    if (reason != null && !reason.isEmpty()) {
      text.append(" (").append(reason).append(')');
    }
    if (description != null && !description.isEmpty()) {
      text.append(": ").append(description);
    }
    return text.toString();
  }
}
