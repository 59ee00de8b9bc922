package kiln_test

// The shared SDK scenarios, run against a real server: scripts/sdk-scenarios starts one and sets
// KILN_ADDRESS (host:port), KILN_VECTORS (tests/vectors) and KILN_SCENARIO_OUT (a directory for
// go.sha256). Without KILN_ADDRESS these tests are skipped. It also starts a second server that
// requires mutual TLS and sets KILN_TLS_ADDRESS, KILN_TLS_CA, KILN_TLS_CLIENT_CERT and
// KILN_TLS_CLIENT_KEY (PEM files); without KILN_TLS_ADDRESS the TLS scenario is skipped.

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	kiln "github.com/kiln-serving/kiln/clients/go"
	"google.golang.org/grpc/codes"
)

const ganModel = "digits-gan"

type vectors struct {
	Digit struct {
		File  string  `json:"file"`
		Shape []int64 `json:"shape"`
		Label int64   `json:"label"`
	} `json:"digit"`
	Generate struct {
		Model     string  `json:"model"`
		Count     int64   `json:"count"`
		Seed      uint64  `json:"seed"`
		ChunkSize int64   `json:"chunk_size"`
		SHA256    *string `json:"sha256_of_samples"`
	} `json:"generate"`
}

func scenarioClient(t *testing.T) *kiln.Client {
	t.Helper()
	address := os.Getenv("KILN_ADDRESS")
	if address == "" {
		t.Skip("KILN_ADDRESS is not set: run scripts/sdk-scenarios go to test against a real server")
	}
	client, err := kiln.NewClient(address, kiln.WithTimeout(60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

func loadVectors(t *testing.T) (vectors, string) {
	t.Helper()
	dir := os.Getenv("KILN_VECTORS")
	if dir == "" {
		dir = filepath.Join("..", "..", "tests", "vectors")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v, dir
}

var (
	modelsOnce sync.Once
	modelNames []string
	modelsErr  error
)

// requireModel skips the test when the server does not serve model (the GAN plugin may not
// have shipped yet); any other failure to list models fails the test.
func requireModel(t *testing.T, client *kiln.Client, name string) {
	t.Helper()
	modelsOnce.Do(func() {
		models, err := client.ListModels(context.Background())
		modelsErr = err
		for _, m := range models {
			modelNames = append(modelNames, m.Name)
		}
	})
	if modelsErr != nil {
		t.Fatal(modelsErr)
	}
	if !slices.Contains(modelNames, name) {
		t.Skipf("SKIP: model %q is not served by this server (models: %v); its scenarios are skipped", name, modelNames)
	}
}

// readDigit returns the digit image of vectors.json as the "image" input of digits.
func readDigit(t *testing.T) (map[string]kiln.Tensor, vectors) {
	t.Helper()
	v, dir := loadVectors(t)
	raw, err := os.ReadFile(filepath.Join(dir, v.Digit.File))
	if err != nil {
		t.Fatal(err)
	}
	pixels := make([]float32, len(raw)/4)
	if _, err := binary.Decode(raw, binary.LittleEndian, pixels); err != nil {
		t.Fatal(err)
	}
	return map[string]kiln.Tensor{"image": kiln.NewFloat32Tensor(v.Digit.Shape, pixels)}, v
}

func TestScenarioListModels(t *testing.T) {
	client := scenarioClient(t)
	models, err := client.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range models {
		names = append(names, m.Name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("models not sorted by name: %v", names)
	}
	digits, err := client.GetModel(context.Background(), "digits")
	if err != nil {
		t.Fatal(err)
	}
	if !digits.Ready() || !digits.Can("predict") || len(digits.Inputs) != 1 || digits.Inputs[0].DType != kiln.Float32 {
		t.Errorf("digits: %+v", digits)
	}
	t.Run(ganModel, func(t *testing.T) {
		if !slices.Contains(names, ganModel) {
			t.Skipf("SKIP: %q is not served by this server (models: %v); the GAN scenarios are skipped", ganModel, names)
		}
		gan, err := client.GetModel(context.Background(), ganModel)
		if err != nil || !gan.Can("generate") {
			t.Fatalf("%s: %+v %v", ganModel, gan, err)
		}
	})
}

func TestScenarioGenerateFromClassifierFails(t *testing.T) {
	client := scenarioClient(t)
	stream, err := client.Generate(context.Background(), "digits", 1)
	if err == nil {
		_, err = stream.Recv()
	}
	var kerr *kiln.Error
	if !errors.As(err, &kerr) || kerr.Code != codes.FailedPrecondition || kerr.Reason != kiln.ReasonGenerationUnsupported {
		t.Fatalf("got %v, want FAILED_PRECONDITION / GENERATION_UNSUPPORTED", err)
	}
}

func TestScenarioPredictDigit(t *testing.T) {
	client := scenarioClient(t)
	digit, v := readDigit(t)
	outputs, err := client.Predict(context.Background(), "digits", digit)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := outputs["label"].Int64s()
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 1 || labels[0] != v.Digit.Label {
		t.Fatalf("label %v, want [%d]", labels, v.Digit.Label)
	}
	probabilities, err := outputs["probabilities"].Float32s()
	if err != nil || !slices.Equal(outputs["probabilities"].Shape, []int64{1, 10}) {
		t.Fatalf("probabilities %v %v", outputs["probabilities"].Shape, err)
	}
	if slices.Index(probabilities, slices.Max(probabilities)) != int(v.Digit.Label) {
		t.Errorf("argmax of probabilities %v is not %d", probabilities, v.Digit.Label)
	}
}

func TestScenarioStreamPredict(t *testing.T) {
	client := scenarioClient(t)
	digit, v := readDigit(t)
	wrongShape := map[string]kiln.Tensor{"image": kiln.NewFloat32Tensor([]int64{1, 27, 28, 1}, make([]float32, 27*28))}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := client.StreamPredict(ctx, "digits", slices.Values([]map[string]kiln.Tensor{digit, wrongShape, digit}))
	if err != nil {
		t.Fatal(err)
	}
	var results []*kiln.PredictResult
	for result, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, result)
	}
	if len(results) != 3 {
		t.Fatalf("got %d results, want 3", len(results))
	}
	for i, result := range results {
		if want := []string{"0", "1", "2"}[i]; result.RequestID != want {
			t.Fatalf("result %d has id %q, want %q", i, result.RequestID, want)
		}
	}
	for _, i := range []int{0, 2} {
		if results[i].Err != nil {
			t.Fatalf("result %d: %v", i, results[i].Err)
		}
		labels, err := results[i].Outputs["label"].Int64s()
		if err != nil || len(labels) != 1 || labels[0] != v.Digit.Label {
			t.Fatalf("result %d: label %v %v, want [%d]", i, labels, err, v.Digit.Label)
		}
	}
	var kerr *kiln.Error
	if results[1].Outputs != nil || !errors.As(results[1].Err, &kerr) {
		t.Fatalf("result 1: outputs %v, error %v; want no outputs and a *kiln.Error", results[1].Outputs, results[1].Err)
	}
	if kerr.Code != codes.InvalidArgument || kerr.Reason != kiln.ReasonInputShapeMismatch || kerr.Field != "inputs[image].shape" {
		t.Fatalf("result 1: code %v reason %q field %q", kerr.Code, kerr.Reason, kerr.Field)
	}
}

func TestScenarioGenerateDigest(t *testing.T) {
	client := scenarioClient(t)
	v, _ := loadVectors(t)
	g := v.Generate
	requireModel(t, client, g.Model)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stream, err := client.Generate(ctx, g.Model, g.Count, kiln.WithSeed(g.Seed), kiln.WithChunkSize(g.ChunkSize))
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.New()
	var index, done int64
	for chunk, err := range stream.All() {
		if err != nil {
			t.Fatal(err)
		}
		if chunk.Index != index || chunk.Samples == nil || chunk.Total != g.Count {
			t.Fatalf("chunk %d: %+v", index, chunk)
		}
		if err := chunk.Samples.Validate(); err != nil {
			t.Fatal(err)
		}
		done += chunk.Samples.Shape[0]
		if chunk.Done != done {
			t.Fatalf("chunk %d: samples_done %d, counted %d", index, chunk.Done, done)
		}
		digest.Write(chunk.Samples.Data)
		index++
	}
	if done != g.Count || index != (g.Count+g.ChunkSize-1)/g.ChunkSize {
		t.Fatalf("got %d samples in %d chunks", done, index)
	}
	sum := hex.EncodeToString(digest.Sum(nil))
	t.Logf("sha256 of samples: %s", sum)
	if out := os.Getenv("KILN_SCENARIO_OUT"); out != "" {
		if err := os.WriteFile(filepath.Join(out, "go.sha256"), []byte(sum+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if g.SHA256 != nil && *g.SHA256 != sum {
		t.Fatalf("sha256 %s, vectors.json says %s", sum, *g.SHA256)
	}
}

func TestScenarioUnknownModel(t *testing.T) {
	client := scenarioClient(t)
	_, err := client.GetModel(context.Background(), "no-such-model")
	var kerr *kiln.Error
	if !errors.As(err, &kerr) || kerr.Code != codes.NotFound || kerr.Reason != kiln.ReasonModelNotFound {
		t.Fatalf("GetModel: got %v, want NOT_FOUND / MODEL_NOT_FOUND", err)
	}
	_, err = client.Predict(context.Background(), "no-such-model",
		map[string]kiln.Tensor{"image": kiln.NewFloat32Tensor([]int64{1}, []float32{0})})
	if !errors.As(err, &kerr) || kerr.Code != codes.NotFound || kerr.Reason != kiln.ReasonModelNotFound {
		t.Fatalf("Predict: got %v, want NOT_FOUND / MODEL_NOT_FOUND", err)
	}
}

func TestScenarioWrongShape(t *testing.T) {
	client := scenarioClient(t)
	image := kiln.NewFloat32Tensor([]int64{1, 27, 28, 1}, make([]float32, 27*28))
	_, err := client.Predict(context.Background(), "digits", map[string]kiln.Tensor{"image": image})
	var kerr *kiln.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("got %v, want a *kiln.Error", err)
	}
	if kerr.Code != codes.InvalidArgument || kerr.Reason != kiln.ReasonInputShapeMismatch ||
		kerr.Field != "inputs[image].shape" || kerr.Domain != kiln.ErrorDomain {
		t.Fatalf("got code %v reason %q field %q domain %q", kerr.Code, kerr.Reason, kerr.Field, kerr.Domain)
	}
}

func TestScenarioCancelGenerate(t *testing.T) {
	client := scenarioClient(t)
	requireModel(t, client, ganModel)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := client.Generate(ctx, ganModel, 4096, kiln.WithSeed(1), kiln.WithChunkSize(16))
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if first.Index != 0 || first.Total != 4096 {
		t.Fatalf("first chunk %+v", first)
	}
	start := time.Now()
	cancel()
	received := 1
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
		received++
	}
	elapsed := time.Since(start)
	var kerr *kiln.Error
	if !errors.As(err, &kerr) || kerr.Code != codes.Canceled {
		t.Fatalf("after cancel: got %v, want CANCELLED", err)
	}
	if elapsed > 2*time.Second || received >= 4096/16 {
		t.Fatalf("cancel took %v and %d chunks arrived", elapsed, received)
	}
	// The server is still serving after the cancelled stream.
	if _, err := client.GetModel(context.Background(), ganModel); err != nil {
		t.Fatal(err)
	}
}

func TestScenarioMutualTLS(t *testing.T) {
	address := os.Getenv("KILN_TLS_ADDRESS")
	if address == "" {
		t.Skip("KILN_TLS_ADDRESS is not set: run scripts/sdk-scenarios go to test against a mutual-TLS server")
	}
	ca, err := os.ReadFile(os.Getenv("KILN_TLS_CA"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("no certificate in %s", os.Getenv("KILN_TLS_CA"))
	}
	certificate, err := tls.LoadX509KeyPair(os.Getenv("KILN_TLS_CLIENT_CERT"), os.Getenv("KILN_TLS_CLIENT_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	digit, v := readDigit(t)

	// The address is 127.0.0.1:port: the server's certificate is checked against its IP SAN.
	client, err := kiln.NewClient(address, kiln.WithTimeout(30*time.Second), kiln.WithTLS(&tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{certificate},
		MinVersion:   tls.VersionTLS12,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	outputs, err := client.Predict(context.Background(), "digits", digit)
	if err != nil {
		t.Fatal(err)
	}
	labels, err := outputs["label"].Int64s()
	if err != nil || len(labels) != 1 || labels[0] != v.Digit.Label {
		t.Fatalf("label %v %v, want [%d]", labels, err, v.Digit.Label)
	}

	// Without a client certificate the server refuses the handshake and the call fails with
	// UNAVAILABLE. Over TLS 1.3 the client's side of the handshake completes before the server
	// checks for a certificate, so the message is "error reading server preface: EOF" rather
	// than "authentication handshake failed" (TLS 1.2); the code is the same.
	anonymous, err := kiln.NewClient(address, kiln.WithTimeout(10*time.Second), kiln.WithTLS(&tls.Config{
		RootCAs:    roots,
		MinVersion: tls.VersionTLS12,
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer anonymous.Close()
	_, err = anonymous.ListModels(context.Background())
	var kerr *kiln.Error
	if !errors.As(err, &kerr) || kerr.Code != codes.Unavailable {
		t.Fatalf("without a client certificate: got %v, want UNAVAILABLE", err)
	}
	t.Logf("without a client certificate: %v", err)
}
