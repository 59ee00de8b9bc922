import assert from "node:assert/strict";
import { test } from "node:test";
import { DataType } from "../src/gen/kiln/v1/tensor_pb.js";
import { fromTensorProto, toTensorProto } from "../src/tensor.js";

test("float32 tensors are little-endian row-major bytes", () => {
  const proto = toTensorProto("x", { shape: [2, 2], data: new Float32Array([1, -2, 0.5, Infinity]) });
  assert.equal(proto.dtype, DataType.FLOAT32);
  assert.deepEqual(proto.shape, [2n, 2n]);
  assert.deepEqual(
    Array.from(proto.content),
    [0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x80, 0x7f],
  );
  const back = fromTensorProto(proto);
  assert.equal(back.dtype, "float32");
  assert.deepEqual(back.shape, [2, 2]);
  assert.deepEqual(Array.from(back.data as Float32Array), [1, -2, 0.5, Infinity]);
});

test("int64 tensors round-trip through BigInt64Array", () => {
  const values = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 8n];
  const proto = toTensorProto("x", { shape: [5], data: BigInt64Array.from(values) });
  assert.equal(proto.dtype, DataType.INT64);
  assert.deepEqual(Array.from(proto.content.subarray(8, 16)), Array(8).fill(0xff));
  assert.deepEqual(Array.from(proto.content.subarray(32)), [8, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(fromTensorProto(proto).data as BigInt64Array), values);
});

test("dtype follows the typed array, or is given", () => {
  const cases: [Parameters<typeof toTensorProto>[1], DataType][] = [
    [{ shape: [1], data: new Int8Array([1]) }, DataType.INT8],
    [{ shape: [1], data: new Int16Array([1]) }, DataType.INT16],
    [{ shape: [1], data: new Int32Array([1]) }, DataType.INT32],
    [{ shape: [1], data: new Uint8Array([1]) }, DataType.UINT8],
    [{ shape: [1], data: new Uint16Array([1]) }, DataType.UINT16],
    [{ shape: [1], data: new Uint32Array([1]) }, DataType.UINT32],
    [{ shape: [1], data: new BigUint64Array([1n]) }, DataType.UINT64],
    [{ shape: [1], data: new Float64Array([1]) }, DataType.FLOAT64],
    [{ shape: [2], data: [true, false] }, DataType.BOOL],
    [{ shape: [1], data: new Uint16Array([0x3c00]), dtype: "float16" }, DataType.FLOAT16],
    [{ shape: [1], data: new Uint16Array([0x3f80]), dtype: "bfloat16" }, DataType.BFLOAT16],
  ];
  for (const [input, dtype] of cases) {
    const proto = toTensorProto("x", input);
    assert.equal(proto.dtype, dtype);
    const back = fromTensorProto(proto);
    assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(input.data as ArrayLike<unknown>, (v) =>
      typeof v === "boolean" ? (v ? 1 : 0) : v,
    ));
  }
});

test("mismatched shapes and types are rejected before sending", () => {
  assert.throws(() => toTensorProto("image", { shape: [2, 2], data: new Float32Array(3) }), /needs 4 elements, data has 3/);
  assert.throws(() => toTensorProto("image", { shape: [-1], data: new Float32Array(0) }), /invalid dimension/);
  assert.throws(() => toTensorProto("image", { shape: [1], data: new Float32Array(1), dtype: "int64" }), /cannot hold int64/);
});

test("decoding copies unaligned content and checks its size", () => {
  const buffer = new Uint8Array(9);
  buffer.set(new Uint8Array(new Float64Array([2.5]).buffer), 1);
  const back = fromTensorProto({ ...toTensorProto("x", { shape: [1], data: new Float64Array([0]) }), content: buffer.subarray(1) });
  assert.deepEqual(Array.from(back.data as Float64Array), [2.5]);
  const bad = { ...toTensorProto("x", { shape: [2], data: new Float32Array(2) }), content: new Uint8Array(4) };
  assert.throws(() => fromTensorProto(bad), /needs 8 bytes, has 4/);
});
