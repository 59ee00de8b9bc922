package dev.kiln.client;

import dev.kiln.v1.GenerateRequest;
import dev.kiln.v1.GenerateResponse;
import dev.kiln.v1.GetModelRequest;
import dev.kiln.v1.InferenceServiceGrpc;
import dev.kiln.v1.ListModelsRequest;
import dev.kiln.v1.Model;
import dev.kiln.v1.ModelServiceGrpc;
import dev.kiln.v1.PredictRequest;
import dev.kiln.v1.PredictResponse;
import dev.kiln.v1.SampleEncoding;
import dev.kiln.v1.StreamPredictRequest;
import dev.kiln.v1.StreamPredictResponse;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientCall;
import io.grpc.ClientInterceptor;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelRegistry;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * A blocking client for a Kiln server.
 *
 * <pre>{@code
 * try (KilnClient client = KilnClient.newBuilder("localhost:50051").build()) {
 *   Map<String, Tensor> outputs =
 *       client.predict("digits", Map.of("image", Tensor.ofFloats(pixels, 1, 28, 28, 1)));
 *   long label = outputs.get("label").toLongArray()[0];
 * }
 * }</pre>
 *
 * <p>Failed calls throw {@link KilnException}, carrying the status code, the machine-readable
 * reason and the offending field. {@link #streamPredict} sends many batches over one stream and
 * reports a failed batch in its {@link StreamResult} instead. A client is thread-safe; share one
 * per server and close it when done.
 */
public final class KilnClient implements AutoCloseable {
  /** Largest message the client sends or accepts (the server has its own limit). */
  public static final int MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel managedChannel;
  private final Channel channel;
  private final Duration timeout;

  private KilnClient(ManagedChannel managedChannel, String token, Duration timeout) {
    this.managedChannel = managedChannel;
    this.timeout = timeout;
    if (token == null) {
      this.channel = managedChannel;
    } else {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      ClientInterceptor auth = MetadataUtils.newAttachHeadersInterceptor(headers);
      this.channel = ClientInterceptors.intercept(managedChannel, auth);
    }
  }

  /**
   * Starts configuring a client.
   *
   * @param target the server, as {@code host:port} or any gRPC target URI (e.g. {@code
   *     dns:///kiln.example.com:443})
   * @return a builder
   */
  public static Builder newBuilder(String target) {
    return new Builder(target);
  }

  /**
   * A plaintext client with the default deadline: {@code newBuilder(target).build()}.
   *
   * @param target the server, as {@code host:port}
   * @return the client
   */
  public static KilnClient connect(String target) {
    return newBuilder(target).build();
  }

  /**
   * Every model on the server, ready or not, sorted by name.
   *
   * @return the models
   * @throws KilnException if the call failed
   */
  public List<Model> listModels() {
    return call(() -> models().listModels(ListModelsRequest.getDefaultInstance()).getModelsList());
  }

  /**
   * One model.
   *
   * @param name the model name, e.g. {@code digits}
   * @return the model
   * @throws KilnException {@code NOT_FOUND} with reason {@code MODEL_NOT_FOUND} if there is none
   */
  public Model getModel(String name) {
    GetModelRequest request = GetModelRequest.newBuilder().setName(name).build();
    return call(() -> models().getModel(request).getModel());
  }

  /**
   * Runs one batch through the newest ready version of a model and returns every output.
   *
   * @param model the model name
   * @param inputs one tensor per model input, batch axis first
   * @return the output tensors by name
   * @throws KilnException if the call failed (e.g. {@code INVALID_ARGUMENT}, reason {@code
   *     INPUT_SHAPE_MISMATCH}, field {@code inputs[image].shape})
   */
  public Map<String, Tensor> predict(String model, Map<String, Tensor> inputs) {
    return predict(model, "", inputs, List.of());
  }

  /**
   * Runs one batch through a model.
   *
   * @param model the model name
   * @param version the version to use; empty selects the newest ready version
   * @param inputs one tensor per model input, batch axis first
   * @param outputs names of the outputs to return; empty returns every output
   * @return the output tensors by name
   * @throws KilnException if the call failed
   */
  public Map<String, Tensor> predict(
      String model, String version, Map<String, Tensor> inputs, Collection<String> outputs) {
    PredictRequest request = predictRequest(model, version, inputs, outputs);
    return decodeOutputs(call(() -> inference().predict(request)));
  }

  /**
   * Runs many batches through the newest ready version of a model over one stream, and returns
   * their results in the order sent.
   *
   * <pre>{@code
   * try (PredictStream stream = client.streamPredict("digits", List.of(first, second))) {
   *   while (stream.hasNext()) {
   *     StreamResult result = stream.next();
   *     result.error().ifPresent(e -> System.out.println(result.requestId() + ": " + e.reason()));
   *   }
   * }
   * }</pre>
   *
   * @param model the model name
   * @param batches the batches, each one tensor per model input, batch axis first
   * @return one result per batch in send order; a failed batch gives a result with its error set
   *     and the rest go on
   * @see #streamPredict(String, String, Iterable, Collection)
   */
  public PredictStream streamPredict(
      String model, Iterable<? extends Map<String, Tensor>> batches) {
    return streamPredict(model, "", batches, List.of());
  }

  /**
   * Runs many batches through a model over one stream, and returns their results in the order
   * sent.
   *
   * <p>The batches get the request ids {@code "0"}, {@code "1"}, ... in order. They are read
   * lazily, from a gRPC thread, as fast as the stream takes them (the server keeps a bounded
   * number of each stream's requests in flight), so {@code batches} may be large or endless as
   * long as its iterator does not wait on this stream's results. Each result holds the outputs
   * decoded as {@link #predict} returns them, or the {@link KilnException} that {@code predict}
   * would have thrown for that batch. The client's deadline covers the whole stream.
   *
   * @param model the model name
   * @param version the version to use; empty selects the newest ready version
   * @param batches the batches, each one tensor per model input, batch axis first
   * @param outputs names of the outputs to return; empty returns every output
   * @return one result per batch in send order; cancel or close the stream to stop early
   */
  public PredictStream streamPredict(
      String model,
      String version,
      Iterable<? extends Map<String, Tensor>> batches,
      Collection<String> outputs) {
    Objects.requireNonNull(model, "model");
    Objects.requireNonNull(version, "version");
    List<String> filter = List.copyOf(outputs);
    Iterator<? extends Map<String, Tensor>> inputs = batches.iterator();
    Iterator<PredictRequest> requests =
        new Iterator<>() {
          @Override
          public boolean hasNext() {
            return inputs.hasNext();
          }

          @Override
          public PredictRequest next() {
            return predictRequest(model, version, inputs.next(), filter);
          }
        };
    ClientCall<StreamPredictRequest, StreamPredictResponse> call =
        channel.newCall(InferenceServiceGrpc.getStreamPredictMethod(), callOptions());
    try {
      return new PredictStream(call, requests);
    } catch (StatusRuntimeException e) {
      throw KilnException.from(e);
    }
  }

  /**
   * Streams samples from a generative model as tensors, chunk by chunk.
   *
   * @param model the model name, e.g. {@code digits-gan}
   * @param count how many samples to produce in all
   * @param seed seed of the model's random source; equal seeds give equal samples, whatever the
   *     chunk size
   * @param chunkSize samples per chunk; 0 lets the server choose
   * @return the chunks; cancel or close the stream to stop early
   */
  public GenerateStream generate(String model, long count, long seed, long chunkSize) {
    return generate(
        GenerateRequest.newBuilder()
            .setModel(model)
            .setCount(count)
            .setSeed(seed)
            .setChunkSize(chunkSize)
            .addEncodings(SampleEncoding.SAMPLE_ENCODING_TENSOR)
            .build());
  }

  /**
   * Streams samples from a generative model, with every request field available (version, PNG
   * encoding, ...).
   *
   * @param request the request
   * @return the chunks; cancel or close the stream to stop early
   */
  public GenerateStream generate(GenerateRequest request) {
    ClientCall<GenerateRequest, GenerateResponse> call =
        channel.newCall(InferenceServiceGrpc.getGenerateMethod(), callOptions());
    try {
      return new GenerateStream(call, request);
    } catch (StatusRuntimeException e) {
      throw KilnException.from(e);
    }
  }

  /**
   * The channel calls go through (with the bearer token attached), for the generated stubs in
   * {@code dev.kiln.v1} when the wrapper does not cover something, e.g. {@code
   * InferenceServiceGrpc.newStub(client.channel())}.
   *
   * @return the channel
   */
  public Channel channel() {
    return channel;
  }

  /** Shuts the channel down, waiting a few seconds for calls in flight. */
  @Override
  public void close() {
    managedChannel.shutdown();
    try {
      if (!managedChannel.awaitTermination(5, TimeUnit.SECONDS)) {
        managedChannel.shutdownNow();
      }
    } catch (InterruptedException e) {
      managedChannel.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private CallOptions callOptions() {
    CallOptions options = CallOptions.DEFAULT.withMaxOutboundMessageSize(MAX_MESSAGE_BYTES);
    return timeout == null ? options : options.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private ModelServiceGrpc.ModelServiceBlockingStub models() {
    ModelServiceGrpc.ModelServiceBlockingStub stub =
        ModelServiceGrpc.newBlockingStub(channel).withMaxOutboundMessageSize(MAX_MESSAGE_BYTES);
    return timeout == null ? stub : stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private InferenceServiceGrpc.InferenceServiceBlockingStub inference() {
    InferenceServiceGrpc.InferenceServiceBlockingStub stub =
        InferenceServiceGrpc.newBlockingStub(channel).withMaxOutboundMessageSize(MAX_MESSAGE_BYTES);
    return timeout == null ? stub : stub.withDeadlineAfter(timeout.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static PredictRequest predictRequest(
      String model, String version, Map<String, Tensor> inputs, Collection<String> outputs) {
    PredictRequest.Builder request =
        PredictRequest.newBuilder().setModel(model).setVersion(version).addAllOutputFilter(outputs);
    inputs.forEach((name, tensor) -> request.putInputs(name, tensor.toProto()));
    return request.build();
  }

  static Map<String, Tensor> decodeOutputs(PredictResponse response) {
    Map<String, Tensor> result = new LinkedHashMap<>();
    response.getOutputsMap().forEach((name, tensor) -> result.put(name, Tensor.fromProto(tensor)));
    return result;
  }

  private static <T> T call(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw KilnException.from(e);
    }
  }

  /** Configures and builds a {@link KilnClient}. */
  public static final class Builder {
    private final String target;
    private boolean tls;
    private byte[] trustCertificates;
    private byte[] certificateChain;
    private byte[] privateKey;
    private String token;
    private Duration timeout = Duration.ofSeconds(30);

    private Builder(String target) {
      this.target = Objects.requireNonNull(target, "target");
    }

    /**
     * Uses TLS, trusting the system's CAs unless {@link #trustCertificates} is given. Implied by
     * the certificate options. Default: plaintext.
     *
     * @param tls whether to use TLS
     * @return this builder
     */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /**
     * Trusts these CA certificates (PEM) instead of the system's; turns TLS on.
     *
     * @param pem the PEM bundle
     * @return this builder
     */
    public Builder trustCertificates(byte[] pem) {
      this.trustCertificates = pem.clone();
      this.tls = true;
      return this;
    }

    /**
     * Trusts the CA certificates (PEM) in a file instead of the system's; turns TLS on.
     *
     * @param pemFile the PEM bundle's path
     * @return this builder
     * @throws UncheckedIOException if the file cannot be read
     */
    public Builder trustCertificates(Path pemFile) {
      return trustCertificates(read(pemFile));
    }

    /**
     * Presents a client certificate, for mutual TLS; turns TLS on.
     *
     * @param certificateChainPem the client certificate chain (PEM)
     * @param privateKeyPem the client's private key (PEM, PKCS#8)
     * @return this builder
     */
    public Builder clientCertificate(byte[] certificateChainPem, byte[] privateKeyPem) {
      this.certificateChain = certificateChainPem.clone();
      this.privateKey = privateKeyPem.clone();
      this.tls = true;
      return this;
    }

    /**
     * Presents a client certificate read from files, for mutual TLS; turns TLS on.
     *
     * @param certificateChainFile the client certificate chain (PEM)
     * @param privateKeyFile the client's private key (PEM, PKCS#8)
     * @return this builder
     * @throws UncheckedIOException if a file cannot be read
     */
    public Builder clientCertificate(Path certificateChainFile, Path privateKeyFile) {
      return clientCertificate(read(certificateChainFile), read(privateKeyFile));
    }

    /**
     * Sends {@code authorization: Bearer <token>} with every call.
     *
     * @param token the token, or null for none
     * @return this builder
     */
    public Builder bearerToken(String token) {
      this.token = token;
      return this;
    }

    /**
     * The deadline of each call, counted from its start (for {@code generate} and {@code
     * streamPredict}, the whole stream). Default: 30 seconds.
     *
     * @param timeout the deadline, or null for none
     * @return this builder
     */
    public Builder defaultDeadline(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /**
     * Builds the client. The connection is made lazily, on the first call.
     *
     * @return the client
     * @throws IllegalArgumentException if the certificates cannot be parsed
     */
    public KilnClient build() {
      ChannelCredentials credentials;
      if (tls) {
        TlsChannelCredentials.Builder builder = TlsChannelCredentials.newBuilder();
        try {
          if (trustCertificates != null) {
            builder.trustManager(new ByteArrayInputStream(trustCertificates));
          }
          if (certificateChain != null) {
            builder.keyManager(
                new ByteArrayInputStream(certificateChain), new ByteArrayInputStream(privateKey));
          }
        } catch (IOException | IllegalArgumentException e) {
          throw new IllegalArgumentException("cannot use the TLS certificates: " + e.getMessage(), e);
        }
        credentials = builder.build();
      } else {
        credentials = InsecureChannelCredentials.create();
      }
      ManagedChannel channel;
      try {
        channel =
            Grpc.newChannelBuilder(target, credentials)
                .maxInboundMessageSize(MAX_MESSAGE_BYTES)
                .build();
      } catch (IllegalArgumentException | ManagedChannelRegistry.ProviderNotFoundException e) {
        // The TLS material is parsed here, when the channel's SSL context is made.
        if (!tls) {
          throw e;
        }
        throw new IllegalArgumentException(
            "cannot use the TLS certificates (PEM; the private key in PKCS#8): " + e.getMessage(),
            e);
      }
      return new KilnClient(channel, token, timeout);
    }

    private static byte[] read(Path file) {
      try {
        return Files.readAllBytes(file);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
