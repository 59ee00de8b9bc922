package kiln

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestFloat32TensorIsLittleEndianRowMajor(t *testing.T) {
	tensor := NewFloat32Tensor([]int64{2, 2}, []float32{1, -2, 0.5, float32(math.Inf(1))})
	want := []byte{
		0x00, 0x00, 0x80, 0x3f, // 1
		0x00, 0x00, 0x00, 0xc0, // -2
		0x00, 0x00, 0x00, 0x3f, // 0.5
		0x00, 0x00, 0x80, 0x7f, // +Inf
	}
	if tensor.DType != Float32 || !bytes.Equal(tensor.Data, want) {
		t.Fatalf("got %v %x, want float32 %x", tensor.DType, tensor.Data, want)
	}
	if err := tensor.Validate(); err != nil {
		t.Fatal(err)
	}
	back, err := tensor.Float32s()
	if err != nil || back[1] != -2 || !math.IsInf(float64(back[3]), 1) {
		t.Fatalf("round trip: %v %v", back, err)
	}
}

func TestInt64TensorRoundTrip(t *testing.T) {
	values := []int64{0, -1, math.MaxInt64, math.MinInt64, 8}
	tensor := NewInt64Tensor([]int64{5}, values)
	if got := tensor.Data[8:16]; !bytes.Equal(got, bytes.Repeat([]byte{0xff}, 8)) {
		t.Fatalf("-1 encoded as %x", got)
	}
	if !bytes.Equal(tensor.Data[len(tensor.Data)-8:], []byte{8, 0, 0, 0, 0, 0, 0, 0}) {
		t.Fatalf("8 encoded as %x", tensor.Data[len(tensor.Data)-8:])
	}
	back, err := tensor.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	for i := range values {
		if back[i] != values[i] {
			t.Fatalf("element %d: got %d, want %d", i, back[i], values[i])
		}
	}
}

func TestGenericRoundTripEveryElementType(t *testing.T) {
	roundTrip(t, []bool{true, false, true}, Bool)
	roundTrip(t, []int8{-128, 0, 127}, Int8)
	roundTrip(t, []int16{-300, 0, 300}, Int16)
	roundTrip(t, []int32{-70000, 0, 70000}, Int32)
	roundTrip(t, []uint8{0, 1, 255}, Uint8)
	roundTrip(t, []uint16{0, 1, 65535}, Uint16)
	roundTrip(t, []uint32{0, 1, math.MaxUint32}, Uint32)
	roundTrip(t, []uint64{0, 1, math.MaxUint64}, Uint64)
	roundTrip(t, []float64{-1.5, 0, math.MaxFloat64}, Float64)
}

func roundTrip[T Element](t *testing.T, values []T, dtype DType) {
	t.Helper()
	tensor := NewTensor([]int64{int64(len(values))}, values)
	if tensor.DType != dtype || len(tensor.Data) != len(values)*dtype.Size() {
		t.Fatalf("%v: dtype %v, %d bytes", dtype, tensor.DType, len(tensor.Data))
	}
	back, err := Values[T](tensor)
	if err != nil {
		t.Fatal(err)
	}
	for i := range values {
		if back[i] != values[i] {
			t.Fatalf("%v element %d: got %v, want %v", dtype, i, back[i], values[i])
		}
	}
}

func TestValidateRejectsWrongSizes(t *testing.T) {
	if err := NewFloat32Tensor([]int64{2, 2}, []float32{1, 2, 3}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "needs 16 bytes, has 12") {
		t.Fatalf("short data: %v", err)
	}
	if err := (Tensor{DType: Float32, Shape: []int64{-1}}).Validate(); err == nil {
		t.Fatal("negative dimension accepted")
	}
	if err := (Tensor{DType: 99, Shape: []int64{}}).Validate(); err == nil {
		t.Fatal("unknown dtype accepted")
	}
	scalar := NewFloat64Tensor(nil, []float64{3})
	if err := scalar.Validate(); err != nil || scalar.NumElements() != 1 {
		t.Fatalf("scalar: %v", err)
	}
	half := Tensor{DType: Float16, Shape: []int64{2}, Data: []byte{0x00, 0x3c, 0x00, 0xc0}}
	if err := half.Validate(); err != nil {
		t.Fatalf("float16 from raw bytes: %v", err)
	}
}

func TestDecodeChecksDType(t *testing.T) {
	if _, err := NewInt64Tensor([]int64{1}, []int64{1}).Float32s(); err == nil ||
		!strings.Contains(err.Error(), "tensor is int64, not float32") {
		t.Fatalf("got %v", err)
	}
}

func TestDTypeNames(t *testing.T) {
	for dtype, want := range map[DType]string{Float32: "float32", BFloat16: "bfloat16", Bool: "bool", 42: "DType(42)"} {
		if got := dtype.String(); got != want {
			t.Errorf("%d: got %q, want %q", dtype, got, want)
		}
	}
}
