package dev.kiln.client;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Client construction; needs no server. */
class BuilderTest {
  private static final byte[] NOT_PEM = "not a certificate".getBytes(StandardCharsets.UTF_8);

  @Test
  void unusableTrustCertificatesAreAnIllegalArgument() {
    KilnClient.Builder builder = KilnClient.newBuilder("localhost:50051").trustCertificates(NOT_PEM);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
    assertTrue(e.getMessage().startsWith("cannot use the TLS certificates"), e.getMessage());
  }

  @Test
  void unusableClientCertificateIsAnIllegalArgument() {
    KilnClient.Builder builder =
        KilnClient.newBuilder("localhost:50051").clientCertificate(NOT_PEM, NOT_PEM);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
    assertTrue(e.getMessage().startsWith("cannot use the TLS certificates"), e.getMessage());
  }
}
