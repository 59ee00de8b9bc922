package dev.kiln.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kiln.v1.Model;
import io.grpc.Status;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The shared SDK scenarios, run against the real server at {@code $KILN_ADDRESS} (see
 * scripts/sdk-scenarios). Skipped, with a message, when KILN_ADDRESS is unset.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScenariosTest {
  private static final String GAN = "digits-gan";
  private static final String NO_SERVER =
      "KILN_ADDRESS is not set: skipping the server scenarios (scripts/sdk-scenarios sets it)";

  private KilnClient client;
  private List<String> modelNames;
  private String vectors;

  @BeforeAll
  void connect() throws IOException {
    String address = System.getenv("KILN_ADDRESS");
    if (address == null || address.isEmpty()) {
      System.err.println("SKIP: " + NO_SERVER);
      return;
    }
    client = KilnClient.newBuilder(address).defaultDeadline(Duration.ofSeconds(60)).build();
    modelNames = client.listModels().stream().map(Model::getName).collect(Collectors.toList());
    vectors = Files.readString(vectorsDir().resolve("vectors.json"), StandardCharsets.UTF_8);
  }

  @BeforeEach
  void requireServer() {
    Assumptions.assumeTrue(client != null, NO_SERVER);
  }

  @AfterAll
  void close() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void listModelsHasBuiltins() {
    assertTrue(modelNames.contains("digits"), "models: " + modelNames);
    requireGan();
    assertTrue(modelNames.contains(GAN), "models: " + modelNames);
  }

  @Test
  void predictDigit() throws IOException {
    String digit = object("digit");
    float[] pixels = digitPixels(digit);

    Map<String, Tensor> outputs =
        client.predict("digits", Map.of("image", Tensor.ofFloats(pixels, 1, 28, 28, 1)));

    assertEquals(number(digit, "label"), outputs.get("label").toLongArray()[0]);
    assertArrayShape(new long[] {1, 10}, outputs.get("probabilities"));
  }

  @Test
  void streamPredictKeepsOrderAndPerRequestErrors() throws IOException {
    String digit = object("digit");
    Tensor image = Tensor.ofFloats(digitPixels(digit), 1, 28, 28, 1);
    Tensor bad = Tensor.ofFloats(new float[27 * 28], 1, 27, 28, 1);
    List<Map<String, Tensor>> batches =
        List.of(Map.of("image", image), Map.of("image", bad), Map.of("image", image));

    List<StreamResult> results = new ArrayList<>();
    try (PredictStream stream = client.streamPredict("digits", batches)) {
      stream.forEachRemaining(results::add);
    }

    assertEquals(3, results.size());
    for (int i = 0; i < 3; i++) {
      assertEquals(String.valueOf(i), results.get(i).requestId());
    }
    for (int i : new int[] {0, 2}) {
      StreamResult ok = results.get(i);
      assertTrue(ok.error().isEmpty(), "result " + i + ": " + ok);
      assertEquals(number(digit, "label"), ok.outputs().get("label").toLongArray()[0]);
    }
    StreamResult failed = results.get(1);
    assertTrue(failed.outputs().isEmpty());
    KilnException e = failed.error().orElseThrow();
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("INPUT_SHAPE_MISMATCH", e.reason());
    assertEquals("inputs[image].shape", e.field());
  }

  @Test
  void generateIsDeterministic() throws IOException, NoSuchAlgorithmException {
    requireGan();
    String spec = object("generate");
    long count = number(spec, "count");
    long chunkSize = number(spec, "chunk_size");
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    long samples = 0;
    int chunks = 0;
    try (GenerateStream stream =
        client.generate(string(spec, "model"), count, number(spec, "seed"), chunkSize)) {
      while (stream.hasNext()) {
        GenerateChunk chunk = stream.next();
        assertEquals(chunks, chunk.index());
        Tensor tensor = chunk.samples().orElseThrow();
        samples += tensor.shape()[0];
        sha.update(tensor.content().asReadOnlyByteBuffer());
        chunks++;
      }
    }
    assertEquals(count, samples);
    assertEquals((count + chunkSize - 1) / chunkSize, chunks);
    String digest = hex(sha.digest());
    String out = System.getenv("KILN_SCENARIO_OUT");
    if (out != null && !out.isEmpty()) {
      Files.writeString(Paths.get(out, "java.sha256"), digest + "\n", StandardCharsets.UTF_8);
    }
    Matcher expected = Pattern.compile("\"sha256_of_samples\"\\s*:\\s*\"([0-9a-f]{64})\"").matcher(spec);
    if (expected.find()) {
      assertEquals(expected.group(1), digest);
    }
  }

  @Test
  void unknownModelIsNotFound() {
    KilnException e = assertThrows(KilnException.class, () -> client.getModel("no-such-model"));
    assertEquals(Status.Code.NOT_FOUND, e.code());
    assertEquals("MODEL_NOT_FOUND", e.reason());

    KilnException p =
        assertThrows(
            KilnException.class,
            () -> client.predict("no-such-model", Map.of("image", Tensor.ofFloats(new float[784], 1, 28, 28, 1))));
    assertEquals(Status.Code.NOT_FOUND, p.code());
    assertEquals("MODEL_NOT_FOUND", p.reason());
  }

  @Test
  void wrongShapeIsInvalidArgument() {
    Tensor bad = Tensor.ofFloats(new float[27 * 28], 1, 27, 28, 1);
    KilnException e =
        assertThrows(KilnException.class, () -> client.predict("digits", Map.of("image", bad)));
    assertEquals(Status.Code.INVALID_ARGUMENT, e.code());
    assertEquals("INPUT_SHAPE_MISMATCH", e.reason());
    assertEquals("inputs[image].shape", e.field());
  }

  @Test
  void cancelGenerateEarly() {
    requireGan();
    GenerateStream stream = client.generate(GAN, 4096, 7, 16);
    assertTrue(stream.hasNext());
    GenerateChunk first = stream.next();
    assertEquals(0, first.index());
    long start = System.nanoTime();
    stream.cancel();
    assertFalse(stream.hasNext());
    Duration took = Duration.ofNanos(System.nanoTime() - start);
    assertTrue(took.compareTo(Duration.ofSeconds(2)) < 0, "cancel took " + took);
    // The server is still responsive after the cancelled stream.
    long before = System.nanoTime();
    assertFalse(client.listModels().isEmpty());
    Duration after = Duration.ofNanos(System.nanoTime() - before);
    assertTrue(after.compareTo(Duration.ofSeconds(5)) < 0, "next call took " + after);
  }

  @Test
  void mutualTls() throws IOException {
    String address = System.getenv("KILN_TLS_ADDRESS");
    if (address == null || address.isEmpty()) {
      skip("KILN_TLS_ADDRESS is not set: skipping the mutual-TLS scenario"
          + " (scripts/sdk-scenarios sets it)");
    }
    Path ca = Paths.get(System.getenv("KILN_TLS_CA"));
    Path certificate = Paths.get(System.getenv("KILN_TLS_CLIENT_CERT"));
    Path key = Paths.get(System.getenv("KILN_TLS_CLIENT_KEY"));
    String digit = object("digit");
    Tensor image = Tensor.ofFloats(digitPixels(digit), 1, 28, 28, 1);

    try (KilnClient tls =
        KilnClient.newBuilder(address)
            .trustCertificates(ca)
            .clientCertificate(certificate, key)
            .defaultDeadline(Duration.ofSeconds(30))
            .build()) {
      Map<String, Tensor> outputs = tls.predict("digits", Map.of("image", image));
      assertEquals(number(digit, "label"), outputs.get("label").toLongArray()[0]);
    }

    // Without a client certificate the server refuses the connection. Under TLS 1.3 the client
    // finishes its side of the handshake before the server checks for a certificate, so the call
    // fails when the server then closes the connection ("Network closed for unknown reason").
    try (KilnClient anonymous =
        KilnClient.newBuilder(address)
            .trustCertificates(ca)
            .defaultDeadline(Duration.ofSeconds(10))
            .build()) {
      KilnException e = assertThrows(KilnException.class, anonymous::listModels);
      assertEquals(Status.Code.UNAVAILABLE, e.code(), e.getMessage());
    }
  }

  private void requireGan() {
    if (!modelNames.contains(GAN)) {
      skip(GAN + " is not served by this server (the GAN plugin is not installed yet): skipping this GAN scenario");
    }
  }

  private static void skip(String message) {
    System.err.println("SKIP: " + message);
    Assumptions.abort(message);
  }

  private static float[] digitPixels(String digit) throws IOException {
    byte[] raw = Files.readAllBytes(vectorsDir().resolve(string(digit, "file")));
    float[] pixels = new float[raw.length / 4];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(pixels);
    return pixels;
  }

  private static Path vectorsDir() {
    String dir = System.getenv("KILN_VECTORS");
    return Paths.get(dir == null || dir.isEmpty() ? "../../tests/vectors" : dir);
  }

  private static void assertArrayShape(long[] expected, Tensor tensor) {
    if (!java.util.Arrays.equals(expected, tensor.shape())) {
      fail("shape " + java.util.Arrays.toString(tensor.shape()));
    }
  }

  // vectors.json is flat enough for a few patterns; no JSON library needed.
  private String object(String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\\{([^}]*)\\}").matcher(vectors);
    assertTrue(m.find(), "vectors.json has no object " + key);
    return m.group(1);
  }

  private static String string(String object, String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*\"([^\"]*)\"").matcher(object);
    assertTrue(m.find(), "vectors.json has no string " + key);
    return m.group(1);
  }

  private static long number(String object, String key) {
    Matcher m = Pattern.compile("\"" + key + "\"\\s*:\\s*(-?\\d+)").matcher(object);
    assertTrue(m.find(), "vectors.json has no number " + key);
    return Long.parseLong(m.group(1));
  }

  private static String hex(byte[] bytes) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte b : bytes) {
      out.writeBytes(String.format("%02x", b).getBytes(StandardCharsets.US_ASCII));
    }
    return out.toString(StandardCharsets.US_ASCII);
  }
}
