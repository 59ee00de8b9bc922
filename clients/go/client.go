// Package kiln is the Go client of the Kiln model server.
//
// It wraps the generated gRPC stubs (package kilnv1, under gen/) with channel setup (TLS, bearer
// token, default timeout), tensor helpers, decoded errors (*Error with ErrorInfo.reason and the
// offending field) and streams for Generate and StreamPredict:
//
//	client, err := kiln.NewClient("localhost:50051")
//	if err != nil { ... }
//	defer client.Close()
//	outputs, err := client.Predict(ctx, "digits", map[string]kiln.Tensor{
//		"image": kiln.NewFloat32Tensor([]int64{1, 28, 28, 1}, pixels),
//	})
package kiln

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// MaxMessageBytes is the largest message the client sends or accepts by default (the server
// has its own limit).
const MaxMessageBytes = 256 << 20

// DefaultTimeout bounds each unary call whose context has no deadline, unless WithTimeout
// says otherwise.
const DefaultTimeout = 30 * time.Second

type clientConfig struct {
	tls         *tls.Config
	token       string
	timeout     time.Duration
	dialOptions []grpc.DialOption
}

// Option configures a Client.
type Option func(*clientConfig)

// WithTLS connects over TLS with the given configuration (nil RootCAs = the system's roots;
// set Certificates for mutual TLS). Without it the connection is plaintext.
func WithTLS(config *tls.Config) Option {
	return func(c *clientConfig) {
		if config == nil {
			config = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.tls = config
	}
}

// WithBearerToken sends "authorization: Bearer <token>" with every call.
func WithBearerToken(token string) Option { return func(c *clientConfig) { c.token = token } }

// WithTimeout sets the deadline of unary calls whose context has none (0 = no deadline).
// Streams (Generate, StreamPredict) end only with their context or the stream itself.
func WithTimeout(d time.Duration) Option { return func(c *clientConfig) { c.timeout = d } }

// WithDialOptions passes extra options to grpc.NewClient (interceptors, keepalive, ...).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(c *clientConfig) { c.dialOptions = append(c.dialOptions, opts...) }
}

// Client talks to one Kiln server. It is safe for concurrent use; Close it when done.
type Client struct {
	conn      *grpc.ClientConn
	models    kilnv1.ModelServiceClient
	inference kilnv1.InferenceServiceClient
	timeout   time.Duration
}

// NewClient returns a client for target ("host:port" or any gRPC target string). It does not
// connect: the first call does, and reports a failure to connect as an UNAVAILABLE *Error.
func NewClient(target string, opts ...Option) (*Client, error) {
	config := clientConfig{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&config)
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes)),
	}
	if config.tls != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(config.tls)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if config.token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearer{token: config.token}))
	}
	dial = append(dial, config.dialOptions...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("kiln: %w", err)
	}
	return &Client{
		conn:      conn,
		models:    kilnv1.NewModelServiceClient(conn),
		inference: kilnv1.NewInferenceServiceClient(conn),
		timeout:   config.timeout,
	}, nil
}

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error { return c.conn.Close() }

// Conn is the underlying connection, for the generated stubs (package kilnv1) or health checks.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

// bearer sends the token as call metadata. Like the other Kiln SDKs it is sent over plaintext
// connections too (local development); use WithTLS in production.
type bearer struct{ token string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearer) RequireTransportSecurity() bool { return false }

func (c *Client) unaryContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.timeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.timeout)
}

// CallOption tunes one call; options that do not apply to a call are ignored.
type CallOption func(*callConfig)

type callConfig struct {
	version   string
	outputs   []string
	seed      uint64
	chunkSize int64
	png       bool
	noTensor  bool
}

// WithVersion selects a model version ("" = the newest ready one). Predict, StreamPredict and
// Generate.
func WithVersion(version string) CallOption { return func(c *callConfig) { c.version = version } }

// WithOutputs returns only the named outputs (default: all). Predict and StreamPredict.
func WithOutputs(names ...string) CallOption {
	return func(c *callConfig) { c.outputs = append(c.outputs, names...) }
}

// WithSeed seeds generation; equal seeds give equal samples whatever the chunk size. Generate.
func WithSeed(seed uint64) CallOption { return func(c *callConfig) { c.seed = seed } }

// WithChunkSize sets the samples per streamed chunk (0 = the server's choice). Generate.
func WithChunkSize(n int64) CallOption { return func(c *callConfig) { c.chunkSize = n } }

// WithPNG also returns each sample as a PNG image (Chunk.PNG). Generate.
func WithPNG() CallOption { return func(c *callConfig) { c.png = true } }

// WithPNGOnly returns samples as PNG images only (Chunk.Samples stays nil). Generate.
func WithPNGOnly() CallOption { return func(c *callConfig) { c.png, c.noTensor = true, true } }

func newCallConfig(opts []CallOption) callConfig {
	var config callConfig
	for _, opt := range opts {
		opt(&config)
	}
	return config
}

// ListModels returns every model the server knows, ready or not, sorted by name.
func (c *Client) ListModels(ctx context.Context) ([]Model, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.models.ListModels(ctx, &kilnv1.ListModelsRequest{})
	if err != nil {
		return nil, FromError(err)
	}
	models := make([]Model, 0, len(resp.GetModels()))
	for _, m := range resp.GetModels() {
		models = append(models, modelFromProto(m))
	}
	return models, nil
}

// GetModel returns one model; an unknown name fails with NOT_FOUND, reason MODEL_NOT_FOUND.
func (c *Client) GetModel(ctx context.Context, name string) (Model, error) {
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.models.GetModel(ctx, &kilnv1.GetModelRequest{Name: name})
	if err != nil {
		return Model{}, FromError(err)
	}
	return modelFromProto(resp.GetModel()), nil
}

// Predict runs one batch through model: one tensor per model input, batch axis first. It
// returns the output tensors by name. Tensors that fail Validate are rejected before sending.
func (c *Client) Predict(ctx context.Context, model string, inputs map[string]Tensor, opts ...CallOption) (map[string]Tensor, error) {
	request, err := predictRequest(model, inputs, newCallConfig(opts))
	if err != nil {
		return nil, err
	}
	ctx, cancel := c.unaryContext(ctx)
	defer cancel()
	resp, err := c.inference.Predict(ctx, request)
	if err != nil {
		return nil, FromError(err)
	}
	return outputsFromProto(resp), nil
}

// predictRequest encodes one batch, as Predict and StreamPredict send it.
func predictRequest(model string, inputs map[string]Tensor, config callConfig) (*kilnv1.PredictRequest, error) {
	request := &kilnv1.PredictRequest{
		Model:        model,
		Version:      config.version,
		Inputs:       make(map[string]*kilnv1.Tensor, len(inputs)),
		OutputFilter: config.outputs,
	}
	for name, tensor := range inputs {
		if err := tensor.Validate(); err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		request.Inputs[name] = tensor.toProto()
	}
	return request, nil
}

// outputsFromProto decodes the output tensors of one answer, by name.
func outputsFromProto(resp *kilnv1.PredictResponse) map[string]Tensor {
	outputs := make(map[string]Tensor, len(resp.GetOutputs()))
	for name, tensor := range resp.GetOutputs() {
		outputs[name] = tensorFromProto(tensor)
	}
	return outputs
}
