package kiln

import (
	"context"
	"errors"
	"io"
	"iter"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/grpc"
)

// Chunk is one streamed chunk of generated samples.
type Chunk struct {
	Index   int64    // position of the chunk in the stream, from 0
	Samples *Tensor  // the chunk's samples, batch axis first (nil with WithPNGOnly)
	PNG     [][]byte // one PNG per sample (with WithPNG / WithPNGOnly)
	Done    int64    // samples produced so far, this chunk included
	Total   int64    // samples asked for
}

// GenerateStream delivers the chunks of one Generate call as they arrive. Cancelling the
// context given to Generate, or calling Close, stops the call and the server's work.
type GenerateStream struct {
	stream grpc.ServerStreamingClient[kilnv1.GenerateResponse]
	cancel context.CancelFunc
}

// Generate asks a generative model for count samples, streamed in chunks. Options: WithSeed,
// WithChunkSize, WithVersion, WithPNG, WithPNGOnly. Errors in the request (unknown model,
// bad count) surface from the first Recv.
func (c *Client) Generate(ctx context.Context, model string, count int64, opts ...CallOption) (*GenerateStream, error) {
	config := newCallConfig(opts)
	request := &kilnv1.GenerateRequest{
		Model:     model,
		Version:   config.version,
		Count:     count,
		Seed:      config.seed,
		ChunkSize: config.chunkSize,
	}
	if !config.noTensor {
		request.Encodings = append(request.Encodings, kilnv1.SampleEncoding_SAMPLE_ENCODING_TENSOR)
	}
	if config.png {
		request.Encodings = append(request.Encodings, kilnv1.SampleEncoding_SAMPLE_ENCODING_PNG)
	}
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.inference.Generate(ctx, request)
	if err != nil {
		cancel()
		return nil, FromError(err)
	}
	return &GenerateStream{stream: stream, cancel: cancel}, nil
}

// Recv returns the next chunk, io.EOF after the last one, or an *Error.
func (s *GenerateStream) Recv() (*Chunk, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		s.cancel()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, FromError(err)
	}
	chunk := &Chunk{
		Index: resp.GetChunkIndex(),
		PNG:   resp.GetPng(),
		Done:  resp.GetSamplesDone(),
		Total: resp.GetSamplesTotal(),
	}
	if resp.GetSamples() != nil {
		samples := tensorFromProto(resp.GetSamples())
		chunk.Samples = &samples
	}
	return chunk, nil
}

// Close cancels the call (the server stops generating) and releases its resources. It is
// safe to call more than once and after the stream has ended.
func (s *GenerateStream) Close() { s.cancel() }

// All ranges over the remaining chunks. A failure is yielded once, as the last pair, with a
// nil chunk; leaving the loop early cancels the call.
//
//	for chunk, err := range stream.All() { ... }
func (s *GenerateStream) All() iter.Seq2[*Chunk, error] { return recvAll(s.Recv, s.Close) }

// recvAll ranges over what recv returns until io.EOF; any other error is yielded once, as the
// last pair, with a nil item. It calls closeStream when the loop ends, early or not.
func recvAll[T any](recv func() (*T, error), closeStream func()) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		defer closeStream()
		for {
			item, err := recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(item, nil) {
				return
			}
		}
	}
}
