package dev.kiln.client;

import com.google.protobuf.ByteString;
import dev.kiln.v1.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A dense n-dimensional array as Kiln sends it: an element type, a shape and one block of
 * row-major (C order), little-endian bytes.
 *
 * <p>Build one from a Java array with the {@code of*} factories and read it back with the
 * {@code to*Array} methods:
 *
 * <pre>{@code
 * Tensor image = Tensor.ofFloats(pixels, 1, 28, 28, 1);   // float32 [1,28,28,1]
 * long[] labels = outputs.get("label").toLongArray();      // int64 [batch]
 * }</pre>
 *
 * <p>Instances are immutable; the content is shared with the protobuf message, not copied.
 */
public final class Tensor {
  private final DataType dtype;
  private final long[] shape;
  private final ByteString content;

  private Tensor(DataType dtype, long[] shape, ByteString content) {
    this.dtype = dtype;
    this.shape = shape;
    this.content = content;
  }

  /**
   * A tensor from raw parts.
   *
   * @param dtype element type (not {@code DATA_TYPE_UNSPECIFIED})
   * @param shape dimensions, outermost first (empty for a scalar)
   * @param content {@code product(shape) * elementSize(dtype)} little-endian, row-major bytes
   * @return the tensor
   * @throws IllegalArgumentException if the content length does not fit the shape and type
   */
  public static Tensor of(DataType dtype, long[] shape, ByteString content) {
    Objects.requireNonNull(content, "content");
    long[] dims = checkShape(shape);
    long expected = elementCount(dims) * elementSize(dtype);
    if (content.size() != expected) {
      throw new IllegalArgumentException(
          String.format(
              "%s%s needs %d content bytes, got %d",
              dtype, Arrays.toString(dims), expected, content.size()));
    }
    return new Tensor(dtype, dims, content);
  }

  /**
   * Decodes a {@code kiln.v1.Tensor} message (shares its bytes).
   *
   * @param proto the message
   * @return the tensor
   * @throws IllegalArgumentException if the message is malformed
   */
  public static Tensor fromProto(dev.kiln.v1.Tensor proto) {
    long[] shape = proto.getShapeList().stream().mapToLong(Long::longValue).toArray();
    return of(proto.getDtype(), shape, proto.getContent());
  }

  /**
   * A float32 tensor.
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofFloats(float[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    ByteBuffer buffer = allocate(data.length, 4);
    buffer.asFloatBuffer().put(data);
    return new Tensor(DataType.DATA_TYPE_FLOAT32, dims, ByteString.copyFrom(buffer));
  }

  /**
   * A float64 tensor.
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofDoubles(double[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    ByteBuffer buffer = allocate(data.length, 8);
    buffer.asDoubleBuffer().put(data);
    return new Tensor(DataType.DATA_TYPE_FLOAT64, dims, ByteString.copyFrom(buffer));
  }

  /**
   * An int32 tensor.
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofInts(int[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    ByteBuffer buffer = allocate(data.length, 4);
    buffer.asIntBuffer().put(data);
    return new Tensor(DataType.DATA_TYPE_INT32, dims, ByteString.copyFrom(buffer));
  }

  /**
   * An int64 tensor.
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofLongs(long[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    ByteBuffer buffer = allocate(data.length, 8);
    buffer.asLongBuffer().put(data);
    return new Tensor(DataType.DATA_TYPE_INT64, dims, ByteString.copyFrom(buffer));
  }

  /**
   * An int8 tensor.
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofBytes(byte[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    return new Tensor(DataType.DATA_TYPE_INT8, dims, ByteString.copyFrom(data));
  }

  /**
   * A bool tensor (one byte per element, 0 or 1).
   *
   * @param data elements in row-major order
   * @param shape dimensions; when omitted, a vector of {@code data.length}
   * @return the tensor
   */
  public static Tensor ofBooleans(boolean[] data, long... shape) {
    long[] dims = shapeFor(data.length, shape);
    byte[] bytes = new byte[data.length];
    for (int i = 0; i < data.length; i++) {
      bytes[i] = data[i] ? (byte) 1 : (byte) 0;
    }
    return new Tensor(DataType.DATA_TYPE_BOOL, dims, ByteString.copyFrom(bytes));
  }

  /**
   * Encodes this tensor as a {@code kiln.v1.Tensor} message (shares its bytes).
   *
   * @return the message
   */
  public dev.kiln.v1.Tensor toProto() {
    dev.kiln.v1.Tensor.Builder builder =
        dev.kiln.v1.Tensor.newBuilder().setDtype(dtype).setContent(content);
    for (long dim : shape) {
      builder.addShape(dim);
    }
    return builder.build();
  }

  /**
   * The element type.
   *
   * @return the element type
   */
  public DataType dtype() {
    return dtype;
  }

  /**
   * The dimensions, outermost first (a copy; empty for a scalar).
   *
   * @return the dimensions
   */
  public long[] shape() {
    return shape.clone();
  }

  /**
   * The number of elements: the product of the dimensions.
   *
   * @return the element count
   */
  public long size() {
    return elementCount(shape);
  }

  /**
   * The raw little-endian, row-major bytes.
   *
   * @return the content
   */
  public ByteString content() {
    return content;
  }

  /**
   * The elements of a float32 tensor.
   *
   * @return a new array in row-major order
   * @throws IllegalStateException if the tensor is not float32
   */
  public float[] toFloatArray() {
    require(DataType.DATA_TYPE_FLOAT32);
    float[] out = new float[(int) size()];
    view().asFloatBuffer().get(out);
    return out;
  }

  /**
   * The elements of a float64 or float32 tensor, as doubles.
   *
   * @return a new array in row-major order
   * @throws IllegalStateException if the tensor is neither float64 nor float32
   */
  public double[] toDoubleArray() {
    if (dtype == DataType.DATA_TYPE_FLOAT32) {
      float[] floats = toFloatArray();
      double[] out = new double[floats.length];
      for (int i = 0; i < floats.length; i++) {
        out[i] = floats[i];
      }
      return out;
    }
    require(DataType.DATA_TYPE_FLOAT64);
    double[] out = new double[(int) size()];
    view().asDoubleBuffer().get(out);
    return out;
  }

  /**
   * The elements of an integer tensor of at most 32 bits (int8/16/32, uint8/16), widened to int.
   *
   * @return a new array in row-major order
   * @throws IllegalStateException for any other element type
   */
  public int[] toIntArray() {
    int n = (int) size();
    int[] out = new int[n];
    ByteBuffer buffer = view();
    switch (dtype) {
      case DATA_TYPE_INT8:
        for (int i = 0; i < n; i++) out[i] = buffer.get(i);
        return out;
      case DATA_TYPE_UINT8:
        for (int i = 0; i < n; i++) out[i] = Byte.toUnsignedInt(buffer.get(i));
        return out;
      case DATA_TYPE_INT16:
        for (int i = 0; i < n; i++) out[i] = buffer.getShort(2 * i);
        return out;
      case DATA_TYPE_UINT16:
        for (int i = 0; i < n; i++) out[i] = Short.toUnsignedInt(buffer.getShort(2 * i));
        return out;
      case DATA_TYPE_INT32:
        buffer.asIntBuffer().get(out);
        return out;
      default:
        throw new IllegalStateException("toIntArray needs an integer tensor of at most 32 bits, got " + dtype);
    }
  }

  /**
   * The elements of any integer tensor, widened to long (uint64 keeps its bit pattern).
   *
   * @return a new array in row-major order
   * @throws IllegalStateException for a non-integer element type
   */
  public long[] toLongArray() {
    int n = (int) size();
    long[] out = new long[n];
    switch (dtype) {
      case DATA_TYPE_INT64:
      case DATA_TYPE_UINT64:
        view().asLongBuffer().get(out);
        return out;
      case DATA_TYPE_UINT32:
        ByteBuffer buffer = view();
        for (int i = 0; i < n; i++) out[i] = Integer.toUnsignedLong(buffer.getInt(4 * i));
        return out;
      default:
        int[] ints = toIntArray();
        for (int i = 0; i < n; i++) out[i] = ints[i];
        return out;
    }
  }

  /**
   * The elements of a bool tensor.
   *
   * @return a new array in row-major order
   * @throws IllegalStateException if the tensor is not bool
   */
  public boolean[] toBooleanArray() {
    require(DataType.DATA_TYPE_BOOL);
    boolean[] out = new boolean[(int) size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = content.byteAt(i) != 0;
    }
    return out;
  }

  /**
   * The size in bytes of one element of a type.
   *
   * @param dtype the element type
   * @return bytes per element
   * @throws IllegalArgumentException for {@code DATA_TYPE_UNSPECIFIED} or an unknown value
   */
  public static int elementSize(DataType dtype) {
    switch (dtype) {
      case DATA_TYPE_BOOL:
      case DATA_TYPE_INT8:
      case DATA_TYPE_UINT8:
        return 1;
      case DATA_TYPE_INT16:
      case DATA_TYPE_UINT16:
      case DATA_TYPE_FLOAT16:
      case DATA_TYPE_BFLOAT16:
        return 2;
      case DATA_TYPE_INT32:
      case DATA_TYPE_UINT32:
      case DATA_TYPE_FLOAT32:
        return 4;
      case DATA_TYPE_INT64:
      case DATA_TYPE_UINT64:
      case DATA_TYPE_FLOAT64:
        return 8;
      default:
        throw new IllegalArgumentException("no element size for " + dtype);
    }
  }

  @Override
  public boolean equals(Object other) {
    if (!(other instanceof Tensor)) {
      return false;
    }
    Tensor that = (Tensor) other;
    return dtype == that.dtype && Arrays.equals(shape, that.shape) && content.equals(that.content);
  }

  @Override
  public int hashCode() {
    return Objects.hash(dtype, Arrays.hashCode(shape), content);
  }

  @Override
  public String toString() {
    return "Tensor(" + dtype + ", " + Arrays.toString(shape) + ")";
  }

  private void require(DataType expected) {
    if (dtype != expected) {
      throw new IllegalStateException("tensor is " + dtype + ", not " + expected);
    }
  }

  private ByteBuffer view() {
    return content.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
  }

  private static ByteBuffer allocate(int count, int elementSize) {
    return ByteBuffer.allocate(Math.multiplyExact(count, elementSize)).order(ByteOrder.LITTLE_ENDIAN);
  }

  private static long[] shapeFor(int length, long[] shape) {
    if (shape == null || shape.length == 0) {
      return new long[] {length};
    }
    long[] dims = checkShape(shape);
    if (elementCount(dims) != length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(dims) + " needs " + elementCount(dims) + " elements, got " + length);
    }
    return dims;
  }

  private static long[] checkShape(long[] shape) {
    long[] dims = Objects.requireNonNull(shape, "shape").clone();
    for (long dim : dims) {
      if (dim < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(dims));
      }
    }
    return dims;
  }

  private static long elementCount(long[] shape) {
    long count = 1;
    for (long dim : shape) {
      count = Math.multiplyExact(count, dim);
    }
    return count;
  }
}
