package kiln

import (
	"strings"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
)

// Model describes one model the server knows.
type Model struct {
	Name         string
	Description  string
	Plugin       string         // distribution of the plugin that provides the model
	Versions     []ModelVersion // newest first
	Inputs       []TensorSpec   // batch axis first
	Outputs      []TensorSpec   // batch axis first
	MaxBatchSize int64
	Capabilities []string // "predict" and/or "generate"
}

// Ready reports whether some version of the model is READY.
func (m Model) Ready() bool {
	for _, v := range m.Versions {
		if v.State == "READY" {
			return true
		}
	}
	return false
}

// Can reports whether the model has a capability ("predict", "generate").
func (m Model) Can(capability string) bool {
	for _, c := range m.Capabilities {
		if c == capability {
			return true
		}
	}
	return false
}

// ModelVersion is one version of a model and its state.
type ModelVersion struct {
	Version string
	State   string // "READY", "LOADING", "UNLOADING", "UNAVAILABLE" or "FAILED"
	Reason  string // why it is not READY, when it is not
}

// TensorSpec is one input or output a model declares; -1 in Shape marks a free dimension.
type TensorSpec struct {
	Name        string
	DType       DType
	Shape       []int64
	Description string
}

func modelFromProto(m *kilnv1.Model) Model {
	model := Model{
		Name:         m.GetName(),
		Description:  m.GetDescription(),
		Plugin:       m.GetPlugin(),
		MaxBatchSize: m.GetMaxBatchSize(),
	}
	for _, v := range m.GetVersions() {
		model.Versions = append(model.Versions, ModelVersion{
			Version: v.GetVersion(),
			State:   strings.TrimPrefix(v.GetState().String(), "MODEL_STATE_"),
			Reason:  v.GetReason(),
		})
	}
	model.Inputs = specsFromProto(m.GetInputs())
	model.Outputs = specsFromProto(m.GetOutputs())
	for _, c := range m.GetCapabilities() {
		model.Capabilities = append(model.Capabilities, strings.ToLower(strings.TrimPrefix(c.String(), "CAPABILITY_")))
	}
	return model
}

func specsFromProto(signatures []*kilnv1.TensorSignature) []TensorSpec {
	specs := make([]TensorSpec, 0, len(signatures))
	for _, s := range signatures {
		specs = append(specs, TensorSpec{
			Name: s.GetName(), DType: DType(s.GetDtype()), Shape: s.GetShape(), Description: s.GetDescription(),
		})
	}
	return specs
}
