package kiln_test

// The client against an in-process fake server (over bufconn): streaming, cancellation, the
// bearer token, error details and StreamPredict's reordering, without a real Kiln server.

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	kiln "github.com/kiln-serving/kiln/clients/go"
	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

type fakeServer struct {
	kilnv1.UnimplementedModelServiceServer
	kilnv1.UnimplementedInferenceServiceServer
	authorization atomic.Value
	produced      atomic.Int64
	cancelled     atomic.Int64
}

func (f *fakeServer) ListModels(ctx context.Context, _ *kilnv1.ListModelsRequest) (*kilnv1.ListModelsResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.authorization.Store(md.Get("authorization"))
	return &kilnv1.ListModelsResponse{Models: []*kilnv1.Model{{
		Name:         "fake",
		Versions:     []*kilnv1.ModelVersion{{Version: "1", State: kilnv1.ModelState_MODEL_STATE_READY}},
		Capabilities: []kilnv1.Capability{kilnv1.Capability_CAPABILITY_GENERATE},
	}}}, nil
}

func (f *fakeServer) GetModel(_ context.Context, r *kilnv1.GetModelRequest) (*kilnv1.GetModelResponse, error) {
	st, _ := status.New(codes.NotFound, "no model named "+r.GetName()).WithDetails(
		&errdetails.ErrorInfo{Reason: kiln.ReasonModelNotFound, Domain: kiln.ErrorDomain})
	return nil, st.Err()
}

func (f *fakeServer) Generate(r *kilnv1.GenerateRequest, stream grpc.ServerStreamingServer[kilnv1.GenerateResponse]) error {
	done := int64(0)
	for index := int64(0); done < r.GetCount(); index++ {
		select {
		case <-stream.Context().Done():
			f.cancelled.Add(1)
			return stream.Context().Err()
		case <-time.After(10 * time.Millisecond):
		}
		n := min(r.GetChunkSize(), r.GetCount()-done)
		done += n
		f.produced.Add(1)
		values := make([]float32, n*2)
		for i := range values {
			values[i] = float32(index)
		}
		samples := kiln.NewFloat32Tensor([]int64{n, 2}, values)
		if err := stream.Send(&kilnv1.GenerateResponse{
			ChunkIndex:   index,
			Samples:      &kilnv1.Tensor{Dtype: kilnv1.DataType(samples.DType), Shape: samples.Shape, Content: samples.Data},
			SamplesDone:  done,
			SamplesTotal: r.GetCount(),
		}); err != nil {
			return err
		}
	}
	return nil
}

// StreamPredict echoes input "image" as output "echo", answering in groups of three, each group
// in reverse order; a request without "image" gets an in-stream error. Model "broken" answers
// request "0", then fails the whole call; model "lossy" never answers request "1".
func (f *fakeServer) StreamPredict(stream grpc.BidiStreamingServer[kilnv1.StreamPredictRequest, kilnv1.StreamPredictResponse]) error {
	var group []*kilnv1.StreamPredictResponse
	flush := func() error {
		for _, response := range slices.Backward(group) {
			if err := stream.Send(response); err != nil {
				return err
			}
		}
		group = group[:0]
		return nil
	}
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return err
		}
		response := &kilnv1.StreamPredictResponse{RequestId: r.GetRequestId()}
		if image, ok := r.GetRequest().GetInputs()["image"]; ok {
			response.Result = &kilnv1.StreamPredictResponse_Response{Response: &kilnv1.PredictResponse{
				Outputs: map[string]*kilnv1.Tensor{"echo": image},
			}}
		} else {
			response.Result = &kilnv1.StreamPredictResponse_Error{Error: &kilnv1.Error{
				Code:     int32(codes.InvalidArgument),
				Message:  "missing input image",
				Reason:   kiln.ReasonInputMissing,
				Metadata: map[string]string{"model": r.GetRequest().GetModel()},
				Field:    "inputs[image]",
			}}
		}
		if r.GetRequest().GetModel() == "broken" {
			if r.GetRequestId() != "0" {
				st, _ := status.New(codes.ResourceExhausted, "queue full").WithDetails(
					&errdetails.ErrorInfo{Reason: kiln.ReasonQueueFull, Domain: kiln.ErrorDomain})
				return st.Err()
			}
			if err := stream.Send(response); err != nil {
				return err
			}
			continue
		}
		if r.GetRequest().GetModel() == "lossy" && r.GetRequestId() == "1" {
			continue
		}
		group = append(group, response)
		if len(group) == 3 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

func startFake(t *testing.T) (*fakeServer, *kiln.Client) {
	t.Helper()
	listener := bufconn.Listen(1 << 20)
	fake := &fakeServer{}
	server := grpc.NewServer()
	kilnv1.RegisterModelServiceServer(server, fake)
	kilnv1.RegisterInferenceServiceServer(server, fake)
	go server.Serve(listener)
	t.Cleanup(server.Stop)
	client, err := kiln.NewClient("passthrough:///fake",
		kiln.WithBearerToken("s3cret"),
		kiln.WithDialOptions(grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return listener.DialContext(ctx)
		})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return fake, client
}

func TestFakeBearerTokenAndModels(t *testing.T) {
	fake, client := startFake(t)
	models, err := client.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := fake.authorization.Load().([]string); len(got) != 1 || got[0] != "Bearer s3cret" {
		t.Fatalf("authorization %v", got)
	}
	if len(models) != 1 || !models[0].Ready() || !models[0].Can("generate") || models[0].Versions[0].State != "READY" {
		t.Fatalf("models %+v", models)
	}
}

func TestFakeErrorDetails(t *testing.T) {
	_, client := startFake(t)
	_, err := client.GetModel(context.Background(), "nope")
	if !errors.Is(err, &kiln.Error{Code: codes.NotFound, Reason: kiln.ReasonModelNotFound}) {
		t.Fatalf("got %v", err)
	}
}

func TestFakeGenerateStreamsInOrder(t *testing.T) {
	_, client := startFake(t)
	stream, err := client.Generate(context.Background(), "fake", 10, kiln.WithChunkSize(4))
	if err != nil {
		t.Fatal(err)
	}
	var got [][4]int64
	var last []float32
	for chunk, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, [4]int64{chunk.Index, chunk.Done, chunk.Total, chunk.Samples.Shape[0]})
		last, _ = chunk.Samples.Float32s()
	}
	want := [][4]int64{{0, 4, 10, 4}, {1, 8, 10, 4}, {2, 10, 10, 2}}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || len(last) != 4 || last[0] != 2 {
		t.Fatalf("chunks %v, last samples %v", got, last)
	}
}

func TestFakeBreakCancelsOnServer(t *testing.T) {
	fake, client := startFake(t)
	stream, err := client.Generate(context.Background(), "fake", 100000, kiln.WithChunkSize(1))
	if err != nil {
		t.Fatal(err)
	}
	for range stream.All() {
		break
	}
	deadline := time.Now().Add(2 * time.Second)
	for fake.cancelled.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if fake.cancelled.Load() != 1 {
		t.Fatal("leaving the loop did not cancel the call on the server")
	}
}

func TestFakeContextCancelIsPrompt(t *testing.T) {
	fake, client := startFake(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Generate(ctx, "fake", 100000, kiln.WithChunkSize(16))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cancel()
	for err == nil { // chunks already buffered may still arrive
		_, err = stream.Recv()
	}
	if !errors.Is(err, &kiln.Error{Code: codes.Canceled}) || time.Since(start) > time.Second {
		t.Fatalf("after cancel: %v after %v", err, time.Since(start))
	}
	produced := fake.produced.Load()
	time.Sleep(100 * time.Millisecond)
	if fake.produced.Load()-produced > 1 {
		t.Fatal("the server kept producing after the cancel")
	}
}

func TestFakeStreamPredictInSendOrder(t *testing.T) {
	_, client := startFake(t)
	// Enough batches of 64 KiB that sending everything before receiving would stall both sides.
	const n, width = 200, 16384
	var batches []map[string]kiln.Tensor
	for i := range n {
		values := make([]float32, width)
		for j := range values {
			values[j] = float32(i)
		}
		image := kiln.NewFloat32Tensor([]int64{1, width}, values)
		switch i % 10 {
		case 3: // answered with an in-stream error
			batches = append(batches, map[string]kiln.Tensor{"pixels": image})
		case 7: // fails Validate, never sent
			image.Shape = []int64{2, width}
			batches = append(batches, map[string]kiln.Tensor{"image": image})
		default:
			batches = append(batches, map[string]kiln.Tensor{"image": image})
		}
	}
	stream, err := client.StreamPredict(context.Background(), "fake", slices.Values(batches))
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for result, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		if result.RequestID != strconv.Itoa(i) {
			t.Fatalf("result %d has id %q", i, result.RequestID)
		}
		var kerr *kiln.Error
		switch i % 10 {
		case 3:
			if !errors.As(result.Err, &kerr) || result.Outputs != nil || kerr.Code != codes.InvalidArgument ||
				kerr.Reason != kiln.ReasonInputMissing || kerr.Field != "inputs[image]" ||
				kerr.Metadata["model"] != "fake" || kerr.Domain != kiln.ErrorDomain || kerr.Message != "missing input image" {
				t.Fatalf("result %d: %+v, error %+v", i, result, kerr)
			}
			if !errors.Is(result.Err, &kiln.Error{Code: codes.InvalidArgument, Reason: kiln.ReasonInputMissing}) ||
				status.Code(result.Err) != codes.InvalidArgument {
				t.Fatalf("result %d: errors.Is / status.Code on %v", i, result.Err)
			}
		case 7:
			if result.Err == nil || errors.As(result.Err, &kerr) || result.Outputs != nil {
				t.Fatalf("result %d: %+v, want a Validate error", i, result)
			}
		default:
			values, err := result.Outputs["echo"].Float32s()
			if result.Err != nil || err != nil || len(values) != width || values[0] != float32(i) {
				t.Fatalf("result %d: %+v %v", i, result.Err, err)
			}
		}
		i++
	}
	if i != n {
		t.Fatalf("got %d results, want %d", i, n)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after the end: %v", err)
	}
}

func TestFakeStreamPredictCallFailure(t *testing.T) {
	_, client := startFake(t)
	image := kiln.NewFloat32Tensor([]int64{1, 1}, []float32{1})
	batches := slices.Repeat([]map[string]kiln.Tensor{{"image": image}}, 5)
	stream, err := client.StreamPredict(context.Background(), "broken", slices.Values(batches))
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil || first.RequestID != "0" || first.Err != nil {
		t.Fatalf("first result %+v, %v", first, err)
	}
	want := &kiln.Error{Code: codes.ResourceExhausted, Reason: kiln.ReasonQueueFull}
	if _, err := stream.Recv(); !errors.Is(err, want) {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED / QUEUE_FULL", err)
	}
	if _, err := stream.Recv(); !errors.Is(err, want) {
		t.Fatalf("Recv after the failure: %v", err)
	}
}

func TestFakeStreamPredictMissingAnswer(t *testing.T) {
	_, client := startFake(t)
	image := kiln.NewFloat32Tensor([]int64{1, 1}, []float32{1})
	batches := slices.Repeat([]map[string]kiln.Tensor{{"image": image}}, 3)
	stream, err := client.StreamPredict(context.Background(), "lossy", slices.Values(batches))
	if err != nil {
		t.Fatal(err)
	}
	if first, err := stream.Recv(); err != nil || first.RequestID != "0" {
		t.Fatalf("first result %+v, %v", first, err)
	}
	if _, err := stream.Recv(); !errors.Is(err, &kiln.Error{Code: codes.Internal}) {
		t.Fatalf("got %v, want INTERNAL for the unanswered request", err)
	}
}

func TestFakeStreamPredictEmpty(t *testing.T) {
	_, client := startFake(t)
	stream, err := client.StreamPredict(context.Background(), "fake", slices.Values([]map[string]kiln.Tensor(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want io.EOF", err)
	}
}
