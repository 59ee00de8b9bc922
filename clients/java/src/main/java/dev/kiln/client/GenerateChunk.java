package dev.kiln.client;

import com.google.protobuf.ByteString;
import dev.kiln.v1.GenerateResponse;
import java.util.List;
import java.util.Optional;

/** One streamed chunk of generated samples. */
public final class GenerateChunk {
  private final long index;
  private final Tensor samples;
  private final List<ByteString> png;
  private final long done;
  private final long total;

  private GenerateChunk(long index, Tensor samples, List<ByteString> png, long done, long total) {
    this.index = index;
    this.samples = samples;
    this.png = png;
    this.done = done;
    this.total = total;
  }

  /**
   * Decodes a {@code kiln.v1.GenerateResponse}.
   *
   * @param response the message
   * @return the chunk
   */
  public static GenerateChunk fromProto(GenerateResponse response) {
    return new GenerateChunk(
        response.getChunkIndex(),
        response.hasSamples() ? Tensor.fromProto(response.getSamples()) : null,
        List.copyOf(response.getPngList()),
        response.getSamplesDone(),
        response.getSamplesTotal());
  }

  /**
   * Position of this chunk in the stream, from 0.
   *
   * @return the chunk index
   */
  public long index() {
    return index;
  }

  /**
   * The chunk's samples as one tensor, batch axis first.
   *
   * @return the samples; empty unless tensors were asked for
   */
  public Optional<Tensor> samples() {
    return Optional.ofNullable(samples);
  }

  /**
   * The chunk's samples as PNG images, one per sample.
   *
   * @return the images; empty unless PNGs were asked for
   */
  public List<ByteString> png() {
    return png;
  }

  /**
   * Samples produced so far, this chunk included.
   *
   * @return the running count
   */
  public long done() {
    return done;
  }

  /**
   * Samples the request asked for.
   *
   * @return the total
   */
  public long total() {
    return total;
  }

  @Override
  public String toString() {
    return "GenerateChunk(index=" + index + ", done=" + done + "/" + total + ")";
  }
}
