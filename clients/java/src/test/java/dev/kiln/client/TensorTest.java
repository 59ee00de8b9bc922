package dev.kiln.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.ByteString;
import dev.kiln.v1.DataType;
import org.junit.jupiter.api.Test;

/** Tensor encoding and decoding; needs no server. */
class TensorTest {
  @Test
  void floatsAreLittleEndianRowMajor() {
    Tensor t = Tensor.ofFloats(new float[] {1.0f, -2.5f, 0f, 3.25f, 1e-3f, 7f}, 2, 3);
    assertEquals(DataType.DATA_TYPE_FLOAT32, t.dtype());
    assertArrayEquals(new long[] {2, 3}, t.shape());
    assertEquals(24, t.content().size());
    // 1.0f = 0x3f800000, little-endian first.
    assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, t.content().substring(0, 4).toByteArray());
    assertArrayEquals(new float[] {1.0f, -2.5f, 0f, 3.25f, 1e-3f, 7f}, t.toFloatArray());
  }

  @Test
  void protoRoundTrip() {
    Tensor t = Tensor.ofLongs(new long[] {Long.MIN_VALUE, -1, 0, 8, Long.MAX_VALUE, 42}, 3, 2);
    dev.kiln.v1.Tensor proto = t.toProto();
    assertEquals(DataType.DATA_TYPE_INT64, proto.getDtype());
    assertEquals(java.util.List.of(3L, 2L), proto.getShapeList());
    Tensor back = Tensor.fromProto(proto);
    assertEquals(t, back);
    assertArrayEquals(new long[] {Long.MIN_VALUE, -1, 0, 8, Long.MAX_VALUE, 42}, back.toLongArray());
  }

  @Test
  void otherTypesRoundTrip() {
    assertArrayEquals(new double[] {0.1, -1e300}, Tensor.ofDoubles(new double[] {0.1, -1e300}).toDoubleArray());
    assertArrayEquals(new int[] {-7, 1 << 30}, Tensor.ofInts(new int[] {-7, 1 << 30}).toIntArray());
    assertArrayEquals(new int[] {-128, 127}, Tensor.ofBytes(new byte[] {-128, 127}).toIntArray());
    assertArrayEquals(
        new boolean[] {true, false, true}, Tensor.ofBooleans(new boolean[] {true, false, true}).toBooleanArray());
    assertArrayEquals(new long[] {5, -6}, Tensor.ofInts(new int[] {5, -6}).toLongArray());
  }

  @Test
  void unsignedTypesWiden() {
    Tensor u8 = Tensor.of(DataType.DATA_TYPE_UINT8, new long[] {2}, ByteString.copyFrom(new byte[] {(byte) 255, 1}));
    assertArrayEquals(new int[] {255, 1}, u8.toIntArray());
    Tensor u32 =
        Tensor.of(DataType.DATA_TYPE_UINT32, new long[] {1}, ByteString.copyFrom(new byte[] {-1, -1, -1, -1}));
    assertArrayEquals(new long[] {4294967295L}, u32.toLongArray());
  }

  @Test
  void scalarHasNoDimensions() {
    Tensor scalar = Tensor.of(DataType.DATA_TYPE_FLOAT32, new long[0], Tensor.ofFloats(new float[] {2f}).content());
    assertEquals(1, scalar.size());
    assertArrayEquals(new float[] {2f}, scalar.toFloatArray());
  }

  @Test
  void rejectsMismatches() {
    assertThrows(IllegalArgumentException.class, () -> Tensor.ofFloats(new float[5], 2, 3));
    assertThrows(
        IllegalArgumentException.class,
        () -> Tensor.of(DataType.DATA_TYPE_FLOAT32, new long[] {2}, ByteString.copyFrom(new byte[7])));
    assertThrows(
        IllegalArgumentException.class,
        () -> Tensor.of(DataType.DATA_TYPE_UNSPECIFIED, new long[] {1}, ByteString.copyFrom(new byte[1])));
    assertThrows(IllegalStateException.class, () -> Tensor.ofInts(new int[] {1}).toFloatArray());
    assertThrows(IllegalStateException.class, () -> Tensor.ofFloats(new float[] {1}).toLongArray());
  }
}
