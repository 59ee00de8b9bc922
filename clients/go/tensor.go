package kiln

import (
	"encoding/binary"
	"fmt"

	kilnv1 "github.com/kiln-serving/kiln/clients/go/gen/kiln/v1"
)

// DType is the element type of a Tensor (kiln.v1.DataType).
type DType int32

// Element types a model may declare. Multi-byte types travel little-endian.
const (
	DTypeUnspecified DType = DType(kilnv1.DataType_DATA_TYPE_UNSPECIFIED)
	Bool             DType = DType(kilnv1.DataType_DATA_TYPE_BOOL)
	Int8             DType = DType(kilnv1.DataType_DATA_TYPE_INT8)
	Int16            DType = DType(kilnv1.DataType_DATA_TYPE_INT16)
	Int32            DType = DType(kilnv1.DataType_DATA_TYPE_INT32)
	Int64            DType = DType(kilnv1.DataType_DATA_TYPE_INT64)
	Uint8            DType = DType(kilnv1.DataType_DATA_TYPE_UINT8)
	Uint16           DType = DType(kilnv1.DataType_DATA_TYPE_UINT16)
	Uint32           DType = DType(kilnv1.DataType_DATA_TYPE_UINT32)
	Uint64           DType = DType(kilnv1.DataType_DATA_TYPE_UINT64)
	Float16          DType = DType(kilnv1.DataType_DATA_TYPE_FLOAT16)
	BFloat16         DType = DType(kilnv1.DataType_DATA_TYPE_BFLOAT16)
	Float32          DType = DType(kilnv1.DataType_DATA_TYPE_FLOAT32)
	Float64          DType = DType(kilnv1.DataType_DATA_TYPE_FLOAT64)
)

var dtypeInfo = map[DType]struct {
	name string
	size int
}{
	Bool: {"bool", 1}, Int8: {"int8", 1}, Int16: {"int16", 2}, Int32: {"int32", 4},
	Int64: {"int64", 8}, Uint8: {"uint8", 1}, Uint16: {"uint16", 2}, Uint32: {"uint32", 4},
	Uint64: {"uint64", 8}, Float16: {"float16", 2}, BFloat16: {"bfloat16", 2},
	Float32: {"float32", 4}, Float64: {"float64", 8},
}

// String returns the numpy-style name of the type ("float32", "int64", ...).
func (d DType) String() string {
	if info, ok := dtypeInfo[d]; ok {
		return info.name
	}
	return fmt.Sprintf("DType(%d)", int32(d))
}

// Size is the number of bytes per element (0 for an unknown type).
func (d DType) Size() int { return dtypeInfo[d].size }

// Element is a Go type that maps one-to-one onto a Kiln element type.
// float16 and bfloat16 have no Go type: build those tensors from raw bytes.
type Element interface {
	bool | int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64
}

// DTypeOf returns the element type matching T.
func DTypeOf[T Element]() DType {
	var zero T
	switch any(zero).(type) {
	case bool:
		return Bool
	case int8:
		return Int8
	case int16:
		return Int16
	case int32:
		return Int32
	case int64:
		return Int64
	case uint8:
		return Uint8
	case uint16:
		return Uint16
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case float32:
		return Float32
	default:
		return Float64
	}
}

// Tensor is a dense n-dimensional array: an element type, a shape (outermost first, batch axis
// first where the model has one) and the elements as row-major little-endian bytes.
//
// Build one with NewTensor or a typed helper (NewFloat32Tensor, ...), or fill the fields
// yourself (e.g. float16 data); read elements back with Values or a typed accessor.
type Tensor struct {
	DType DType
	Shape []int64
	Data  []byte
}

// NewTensor encodes values (row-major) as a tensor of the given shape.
// A length that does not match the shape is reported by Validate (and by Predict).
func NewTensor[T Element](shape []int64, values []T) Tensor {
	dtype := DTypeOf[T]()
	data := make([]byte, len(values)*dtype.Size())
	if _, err := binary.Encode(data, binary.LittleEndian, values); err != nil {
		panic(err) // unreachable: the buffer is sized for values
	}
	return Tensor{DType: dtype, Shape: append([]int64(nil), shape...), Data: data}
}

// NewFloat32Tensor returns a float32 tensor holding values in row-major order.
func NewFloat32Tensor(shape []int64, values []float32) Tensor { return NewTensor(shape, values) }

// NewFloat64Tensor returns a float64 tensor holding values in row-major order.
func NewFloat64Tensor(shape []int64, values []float64) Tensor { return NewTensor(shape, values) }

// NewInt32Tensor returns an int32 tensor holding values in row-major order.
func NewInt32Tensor(shape []int64, values []int32) Tensor { return NewTensor(shape, values) }

// NewInt64Tensor returns an int64 tensor holding values in row-major order.
func NewInt64Tensor(shape []int64, values []int64) Tensor { return NewTensor(shape, values) }

// NewUint8Tensor returns a uint8 tensor holding values in row-major order.
func NewUint8Tensor(shape []int64, values []uint8) Tensor { return NewTensor(shape, values) }

// NewBoolTensor returns a bool tensor holding values in row-major order.
func NewBoolTensor(shape []int64, values []bool) Tensor { return NewTensor(shape, values) }

// NumElements is the product of the shape (1 for a scalar).
func (t Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Validate checks that the type is known, no dimension is negative and Data holds exactly
// NumElements elements.
func (t Tensor) Validate() error {
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("kiln: unknown tensor dtype %v", t.DType)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("kiln: tensor shape %v has a negative dimension", t.Shape)
		}
	}
	if want := t.NumElements() * int64(size); int64(len(t.Data)) != want {
		return fmt.Errorf("kiln: %v tensor of shape %v needs %d bytes, has %d",
			t.DType, t.Shape, want, len(t.Data))
	}
	return nil
}

// Values decodes the elements of t as a new []T; T must match t.DType.
func Values[T Element](t Tensor) ([]T, error) {
	if want := DTypeOf[T](); t.DType != want {
		return nil, fmt.Errorf("kiln: tensor is %v, not %v", t.DType, want)
	}
	size := t.DType.Size()
	if len(t.Data)%size != 0 {
		return nil, fmt.Errorf("kiln: %d bytes is not a whole number of %v elements", len(t.Data), t.DType)
	}
	values := make([]T, len(t.Data)/size)
	if _, err := binary.Decode(t.Data, binary.LittleEndian, values); err != nil {
		return nil, fmt.Errorf("kiln: decoding %v tensor: %w", t.DType, err)
	}
	return values, nil
}

// Float32s decodes a float32 tensor.
func (t Tensor) Float32s() ([]float32, error) { return Values[float32](t) }

// Float64s decodes a float64 tensor.
func (t Tensor) Float64s() ([]float64, error) { return Values[float64](t) }

// Int32s decodes an int32 tensor.
func (t Tensor) Int32s() ([]int32, error) { return Values[int32](t) }

// Int64s decodes an int64 tensor.
func (t Tensor) Int64s() ([]int64, error) { return Values[int64](t) }

// Uint8s decodes a uint8 tensor.
func (t Tensor) Uint8s() ([]uint8, error) { return Values[uint8](t) }

// Bools decodes a bool tensor.
func (t Tensor) Bools() ([]bool, error) { return Values[bool](t) }

func (t Tensor) toProto() *kilnv1.Tensor {
	return &kilnv1.Tensor{Dtype: kilnv1.DataType(t.DType), Shape: t.Shape, Content: t.Data}
}

func tensorFromProto(p *kilnv1.Tensor) Tensor {
	return Tensor{DType: DType(p.GetDtype()), Shape: p.GetShape(), Data: p.GetContent()}
}
