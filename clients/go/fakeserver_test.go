package kiln_test

// The client against an in-process fake server (over bufconn): streaming, cancellation, the
// bearer token and error details, without a real Kiln server.

import (
	"context"
	"errors"
	"net"
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
