// Tensors: typed arrays <-> kiln.v1.Tensor (row-major, little-endian bytes).
import { create } from "@bufbuild/protobuf";
import { DataType, type Tensor as TensorProto, TensorSchema } from "./gen/kiln/v1/tensor_pb.js";

/** Element type names, as numpy spells them. */
export type DType =
  | "bool"
  | "int8"
  | "int16"
  | "int32"
  | "int64"
  | "uint8"
  | "uint16"
  | "uint32"
  | "uint64"
  | "float16"
  | "bfloat16"
  | "float32"
  | "float64";

/** Typed arrays a tensor's elements can live in. */
export type TypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

/**
 * A tensor to send: a shape (outermost first, batch axis first) and its elements in row-major
 * order. The dtype follows from the array type (Float32Array -> float32, BigInt64Array -> int64,
 * ...); set it for "bool" (a Uint8Array or boolean[]) and for "float16"/"bfloat16" (a
 * Uint16Array of raw bits).
 */
export interface TensorInput {
  shape: readonly number[];
  data: TypedArray | readonly boolean[];
  dtype?: DType;
}

/**
 * A tensor received from the server. `data` holds the decoded elements: the typed array of the
 * dtype, a Uint8Array of 0/1 for "bool" and a Uint16Array of raw bits for "float16"/"bfloat16".
 * `bytes` is the raw little-endian content.
 */
export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TypedArray;
  bytes: Uint8Array;
}

type ArrayCtor = {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TypedArray;
  new (length: number): TypedArray;
  BYTES_PER_ELEMENT: number;
};

interface DTypeInfo {
  proto: DataType;
  array: ArrayCtor;
}

const DTYPES: Record<DType, DTypeInfo> = {
  bool: { proto: DataType.BOOL, array: Uint8Array },
  int8: { proto: DataType.INT8, array: Int8Array },
  int16: { proto: DataType.INT16, array: Int16Array },
  int32: { proto: DataType.INT32, array: Int32Array },
  int64: { proto: DataType.INT64, array: BigInt64Array },
  uint8: { proto: DataType.UINT8, array: Uint8Array },
  uint16: { proto: DataType.UINT16, array: Uint16Array },
  uint32: { proto: DataType.UINT32, array: Uint32Array },
  uint64: { proto: DataType.UINT64, array: BigUint64Array },
  float16: { proto: DataType.FLOAT16, array: Uint16Array },
  bfloat16: { proto: DataType.BFLOAT16, array: Uint16Array },
  float32: { proto: DataType.FLOAT32, array: Float32Array },
  float64: { proto: DataType.FLOAT64, array: Float64Array },
};

const BY_PROTO = new Map<DataType, DType>(
  Object.entries(DTYPES).map(([name, info]) => [info.proto, name as DType]),
);

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The dtype name of a kiln.v1.DataType value. */
export function dtypeFromProto(value: DataType): DType {
  const dtype = BY_PROTO.get(value);
  if (dtype === undefined) throw new TypeError(`unknown tensor dtype ${value}`);
  return dtype;
}

/** Bytes per element of a dtype. */
export function dtypeSize(dtype: DType): number {
  return DTYPES[dtype].array.BYTES_PER_ELEMENT;
}

function inferDType(data: TensorInput["data"]): DType {
  if (Array.isArray(data)) return "bool";
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof BigUint64Array) return "uint64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Uint32Array) return "uint32";
  if (data instanceof Int16Array) return "int16";
  if (data instanceof Uint16Array) return "uint16";
  if (data instanceof Int8Array) return "int8";
  return "uint8";
}

function numElements(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

// Swaps the bytes of every element in place (big-endian hosts only).
function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
}

/** Encodes a TensorInput as a kiln.v1.Tensor; throws on a shape/data mismatch. */
export function toTensorProto(name: string, input: TensorInput): TensorProto {
  const dtype = input.dtype ?? inferDType(input.data);
  const info = DTYPES[dtype];
  if (info === undefined) throw new TypeError(`input ${name}: unknown dtype ${String(dtype)}`);
  for (const d of input.shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(`input ${name}: shape [${input.shape.join(", ")}] has an invalid dimension`);
    }
  }
  const count = numElements(input.shape);
  if (input.data.length !== count) {
    throw new RangeError(
      `input ${name}: shape [${input.shape.join(", ")}] needs ${count} elements, data has ${input.data.length}`,
    );
  }
  let bytes: Uint8Array;
  if (Array.isArray(input.data)) {
    bytes = Uint8Array.from(input.data as readonly boolean[], (b) => (b ? 1 : 0));
  } else {
    const data = input.data as TypedArray;
    if (data.BYTES_PER_ELEMENT !== info.array.BYTES_PER_ELEMENT) {
      throw new TypeError(`input ${name}: a ${data.constructor.name} cannot hold ${dtype} elements`);
    }
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (!LITTLE_ENDIAN) {
      bytes = bytes.slice();
      swapBytes(bytes, info.array.BYTES_PER_ELEMENT);
    }
  }
  return create(TensorSchema, {
    dtype: info.proto,
    shape: input.shape.map((d) => BigInt(d)),
    content: bytes,
  });
}

/** Decodes a kiln.v1.Tensor; throws if its content does not fit its dtype and shape. */
export function fromTensorProto(proto: TensorProto): Tensor {
  const dtype = dtypeFromProto(proto.dtype);
  const info = DTYPES[dtype];
  const shape = proto.shape.map((d) => Number(d));
  const size = info.array.BYTES_PER_ELEMENT;
  const bytes = proto.content;
  if (bytes.length !== numElements(shape) * size) {
    throw new RangeError(
      `${dtype} tensor of shape [${shape.join(", ")}] needs ${numElements(shape) * size} bytes, has ${bytes.length}`,
    );
  }
  // A typed array view needs an aligned offset (and host byte order); copy when it cannot view.
  let source = bytes;
  if (bytes.byteOffset % size !== 0 || !LITTLE_ENDIAN) {
    source = bytes.slice();
    if (!LITTLE_ENDIAN) swapBytes(source, size);
  }
  const data = new info.array(source.buffer as ArrayBuffer, source.byteOffset, bytes.length / size);
  return { dtype, shape, data, bytes };
}
