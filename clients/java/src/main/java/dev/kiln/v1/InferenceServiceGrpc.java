package dev.kiln.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * InferenceService runs models.
 * Errors on unary calls and on whole streams are google.rpc.Status values in
 * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
 * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
 * for bad input, a google.rpc.BadRequest naming the offending field.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class InferenceServiceGrpc {

  private InferenceServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "kiln.v1.InferenceService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.kiln.v1.PredictRequest,
      dev.kiln.v1.PredictResponse> getPredictMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Predict",
      requestType = dev.kiln.v1.PredictRequest.class,
      responseType = dev.kiln.v1.PredictResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.kiln.v1.PredictRequest,
      dev.kiln.v1.PredictResponse> getPredictMethod() {
    io.grpc.MethodDescriptor<dev.kiln.v1.PredictRequest, dev.kiln.v1.PredictResponse> getPredictMethod;
    if ((getPredictMethod = InferenceServiceGrpc.getPredictMethod) == null) {
      synchronized (InferenceServiceGrpc.class) {
        if ((getPredictMethod = InferenceServiceGrpc.getPredictMethod) == null) {
          InferenceServiceGrpc.getPredictMethod = getPredictMethod =
              io.grpc.MethodDescriptor.<dev.kiln.v1.PredictRequest, dev.kiln.v1.PredictResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Predict"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.PredictRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.PredictResponse.getDefaultInstance()))
              .setSchemaDescriptor(new InferenceServiceMethodDescriptorSupplier("Predict"))
              .build();
        }
      }
    }
    return getPredictMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.kiln.v1.StreamPredictRequest,
      dev.kiln.v1.StreamPredictResponse> getStreamPredictMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamPredict",
      requestType = dev.kiln.v1.StreamPredictRequest.class,
      responseType = dev.kiln.v1.StreamPredictResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<dev.kiln.v1.StreamPredictRequest,
      dev.kiln.v1.StreamPredictResponse> getStreamPredictMethod() {
    io.grpc.MethodDescriptor<dev.kiln.v1.StreamPredictRequest, dev.kiln.v1.StreamPredictResponse> getStreamPredictMethod;
    if ((getStreamPredictMethod = InferenceServiceGrpc.getStreamPredictMethod) == null) {
      synchronized (InferenceServiceGrpc.class) {
        if ((getStreamPredictMethod = InferenceServiceGrpc.getStreamPredictMethod) == null) {
          InferenceServiceGrpc.getStreamPredictMethod = getStreamPredictMethod =
              io.grpc.MethodDescriptor.<dev.kiln.v1.StreamPredictRequest, dev.kiln.v1.StreamPredictResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamPredict"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.StreamPredictRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.StreamPredictResponse.getDefaultInstance()))
              .setSchemaDescriptor(new InferenceServiceMethodDescriptorSupplier("StreamPredict"))
              .build();
        }
      }
    }
    return getStreamPredictMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.kiln.v1.GenerateRequest,
      dev.kiln.v1.GenerateResponse> getGenerateMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Generate",
      requestType = dev.kiln.v1.GenerateRequest.class,
      responseType = dev.kiln.v1.GenerateResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.kiln.v1.GenerateRequest,
      dev.kiln.v1.GenerateResponse> getGenerateMethod() {
    io.grpc.MethodDescriptor<dev.kiln.v1.GenerateRequest, dev.kiln.v1.GenerateResponse> getGenerateMethod;
    if ((getGenerateMethod = InferenceServiceGrpc.getGenerateMethod) == null) {
      synchronized (InferenceServiceGrpc.class) {
        if ((getGenerateMethod = InferenceServiceGrpc.getGenerateMethod) == null) {
          InferenceServiceGrpc.getGenerateMethod = getGenerateMethod =
              io.grpc.MethodDescriptor.<dev.kiln.v1.GenerateRequest, dev.kiln.v1.GenerateResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Generate"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.GenerateRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.kiln.v1.GenerateResponse.getDefaultInstance()))
              .setSchemaDescriptor(new InferenceServiceMethodDescriptorSupplier("Generate"))
              .build();
        }
      }
    }
    return getGenerateMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static InferenceServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<InferenceServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<InferenceServiceStub>() {
        @java.lang.Override
        public InferenceServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new InferenceServiceStub(channel, callOptions);
        }
      };
    return InferenceServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static InferenceServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<InferenceServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<InferenceServiceBlockingV2Stub>() {
        @java.lang.Override
        public InferenceServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new InferenceServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return InferenceServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static InferenceServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<InferenceServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<InferenceServiceBlockingStub>() {
        @java.lang.Override
        public InferenceServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new InferenceServiceBlockingStub(channel, callOptions);
        }
      };
    return InferenceServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static InferenceServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<InferenceServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<InferenceServiceFutureStub>() {
        @java.lang.Override
        public InferenceServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new InferenceServiceFutureStub(channel, callOptions);
        }
      };
    return InferenceServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Predict runs one batch through a model. Inputs are validated against the
     * model's signature before any model code runs.
     * </pre>
     */
    default void predict(dev.kiln.v1.PredictRequest request,
        io.grpc.stub.StreamObserver<dev.kiln.v1.PredictResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPredictMethod(), responseObserver);
    }

    /**
     * <pre>
     * StreamPredict carries many predictions over one stream. Each request has
     * a client-chosen id that its response repeats; responses may arrive in
     * any order. A bad request gets an error response for its id and the
     * stream goes on. The server ends the stream once the client half-closes
     * and every response has been sent.
     * </pre>
     */
    default io.grpc.stub.StreamObserver<dev.kiln.v1.StreamPredictRequest> streamPredict(
        io.grpc.stub.StreamObserver<dev.kiln.v1.StreamPredictResponse> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getStreamPredictMethod(), responseObserver);
    }

    /**
     * <pre>
     * Generate asks a generative model for samples, which stream back in
     * chunks as they are produced. The same seed gives the same samples
     * whatever the chunk size. Cancelling the call stops the work.
     * </pre>
     */
    default void generate(dev.kiln.v1.GenerateRequest request,
        io.grpc.stub.StreamObserver<dev.kiln.v1.GenerateResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGenerateMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service InferenceService.
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public static abstract class InferenceServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return InferenceServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service InferenceService.
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public static final class InferenceServiceStub
      extends io.grpc.stub.AbstractAsyncStub<InferenceServiceStub> {
    private InferenceServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected InferenceServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new InferenceServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Predict runs one batch through a model. Inputs are validated against the
     * model's signature before any model code runs.
     * </pre>
     */
    public void predict(dev.kiln.v1.PredictRequest request,
        io.grpc.stub.StreamObserver<dev.kiln.v1.PredictResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPredictMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * StreamPredict carries many predictions over one stream. Each request has
     * a client-chosen id that its response repeats; responses may arrive in
     * any order. A bad request gets an error response for its id and the
     * stream goes on. The server ends the stream once the client half-closes
     * and every response has been sent.
     * </pre>
     */
    public io.grpc.stub.StreamObserver<dev.kiln.v1.StreamPredictRequest> streamPredict(
        io.grpc.stub.StreamObserver<dev.kiln.v1.StreamPredictResponse> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getStreamPredictMethod(), getCallOptions()), responseObserver);
    }

    /**
     * <pre>
     * Generate asks a generative model for samples, which stream back in
     * chunks as they are produced. The same seed gives the same samples
     * whatever the chunk size. Cancelling the call stops the work.
     * </pre>
     */
    public void generate(dev.kiln.v1.GenerateRequest request,
        io.grpc.stub.StreamObserver<dev.kiln.v1.GenerateResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getGenerateMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service InferenceService.
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public static final class InferenceServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<InferenceServiceBlockingV2Stub> {
    private InferenceServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected InferenceServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new InferenceServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Predict runs one batch through a model. Inputs are validated against the
     * model's signature before any model code runs.
     * </pre>
     */
    public dev.kiln.v1.PredictResponse predict(dev.kiln.v1.PredictRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPredictMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * StreamPredict carries many predictions over one stream. Each request has
     * a client-chosen id that its response repeats; responses may arrive in
     * any order. A bad request gets an error response for its id and the
     * stream goes on. The server ends the stream once the client half-closes
     * and every response has been sent.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<dev.kiln.v1.StreamPredictRequest, dev.kiln.v1.StreamPredictResponse>
        streamPredict() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getStreamPredictMethod(), getCallOptions());
    }

    /**
     * <pre>
     * Generate asks a generative model for samples, which stream back in
     * chunks as they are produced. The same seed gives the same samples
     * whatever the chunk size. Cancelling the call stops the work.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.kiln.v1.GenerateResponse>
        generate(dev.kiln.v1.GenerateRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getGenerateMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service InferenceService.
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public static final class InferenceServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<InferenceServiceBlockingStub> {
    private InferenceServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected InferenceServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new InferenceServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Predict runs one batch through a model. Inputs are validated against the
     * model's signature before any model code runs.
     * </pre>
     */
    public dev.kiln.v1.PredictResponse predict(dev.kiln.v1.PredictRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPredictMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Generate asks a generative model for samples, which stream back in
     * chunks as they are produced. The same seed gives the same samples
     * whatever the chunk size. Cancelling the call stops the work.
     * </pre>
     */
    public java.util.Iterator<dev.kiln.v1.GenerateResponse> generate(
        dev.kiln.v1.GenerateRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getGenerateMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service InferenceService.
   * <pre>
   * InferenceService runs models.
   * Errors on unary calls and on whole streams are google.rpc.Status values in
   * the `grpc-status-details-bin` trailer, with a google.rpc.ErrorInfo whose
   * `reason` is machine-readable (MODEL_NOT_FOUND, INPUT_DTYPE_MISMATCH, ...) and,
   * for bad input, a google.rpc.BadRequest naming the offending field.
   * </pre>
   */
  public static final class InferenceServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<InferenceServiceFutureStub> {
    private InferenceServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected InferenceServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new InferenceServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Predict runs one batch through a model. Inputs are validated against the
     * model's signature before any model code runs.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.kiln.v1.PredictResponse> predict(
        dev.kiln.v1.PredictRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPredictMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_PREDICT = 0;
  private static final int METHODID_GENERATE = 1;
  private static final int METHODID_STREAM_PREDICT = 2;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_PREDICT:
          serviceImpl.predict((dev.kiln.v1.PredictRequest) request,
              (io.grpc.stub.StreamObserver<dev.kiln.v1.PredictResponse>) responseObserver);
          break;
        case METHODID_GENERATE:
          serviceImpl.generate((dev.kiln.v1.GenerateRequest) request,
              (io.grpc.stub.StreamObserver<dev.kiln.v1.GenerateResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_STREAM_PREDICT:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.streamPredict(
              (io.grpc.stub.StreamObserver<dev.kiln.v1.StreamPredictResponse>) responseObserver);
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getPredictMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.kiln.v1.PredictRequest,
              dev.kiln.v1.PredictResponse>(
                service, METHODID_PREDICT)))
        .addMethod(
          getStreamPredictMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              dev.kiln.v1.StreamPredictRequest,
              dev.kiln.v1.StreamPredictResponse>(
                service, METHODID_STREAM_PREDICT)))
        .addMethod(
          getGenerateMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.kiln.v1.GenerateRequest,
              dev.kiln.v1.GenerateResponse>(
                service, METHODID_GENERATE)))
        .build();
  }

  private static abstract class InferenceServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    InferenceServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.kiln.v1.InferenceServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("InferenceService");
    }
  }

  private static final class InferenceServiceFileDescriptorSupplier
      extends InferenceServiceBaseDescriptorSupplier {
    InferenceServiceFileDescriptorSupplier() {}
  }

  private static final class InferenceServiceMethodDescriptorSupplier
      extends InferenceServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    InferenceServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (InferenceServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new InferenceServiceFileDescriptorSupplier())
              .addMethod(getPredictMethod())
              .addMethod(getStreamPredictMethod())
              .addMethod(getGenerateMethod())
              .build();
        }
      }
    }
    return result;
  }
}
