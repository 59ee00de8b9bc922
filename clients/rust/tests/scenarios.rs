//! The shared SDK scenarios, run against the real server at `$KILN_ADDRESS` (see
//! scripts/sdk-scenarios). Each scenario prints `SKIP: ...` and passes when KILN_ADDRESS is
//! unset, and the GAN scenarios do the same when the server has no `digits-gan`. The mutual-TLS
//! scenario (built with the `tls` feature) uses the server at `$KILN_TLS_ADDRESS` instead and
//! skips when that is unset.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kiln_client::{from_tensor, to_tensor, Code, GenerateOptions, KilnClient};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;
use sha2::{Digest, Sha256};

const GAN: &str = "digits-gan";

/// A client for the scenario server, or `None` (after saying so) when there is none.
async fn client() -> Option<KilnClient> {
    match std::env::var("KILN_ADDRESS") {
        Ok(address) if !address.is_empty() => Some(
            KilnClient::builder(address)
                .timeout(Duration::from_secs(60))
                .connect()
                .await
                .expect("connect to KILN_ADDRESS"),
        ),
        _ => {
            eprintln!("SKIP: KILN_ADDRESS is not set: skipping the server scenarios (scripts/sdk-scenarios sets it)");
            None
        }
    }
}

/// Whether the server has the GAN model (saying so when not).
async fn has_gan(client: &KilnClient, scenario: &str) -> bool {
    let names: Vec<String> = client
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    let present = names.iter().any(|name| name == GAN);
    if !present {
        eprintln!("SKIP: {GAN} is not served by this server (the GAN plugin is not installed yet): skipping {scenario}");
    }
    present
}

fn vectors_dir() -> PathBuf {
    std::env::var_os("KILN_VECTORS")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vectors"))
}

fn vectors() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("vectors.json")).expect("vectors.json");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

fn digits_input(shape: &[usize]) -> ArrayD<f32> {
    ArrayD::zeros(IxDyn(shape))
}

#[tokio::test]
async fn list_models_has_builtins() {
    let Some(client) = client().await else { return };
    let names: Vec<String> = client
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert!(names.iter().any(|n| n == "digits"), "models: {names:?}");
    if has_gan(&client, "the digits-gan listing check").await {
        assert!(names.iter().any(|n| n == GAN), "models: {names:?}");
    }
}

/// The test digit image and its expected label.
fn digit() -> (ArrayD<f32>, i64) {
    let digit = &vectors()["digit"];
    let raw = std::fs::read(vectors_dir().join(digit["file"].as_str().unwrap())).unwrap();
    let shape: Vec<usize> = digit["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let pixels: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let image = ArrayD::from_shape_vec(IxDyn(&shape), pixels).unwrap();
    (image, digit["label"].as_i64().unwrap())
}

#[tokio::test]
async fn predict_digit() {
    let Some(client) = client().await else { return };
    let (image, expected) = digit();

    let outputs = client
        .predict("digits", [("image", to_tensor(&image))])
        .await
        .unwrap();

    let label = from_tensor::<i64>(&outputs["label"]).unwrap();
    assert_eq!(label.shape(), &[1]);
    assert_eq!(label[[0]], expected);
    let probabilities = from_tensor::<f32>(&outputs["probabilities"]).unwrap();
    assert_eq!(probabilities.shape(), &[1, 10]);
}

#[tokio::test]
async fn stream_predict_in_order_survives_a_bad_batch() {
    let Some(client) = client().await else { return };
    let (image, expected) = digit();
    let batches = [
        [("image", to_tensor(&image))],
        [("image", to_tensor(&digits_input(&[1, 27, 28, 1])))],
        [("image", to_tensor(&image))],
    ];

    let mut stream = client.stream_predict("digits", batches).await.unwrap();
    let mut results = Vec::new();
    while let Some(result) = stream.next_result().await.unwrap() {
        results.push(result);
    }

    let ids: Vec<&str> = results.iter().map(|r| r.request_id.as_str()).collect();
    assert_eq!(ids, ["0", "1", "2"]);
    for result in [&results[0], &results[2]] {
        let outputs = result.outputs.as_ref().unwrap();
        let label = from_tensor::<i64>(&outputs["label"]).unwrap();
        assert_eq!(label.shape(), &[1]);
        assert_eq!(label[[0]], expected);
    }
    let err = results[1].outputs.as_ref().unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert_eq!(err.reason(), "INPUT_SHAPE_MISMATCH");
    assert_eq!(err.field(), "inputs[image].shape");
}

#[tokio::test]
async fn generate_is_deterministic() {
    let Some(client) = client().await else { return };
    if !has_gan(&client, "the generate digest scenario").await {
        return;
    }
    let spec = &vectors()["generate"];
    let count = spec["count"].as_i64().unwrap();
    let chunk_size = spec["chunk_size"].as_i64().unwrap();
    let options = GenerateOptions {
        seed: spec["seed"].as_u64().unwrap(),
        chunk_size,
        ..Default::default()
    };
    let mut stream = client
        .generate(spec["model"].as_str().unwrap(), count, options)
        .await
        .unwrap();
    let mut sha = Sha256::new();
    let (mut chunks, mut samples) = (0i64, 0i64);
    while let Some(chunk) = stream.next_chunk().await.unwrap() {
        assert_eq!(chunk.index, chunks);
        let tensor = chunk.samples.expect("tensor samples");
        samples += tensor.shape[0];
        sha.update(&tensor.content);
        chunks += 1;
    }
    assert_eq!(samples, count);
    assert_eq!(chunks, (count + chunk_size - 1) / chunk_size);
    let digest: String = sha.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(out) = std::env::var_os("KILN_SCENARIO_OUT").filter(|d| !d.is_empty()) {
        std::fs::write(
            PathBuf::from(out).join("rust.sha256"),
            format!("{digest}\n"),
        )
        .unwrap();
    }
    if let Some(expected) = spec["sha256_of_samples"].as_str() {
        assert_eq!(digest, expected);
    }
}

#[tokio::test]
async fn unknown_model_is_not_found() {
    let Some(client) = client().await else { return };
    let err = client.get_model("no-such-model").await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
    assert_eq!(err.reason(), "MODEL_NOT_FOUND");

    let image = to_tensor(&digits_input(&[1, 28, 28, 1]));
    let err = client
        .predict("no-such-model", [("image", image)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err}");
    assert_eq!(err.reason(), "MODEL_NOT_FOUND");
}

#[tokio::test]
async fn wrong_shape_is_invalid_argument() {
    let Some(client) = client().await else { return };
    let image = to_tensor(&digits_input(&[1, 27, 28, 1]));
    let err = client
        .predict("digits", [("image", image)])
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err}");
    assert_eq!(err.reason(), "INPUT_SHAPE_MISMATCH");
    assert_eq!(err.field(), "inputs[image].shape");
}

#[tokio::test]
async fn cancel_generate_early() {
    let Some(client) = client().await else { return };
    if !has_gan(&client, "the generate cancellation scenario").await {
        return;
    }
    let options = GenerateOptions {
        seed: 7,
        chunk_size: 16,
        ..Default::default()
    };
    let mut stream = client.generate(GAN, 4096, options).await.unwrap();
    let first = stream.next_chunk().await.unwrap().expect("a first chunk");
    assert_eq!(first.index, 0);
    let start = Instant::now();
    stream.cancel();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "cancel took {:?}",
        start.elapsed()
    );
    // The server is still responsive after the cancelled stream.
    let start = Instant::now();
    assert!(!client.list_models().await.unwrap().is_empty());
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "next call took {:?}",
        start.elapsed()
    );
}

/// Reads the file an environment variable names.
#[cfg(feature = "tls")]
fn read_env_file(var: &str) -> Vec<u8> {
    let path = std::env::var_os(var).unwrap_or_else(|| panic!("{var} is not set"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{var}={}: {e}", path.to_string_lossy()))
}

#[cfg(feature = "tls")]
#[tokio::test]
async fn mutual_tls() {
    let address = match std::env::var("KILN_TLS_ADDRESS") {
        Ok(address) if !address.is_empty() => address,
        _ => {
            eprintln!("SKIP: KILN_TLS_ADDRESS is not set: skipping the mutual TLS scenario (scripts/sdk-scenarios sets it)");
            return;
        }
    };
    let ca = read_env_file("KILN_TLS_CA");
    let cert = read_env_file("KILN_TLS_CLIENT_CERT");
    let key = read_env_file("KILN_TLS_CLIENT_KEY");
    let (image, expected) = digit();

    // The server's certificate lists IP:127.0.0.1, so the address is verified as it is.
    let client = KilnClient::builder(&address)
        .ca_certificate(&ca)
        .identity(&cert, &key)
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .expect("connect with the client certificate");
    let outputs = client
        .predict("digits", [("image", to_tensor(&image))])
        .await
        .unwrap();
    let label = from_tensor::<i64>(&outputs["label"]).unwrap();
    assert_eq!(label.shape(), &[1]);
    assert_eq!(label[[0]], expected);

    // It also lists DNS:localhost, which can be verified instead of the address; a name it does
    // not list fails the handshake.
    let client = KilnClient::builder(&address)
        .tls_domain_name("localhost")
        .ca_certificate(&ca)
        .identity(&cert, &key)
        .connect()
        .await
        .expect("connect verifying localhost");
    assert!(!client.list_models().await.unwrap().is_empty());
    let err = KilnClient::builder(&address)
        .tls_domain_name("kiln.invalid")
        .ca_certificate(&ca)
        .identity(&cert, &key)
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");

    // Without a client certificate the server refuses the connection. Under TLS 1.3 the client
    // finishes its side of the handshake before the server checks for a certificate, so an eager
    // `connect()` may succeed and the refusal only reaches the first call; a lazy client makes
    // that the same every time. tonic reports the broken connection as `Unknown` or `Cancelled`
    // depending on timing; the SDK gives `Unavailable`, as for any connection that fails.
    let client = KilnClient::builder(&address)
        .ca_certificate(&ca)
        .timeout(Duration::from_secs(10))
        .connect_lazy()
        .unwrap();
    let err = client.list_models().await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err}");
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn mutual_tls() {
    eprintln!("SKIP: built without the tls feature: skipping the mutual TLS scenario (cargo test --features tls runs it)");
}
