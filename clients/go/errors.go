package kiln

import (
	"errors"
	"fmt"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// ErrorDomain is the google.rpc.ErrorInfo domain of every error the Kiln server raises.
const ErrorDomain = "kiln.dev"

// Reasons the server puts in ErrorInfo.reason (not exhaustive: compare Error.Reason as a string).
const (
	ReasonModelNotFound         = "MODEL_NOT_FOUND"
	ReasonVersionNotFound       = "VERSION_NOT_FOUND"
	ReasonModelNotReady         = "MODEL_NOT_READY"
	ReasonInputShapeMismatch    = "INPUT_SHAPE_MISMATCH"
	ReasonInputDTypeMismatch    = "INPUT_DTYPE_MISMATCH"
	ReasonInputMissing          = "INPUT_MISSING"
	ReasonGenerationUnsupported = "GENERATION_UNSUPPORTED"
	ReasonQueueFull             = "QUEUE_FULL"
)

// FieldViolation is one bad field of a request (google.rpc.BadRequest.FieldViolation).
type FieldViolation struct {
	Field       string // path of the field, e.g. "inputs[image].shape"
	Description string // what is wrong with it
}

// Error is what every call of a Client returns on failure: the gRPC status decoded with the
// server's google.rpc.ErrorInfo and BadRequest details.
//
//	var kerr *kiln.Error
//	if errors.As(err, &kerr) && kerr.Reason == kiln.ReasonModelNotFound { ... }
type Error struct {
	Code     codes.Code        // gRPC status code
	Message  string            // the server's message for people
	Reason   string            // ErrorInfo.reason, e.g. "MODEL_NOT_FOUND"; "" when none was sent
	Domain   string            // ErrorInfo.domain ("kiln.dev" for the server's own errors)
	Metadata map[string]string // ErrorInfo.metadata
	// Field is the first offending request field (e.g. "inputs[image].shape"), or "".
	Field string
	// Violations lists every offending field of a bad request.
	Violations []FieldViolation

	status *status.Status
}

func (e *Error) Error() string {
	reason := ""
	if e.Reason != "" {
		reason = " (" + e.Reason + ")"
	}
	return fmt.Sprintf("kiln: %s%s: %s", e.Code, reason, e.Message)
}

// GRPCStatus returns the status the error was decoded from, so status.FromError and
// status.Code keep working on it.
func (e *Error) GRPCStatus() *status.Status {
	if e.status == nil {
		return status.New(e.Code, e.Message)
	}
	return e.status
}

// Is reports whether target is an *Error with the same Code and, if target sets one, Reason:
// errors.Is(err, &kiln.Error{Code: codes.NotFound}).
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code && (t.Reason == "" || t.Reason == e.Reason)
}

// FromError decodes a gRPC error into an *Error. Nil stays nil; an error that carries no gRPC
// status is returned unchanged.
func FromError(err error) error {
	if err == nil {
		return nil
	}
	var kerr *Error
	if errors.As(err, &kerr) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	return fromStatus(st)
}

func fromStatus(st *status.Status) *Error {
	e := &Error{Code: st.Code(), Message: st.Message(), status: st}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			if e.Reason == "" {
				e.Reason, e.Domain, e.Metadata = d.GetReason(), d.GetDomain(), d.GetMetadata()
			}
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				e.Violations = append(e.Violations, FieldViolation{Field: v.GetField(), Description: v.GetDescription()})
			}
		}
	}
	if len(e.Violations) > 0 {
		e.Field = e.Violations[0].Field
	}
	return e
}

// fromStreamError decodes the in-stream kiln.v1.Error of one failed StreamPredict request. It
// rebuilds the status the server would have returned for the same failure of a unary call
// (ErrorInfo, and BadRequest for a field at fault), so the *Error matches Predict's.
func fromStreamError(e *kilnv1.Error) *Error {
	code := codes.Code(e.GetCode())
	if code == codes.OK {
		code = codes.Unknown // a failed request, whatever the code says
	}
	st := status.New(code, e.GetMessage())
	details := []protoadapt.MessageV1{
		&errdetails.ErrorInfo{Reason: e.GetReason(), Domain: ErrorDomain, Metadata: e.GetMetadata()},
	}
	if e.GetField() != "" {
		details = append(details, &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: e.GetField(), Description: e.GetMessage(), Reason: e.GetReason()},
		}})
	}
	if rich, err := st.WithDetails(details...); err == nil {
		st = rich
	}
	return fromStatus(st)
}
