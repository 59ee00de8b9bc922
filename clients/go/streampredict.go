package kiln

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"sync"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// PredictResult is the answer to one batch of a StreamPredict call.
type PredictResult struct {
	RequestID string            // the id the batch was sent with: "0", "1", ... in the order sent
	Outputs   map[string]Tensor // output tensors by name; nil when the batch failed
	// Err is why the batch failed, or nil: an *Error from the server, as Predict returns it, or
	// the error of an input that failed Validate (the batch was not sent).
	Err error
}

// PredictStream delivers the results of one StreamPredict call in the order the batches were
// sent. Cancelling the context given to StreamPredict, or calling Close, stops the call. Read
// it from one goroutine.
type PredictStream struct {
	ctx    context.Context
	stream grpc.BidiStreamingClient[kilnv1.StreamPredictRequest, kilnv1.StreamPredictResponse]
	cancel context.CancelFunc
	sent   chan struct{} // closed once the sender has stopped

	mu      sync.Mutex
	count   int                       // request ids handed out so far
	waiting map[string]*PredictResult // results not yet returned, by request id

	next int   // position of the next result Recv returns
	eof  bool  // the server has ended the stream
	err  error // what Recv returns once no result is left
}

// StreamPredict sends batches to model over one stream, each encoded as Predict encodes it,
// and returns a stream of their results in the order sent, whatever order the server answers
// in (early answers wait in memory). Batch i is sent with request id strconv.Itoa(i). A failed
// batch gives a result with Err set and the stream goes on; a failure of the call itself
// surfaces from Recv as an *Error. batches is read on a goroutine of its own while results are
// received, and no further once the call has ended. Options: WithVersion, WithOutputs.
//
//	stream, err := client.StreamPredict(ctx, "digits", slices.Values(batches))
func (c *Client) StreamPredict(ctx context.Context, model string, batches iter.Seq[map[string]Tensor], opts ...CallOption) (*PredictStream, error) {
	config := newCallConfig(opts)
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.inference.StreamPredict(ctx)
	if err != nil {
		cancel()
		return nil, FromError(err)
	}
	s := &PredictStream{
		ctx:     ctx,
		stream:  stream,
		cancel:  cancel,
		sent:    make(chan struct{}),
		waiting: make(map[string]*PredictResult),
	}
	go s.send(model, batches, config)
	return s, nil
}

// send writes the batches, then half-closes the stream so that the server ends it once every
// answer is out.
func (s *PredictStream) send(model string, batches iter.Seq[map[string]Tensor], config callConfig) {
	defer close(s.sent)
	for inputs := range batches {
		if s.ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		id := strconv.Itoa(s.count)
		s.count++
		s.mu.Unlock()
		request, err := predictRequest(model, inputs, config)
		if err != nil {
			s.put(&PredictResult{RequestID: id, Err: err})
			continue
		}
		if err := s.stream.Send(&kilnv1.StreamPredictRequest{RequestId: id, Request: request}); err != nil {
			return // the call has ended; Recv reports how
		}
	}
	s.stream.CloseSend()
}

func (s *PredictStream) put(result *PredictResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waiting[result.RequestID] = result
}

// take removes and returns the next result in send order, or nil if it has not come yet.
func (s *PredictStream) take() *PredictResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := strconv.Itoa(s.next)
	result, ok := s.waiting[id]
	if !ok {
		return nil
	}
	delete(s.waiting, id)
	s.next++
	return result
}

// Recv returns the result of the next batch in send order, io.EOF after the last one, or an
// *Error when the call itself fails.
func (s *PredictStream) Recv() (*PredictResult, error) {
	for {
		if result := s.take(); result != nil {
			return result, nil
		}
		if s.err != nil {
			return nil, s.err
		}
		if s.eof {
			s.err = s.unanswered()
			continue
		}
		resp, err := s.stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			s.finish()
		case err != nil:
			s.cancel()
			s.err = FromError(err)
		default:
			s.put(resultFromProto(resp))
		}
	}
}

// finish waits for the sender after the server has ended the stream: the batches it has
// handed out, and those it failed without sending, are then all known.
func (s *PredictStream) finish() {
	select {
	case <-s.sent:
	default:
		select {
		case <-s.sent:
		case <-s.ctx.Done():
			s.err = FromError(status.FromContextError(s.ctx.Err()).Err())
		}
	}
	s.cancel()
	s.eof = true
}

// unanswered is io.EOF, or an *Error if the server ended the stream before answering every
// request.
func (s *PredictStream) unanswered() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.next < s.count {
		return &Error{
			Code:    codes.Internal,
			Message: fmt.Sprintf("the server ended the stream without answering request %q", strconv.Itoa(s.next)),
		}
	}
	return io.EOF
}

func resultFromProto(resp *kilnv1.StreamPredictResponse) *PredictResult {
	result := &PredictResult{RequestID: resp.GetRequestId()}
	if e := resp.GetError(); e != nil {
		result.Err = fromStreamError(e)
	} else {
		result.Outputs = outputsFromProto(resp.GetResponse())
	}
	return result
}

// Close cancels the call (the server stops answering) and releases its resources. It is safe
// to call more than once, from any goroutine, and after the stream has ended.
func (s *PredictStream) Close() { s.cancel() }

// All ranges over the remaining results. A failure of the call is yielded once, as the last
// pair, with a nil result; leaving the loop early cancels the call.
//
//	for result, err := range stream.All() { ... }
func (s *PredictStream) All() iter.Seq2[*PredictResult, error] {
	return recvAll(s.Recv, s.Close)
}
