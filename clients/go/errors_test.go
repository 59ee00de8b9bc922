package kiln

import (
	"errors"
	"testing"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestFromErrorDecodesErrorInfoAndBadRequest(t *testing.T) {
	st, err := status.New(codes.InvalidArgument, "input image has shape [1 27 28 1]").WithDetails(
		&errdetails.ErrorInfo{Reason: "INPUT_SHAPE_MISMATCH", Domain: ErrorDomain, Metadata: map[string]string{"model": "digits"}},
		&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "inputs[image].shape", Description: "wrong shape"},
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	decoded := FromError(st.Err())
	var kerr *Error
	if !errors.As(decoded, &kerr) {
		t.Fatalf("not an *Error: %T", decoded)
	}
	if kerr.Code != codes.InvalidArgument || kerr.Reason != ReasonInputShapeMismatch ||
		kerr.Domain != ErrorDomain || kerr.Field != "inputs[image].shape" ||
		kerr.Metadata["model"] != "digits" || len(kerr.Violations) != 1 {
		t.Fatalf("decoded %+v", kerr)
	}
	if status.Code(decoded) != codes.InvalidArgument {
		t.Fatal("status.Code does not see through *Error")
	}
	if !errors.Is(decoded, &Error{Code: codes.InvalidArgument, Reason: ReasonInputShapeMismatch}) ||
		errors.Is(decoded, &Error{Code: codes.NotFound}) {
		t.Fatal("errors.Is matching")
	}
	if want := "kiln: InvalidArgument (INPUT_SHAPE_MISMATCH): input image has shape [1 27 28 1]"; kerr.Error() != want {
		t.Fatalf("message %q", kerr.Error())
	}
}

func TestFromErrorWithoutDetails(t *testing.T) {
	var kerr *Error
	if !errors.As(FromError(status.Error(codes.Unavailable, "connection refused")), &kerr) ||
		kerr.Code != codes.Unavailable || kerr.Reason != "" || kerr.Field != "" {
		t.Fatalf("decoded %+v", kerr)
	}
	plain := errors.New("not a status")
	if FromError(plain) != plain || FromError(nil) != nil {
		t.Fatal("non-status errors must pass through")
	}
}

func TestFromStreamErrorMatchesUnary(t *testing.T) {
	kerr := fromStreamError(&kilnv1.Error{
		Code:     int32(codes.InvalidArgument),
		Message:  "input image has shape [1 27 28 1]",
		Reason:   ReasonInputShapeMismatch,
		Metadata: map[string]string{"model": "digits"},
		Field:    "inputs[image].shape",
	})
	if kerr.Code != codes.InvalidArgument || kerr.Reason != ReasonInputShapeMismatch ||
		kerr.Domain != ErrorDomain || kerr.Field != "inputs[image].shape" ||
		kerr.Metadata["model"] != "digits" || len(kerr.Violations) != 1 ||
		kerr.Message != "input image has shape [1 27 28 1]" {
		t.Fatalf("decoded %+v", kerr)
	}
	if status.Code(kerr) != codes.InvalidArgument || len(kerr.GRPCStatus().Details()) != 2 {
		t.Fatalf("status %v", kerr.GRPCStatus())
	}
	plain := fromStreamError(&kilnv1.Error{Message: "no code", Reason: "INTERNAL"})
	if plain.Code != codes.Unknown || plain.Field != "" || plain.Violations != nil || plain.Reason != "INTERNAL" {
		t.Fatalf("decoded %+v", plain)
	}
}
