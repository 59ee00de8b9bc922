//! [`KilnClient`] and its [`Builder`], and the streaming [`generate`](KilnClient::generate) types
//! (those of [`stream_predict`](KilnClient::stream_predict) are in `stream_predict.rs`).

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::service::Interceptor;
#[cfg(feature = "tls")]
use tonic::transport::{Certificate, ClientTlsConfig, Identity};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status, Streaming};

use crate::stream_predict::Requests;
use crate::v1::inference_service_client::InferenceServiceClient;
use crate::v1::model_service_client::ModelServiceClient;
use crate::v1::{
    GenerateRequest, GenerateResponse, GetModelRequest, ListModelsRequest, Model, PredictRequest,
    PredictResponse, SampleEncoding, Tensor,
};
use crate::{Error, PredictStream};

/// Largest message the client sends or accepts (the server has its own limit).
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Deadline of each call unless [`Builder::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
struct Auth(Option<MetadataValue<Ascii>>);

impl Interceptor for Auth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Auth(Bearer <redacted>)"
        } else {
            "Auth(None)"
        })
    }
}

type Transport = InterceptedService<Channel, Auth>;

/// An async client for a Kiln server.
///
/// Cheap to clone: clones share one HTTP/2 connection. Every method takes `&self`, so one
/// client can serve many tasks at once.
///
/// ```no_run
/// # async fn run() -> Result<(), kiln_client::Error> {
/// use kiln_client::{from_tensor, to_tensor, KilnClient};
/// use ndarray::{ArrayD, IxDyn};
///
/// let client = KilnClient::connect("localhost:50051").await?;
/// let image = ArrayD::<f32>::zeros(IxDyn(&[1, 28, 28, 1]));
/// let outputs = client.predict("digits", [("image", to_tensor(&image))]).await?;
/// let label = from_tensor::<i64>(&outputs["label"])?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct KilnClient {
    models: ModelServiceClient<Transport>,
    inference: InferenceServiceClient<Transport>,
    timeout: Option<Duration>,
}

impl KilnClient {
    /// Connects to a server with the default options (plaintext, 30 s deadline, no token).
    ///
    /// `endpoint` is `host:port` or a URI such as `http://localhost:50051`.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` for a malformed endpoint, `Unavailable` if the connection fails.
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self, Error> {
        Self::builder(endpoint).connect().await
    }

    /// Starts configuring a client for `endpoint` (`host:port` or a URI).
    pub fn builder(endpoint: impl Into<String>) -> Builder {
        Builder {
            endpoint: endpoint.into(),
            token: None,
            timeout: Some(DEFAULT_TIMEOUT),
            connect_timeout: None,
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(timeout) = self.timeout {
            request.set_timeout(timeout);
        }
        request
    }

    /// Every model on the server, ready or not, sorted by name.
    ///
    /// # Errors
    ///
    /// The server's status, decoded into [`Error`].
    pub async fn list_models(&self) -> Result<Vec<Model>, Error> {
        let request = self.request(ListModelsRequest {});
        let response = self.models.clone().list_models(request).await?;
        Ok(response.into_inner().models)
    }

    /// One model by name.
    ///
    /// # Errors
    ///
    /// `NotFound` with reason `MODEL_NOT_FOUND` when the server has no such model.
    pub async fn get_model(&self, name: &str) -> Result<Model, Error> {
        let request = self.request(GetModelRequest {
            name: name.to_owned(),
        });
        let response = self.models.clone().get_model(request).await?.into_inner();
        response
            .model
            .ok_or_else(|| Error::local(Code::Internal, "the server sent no model"))
    }

    /// Runs one batch through the newest ready version of `model` and returns every output.
    ///
    /// `inputs` holds one tensor per model input, batch axis first; build them from arrays
    /// with [`to_tensor`](crate::to_tensor) and read the outputs with
    /// [`from_tensor`](crate::from_tensor).
    ///
    /// # Errors
    ///
    /// The server's status, e.g. `InvalidArgument` with reason `INPUT_SHAPE_MISMATCH` and
    /// field `inputs[image].shape` for an input of the wrong shape.
    pub async fn predict<I, K>(
        &self,
        model: &str,
        inputs: I,
    ) -> Result<HashMap<String, Tensor>, Error>
    where
        I: IntoIterator<Item = (K, Tensor)>,
        K: Into<String>,
    {
        let request = PredictRequest {
            model: model.to_owned(),
            inputs: inputs
                .into_iter()
                .map(|(name, tensor)| (name.into(), tensor))
                .collect(),
            ..PredictRequest::default()
        };
        Ok(self.predict_request(request).await?.outputs)
    }

    /// Sends a full [`PredictRequest`] (version, output filter, ...) and returns the response.
    ///
    /// # Errors
    ///
    /// The server's status, decoded into [`Error`].
    pub async fn predict_request(&self, request: PredictRequest) -> Result<PredictResponse, Error> {
        let response = self
            .inference
            .clone()
            .predict(self.request(request))
            .await?;
        Ok(response.into_inner())
    }

    /// Runs many batches through the newest ready version of `model` over one stream and
    /// yields their results in the order the batches were sent.
    ///
    /// Each batch holds one tensor per model input, as for [`predict`](Self::predict). The
    /// batches are numbered `"0"`, `"1"`, ... ([`StreamResult::request_id`]) and sent as the
    /// server takes them while the results come back; the server works on several at once (up
    /// to 64 per stream) and answers them in any order, and the results wait here for those of
    /// earlier batches. A batch the server rejects gives a result whose `outputs` is the error
    /// a unary [`predict`](Self::predict) would give, and the stream goes on. The client's
    /// deadline covers the whole stream; dropping the returned [`PredictStream`] cancels it.
    ///
    /// `batches` is iterated as the requests are sent, inside the call, so it should not block.
    ///
    /// ```no_run
    /// # async fn run(images: Vec<ndarray::ArrayD<f32>>) -> Result<(), kiln_client::Error> {
    /// use kiln_client::{from_tensor, to_tensor, KilnClient};
    ///
    /// let client = KilnClient::connect("localhost:50051").await?;
    /// let batches: Vec<_> = images.iter().map(|image| [("image", to_tensor(image))]).collect();
    /// let mut results = client.stream_predict("digits", batches).await?;
    /// while let Some(result) = results.next_result().await? {
    ///     match result.outputs {
    ///         Ok(outputs) => {
    ///             let label = from_tensor::<i64>(&outputs["label"])?;
    ///             println!("batch {}: {label}", result.request_id);
    ///         }
    ///         Err(err) => println!("batch {} failed: {err}", result.request_id),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// [`StreamResult::request_id`]: crate::StreamResult::request_id
    ///
    /// # Errors
    ///
    /// The server's status if the call fails to start; a failure of the stream once it has
    /// started (a deadline, a lost connection, ...) comes from the stream.
    pub async fn stream_predict<B, I, K>(
        &self,
        model: &str,
        batches: B,
    ) -> Result<PredictStream, Error>
    where
        B: IntoIterator<Item = I>,
        B::IntoIter: Send + 'static,
        I: IntoIterator<Item = (K, Tensor)>,
        K: Into<String>,
    {
        let model = model.to_owned();
        let requests = batches.into_iter().map(move |inputs| PredictRequest {
            model: model.clone(),
            inputs: inputs
                .into_iter()
                .map(|(name, tensor)| (name.into(), tensor))
                .collect(),
            ..PredictRequest::default()
        });
        self.stream_predict_requests(requests).await
    }

    /// Sends full [`PredictRequest`]s (version, output filter, ...) over one stream and yields
    /// their results in the order sent (see [`stream_predict`](Self::stream_predict)).
    ///
    /// # Errors
    ///
    /// The server's status if the call fails to start; later failures come from the stream.
    pub async fn stream_predict_requests<R>(&self, requests: R) -> Result<PredictStream, Error>
    where
        R: IntoIterator<Item = PredictRequest>,
        R::IntoIter: Send + 'static,
    {
        let sent = Arc::new(AtomicUsize::new(0));
        let requests = Requests::new(requests.into_iter(), Arc::clone(&sent));
        let response = self
            .inference
            .clone()
            .stream_predict(self.request(requests))
            .await?;
        Ok(PredictStream::new(response.into_inner(), sent))
    }

    /// Streams `count` samples from a generative model, chunk by chunk.
    ///
    /// The same seed gives the same samples whatever the chunk size. Dropping the returned
    /// [`GenerateStream`] cancels the call, which stops the server's work. The client's
    /// deadline covers the whole stream.
    ///
    /// # Errors
    ///
    /// The server's status, e.g. `NotFound` for an unknown model; errors after the first
    /// chunk come from the stream.
    pub async fn generate(
        &self,
        model: &str,
        count: i64,
        options: GenerateOptions,
    ) -> Result<GenerateStream, Error> {
        let request = GenerateRequest {
            model: model.to_owned(),
            version: options.version,
            count,
            seed: options.seed,
            chunk_size: options.chunk_size,
            encodings: options.encodings.into_iter().map(|e| e as i32).collect(),
        };
        self.generate_request(request).await
    }

    /// Sends a full [`GenerateRequest`] and streams its chunks (see [`generate`](Self::generate)).
    ///
    /// # Errors
    ///
    /// The server's status, decoded into [`Error`].
    pub async fn generate_request(
        &self,
        request: GenerateRequest,
    ) -> Result<GenerateStream, Error> {
        let response = self
            .inference
            .clone()
            .generate(self.request(request))
            .await?;
        Ok(GenerateStream {
            inner: response.into_inner(),
        })
    }
}

/// Configures and connects a [`KilnClient`]:
/// `KilnClient::builder("kiln.internal:50051").bearer_token(token).connect().await?`.
///
/// Its `Debug` output shows whether a bearer token is set, never the token itself.
#[derive(Clone)]
pub struct Builder {
    endpoint: String,
    token: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    #[cfg(feature = "tls")]
    tls: Option<Tls>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Builder");
        out.field("endpoint", &self.endpoint)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout);
        #[cfg(feature = "tls")]
        out.field("tls", &self.tls);
        out.finish()
    }
}

/// The TLS settings of a [`Builder`], put together into one [`ClientTlsConfig`] when it connects,
/// so that the order of the builder's calls does not matter.
#[cfg(feature = "tls")]
#[derive(Clone, Default)]
struct Tls {
    /// From [`Builder::tls_config`]: what the other settings are added to.
    config: Option<ClientTlsConfig>,
    /// [`Builder::tls`] was called.
    native_roots: bool,
    ca_certificates: Vec<Certificate>,
    identity: Option<Identity>,
    domain_name: Option<String>,
}

#[cfg(feature = "tls")]
impl Tls {
    fn config(&self) -> ClientTlsConfig {
        let mut config = self.config.clone().unwrap_or_default();
        // With neither a CA nor a configuration of its own, the server is checked against the
        // platform's roots (as with `tls()` alone).
        if self.native_roots || (self.config.is_none() && self.ca_certificates.is_empty()) {
            config = config.with_native_roots();
        }
        config = config.ca_certificates(self.ca_certificates.iter().cloned());
        if let Some(identity) = &self.identity {
            config = config.identity(identity.clone());
        }
        if let Some(name) = &self.domain_name {
            config = config.domain_name(name.clone());
        }
        config
    }
}

// By hand, to keep the client's private key out of logs.
#[cfg(feature = "tls")]
impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field(
                "config",
                &self.config.as_ref().map(|_| "ClientTlsConfig { .. }"),
            )
            .field("native_roots", &self.native_roots)
            .field("ca_certificates", &self.ca_certificates.len())
            .field("identity", &self.identity.as_ref().map(|_| "<redacted>"))
            .field("domain_name", &self.domain_name)
            .finish()
    }
}

impl Builder {
    /// Sends `authorization: Bearer <token>` with every call.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The deadline of each call, counted from its start (for `generate` and `stream_predict`,
    /// the whole stream).
    /// Default: [`DEFAULT_TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Calls get no deadline.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// How long to wait for the connection to be made. Default: no limit.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Uses TLS, trusting the platform's root certificates. A `host:port` endpoint then
    /// means `https://host:port`.
    ///
    /// Only needed for the platform's roots alongside a [`ca_certificate`](Self::ca_certificate)
    /// or a [`tls_config`](Self::tls_config): the other TLS methods turn TLS on by themselves.
    #[cfg(feature = "tls")]
    pub fn tls(mut self) -> Self {
        self.tls_mut().native_roots = true;
        self
    }

    /// Uses TLS and verifies the server's certificate against the CA certificate(s) in `pem`
    /// (PEM text, such as the contents of a `ca.pem` file) instead of the platform's roots
    /// (as well as them after [`tls`](Self::tls)). Call it again to trust more CAs.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = kiln_client::KilnClient::builder("kiln.internal:50051")
    ///     .ca_certificate(std::fs::read("ca.pem")?)
    ///     .identity(std::fs::read("client.pem")?, std::fs::read("client.key")?)
    ///     .connect()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// PEM text with no certificate in it adds none; with no other roots, no server verifies.
    #[cfg(feature = "tls")]
    pub fn ca_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.tls_mut()
            .ca_certificates
            .push(Certificate::from_pem(pem));
        self
    }

    /// Uses TLS and presents a client certificate, for servers that require mutual TLS:
    /// `cert_pem` is the certificate (chain, leaf first) and `key_pem` its private key
    /// (PKCS #8, PKCS #1 or SEC1), both PEM text. Replaces an earlier identity.
    ///
    /// Without a [`ca_certificate`](Self::ca_certificate), the server's certificate is
    /// verified against the platform's roots.
    #[cfg(feature = "tls")]
    pub fn identity(mut self, cert_pem: impl AsRef<[u8]>, key_pem: impl AsRef<[u8]>) -> Self {
        self.tls_mut().identity = Some(Identity::from_pem(cert_pem, key_pem));
        self
    }

    /// Uses TLS and verifies the server's certificate against `name` (also sent as SNI)
    /// instead of the endpoint's host.
    ///
    /// Not needed for an endpoint at an IP address that the certificate lists (as an `IP:`
    /// subject alternative name): `127.0.0.1:50051` is checked against `IP:127.0.0.1` by
    /// default. Set it when the certificate only names a host, e.g. `"localhost"` for a server
    /// reached at `127.0.0.1` whose certificate has just `DNS:localhost`.
    #[cfg(feature = "tls")]
    pub fn tls_domain_name(mut self, name: impl Into<String>) -> Self {
        self.tls_mut().domain_name = Some(name.into());
        self
    }

    /// Uses TLS with the given configuration, for settings the other TLS methods do not cover
    /// (trust anchors, a handshake timeout, ...). [`tls`](Self::tls),
    /// [`ca_certificate`](Self::ca_certificate), [`identity`](Self::identity) and
    /// [`tls_domain_name`](Self::tls_domain_name) add to it, whichever comes first. Replaces an
    /// earlier configuration.
    #[cfg(feature = "tls")]
    pub fn tls_config(mut self, config: ClientTlsConfig) -> Self {
        self.tls_mut().config = Some(config);
        self
    }

    #[cfg(feature = "tls")]
    fn tls_mut(&mut self) -> &mut Tls {
        self.tls.get_or_insert_with(Tls::default)
    }

    fn uses_tls(&self) -> bool {
        #[cfg(feature = "tls")]
        {
            self.tls.is_some()
        }
        #[cfg(not(feature = "tls"))]
        {
            false
        }
    }

    fn endpoint(&self) -> Result<Endpoint, Error> {
        let uri = if self.endpoint.contains("://") {
            self.endpoint.clone()
        } else {
            let scheme = if self.uses_tls() { "https" } else { "http" };
            format!("{scheme}://{}", self.endpoint)
        };
        let mut endpoint = Endpoint::from_shared(uri).map_err(|e| {
            Error::local(
                Code::InvalidArgument,
                format!("bad endpoint {:?}: {e}", self.endpoint),
            )
            .with_source(e)
        })?;
        if let Some(timeout) = self.connect_timeout {
            endpoint = endpoint.connect_timeout(timeout);
        }
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            // Parses the PEM texts and loads the platform's roots: a failure is one of settings.
            endpoint = endpoint.tls_config(tls.config()).map_err(|e| {
                let detail = std::error::Error::source(&e).map_or(e.to_string(), |s| s.to_string());
                Error::local(Code::InvalidArgument, format!("bad TLS settings: {detail}"))
                    .with_source(e)
            })?;
        }
        Ok(endpoint)
    }

    fn finish(self, channel: Channel) -> Result<KilnClient, Error> {
        let header = match &self.token {
            None => None,
            Some(token) => Some(MetadataValue::try_from(format!("Bearer {token}")).map_err(
                |e| {
                    Error::local(
                        Code::InvalidArgument,
                        "the bearer token is not a valid header value",
                    )
                    .with_source(e)
                },
            )?),
        };
        let auth = Auth(header);
        Ok(KilnClient {
            models: ModelServiceClient::with_interceptor(channel.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            inference: InferenceServiceClient::with_interceptor(channel, auth)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
            timeout: self.timeout,
        })
    }

    /// Connects now.
    ///
    /// # Errors
    ///
    /// `InvalidArgument` for a malformed endpoint or token, or TLS settings that do not parse
    /// (or that want the platform's roots where it has none); `Unavailable` if the connection
    /// fails.
    pub async fn connect(self) -> Result<KilnClient, Error> {
        let channel = self.endpoint()?.connect().await?;
        self.finish(channel)
    }

    /// Returns a client that connects on its first call (and reconnects as needed).
    ///
    /// # Errors
    ///
    /// `InvalidArgument` for a malformed endpoint or token, or TLS settings that do not parse
    /// (or that want the platform's roots where it has none).
    pub fn connect_lazy(self) -> Result<KilnClient, Error> {
        let channel = self.endpoint()?.connect_lazy();
        self.finish(channel)
    }
}

/// Options of [`KilnClient::generate`]; `GenerateOptions::default()` asks for tensors with
/// seed 0 and the server's chunk size.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Seed of the model's random source; equal seeds give equal samples.
    pub seed: u64,
    /// Samples per chunk; 0 lets the server choose.
    pub chunk_size: i64,
    /// Version to use; empty selects the newest ready version.
    pub version: String,
    /// Forms to return ([`SampleEncoding::Tensor`], [`SampleEncoding::Png`]); empty means
    /// tensors only.
    pub encodings: Vec<SampleEncoding>,
}

/// One streamed chunk of generated samples.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateChunk {
    /// Position of the chunk in the stream, from 0.
    pub index: i64,
    /// The chunk's samples as one tensor, batch axis first (when tensors were asked for).
    pub samples: Option<Tensor>,
    /// The chunk's samples as PNG images, one per sample (when PNGs were asked for).
    pub png: Vec<Vec<u8>>,
    /// Samples produced so far, this chunk included.
    pub done: i64,
    /// Samples the request asked for.
    pub total: i64,
}

impl From<GenerateResponse> for GenerateChunk {
    fn from(response: GenerateResponse) -> Self {
        GenerateChunk {
            index: response.chunk_index,
            samples: response.samples,
            png: response.png,
            done: response.samples_done,
            total: response.samples_total,
        }
    }
}

/// The chunks of a [`KilnClient::generate`] call, as they arrive.
///
/// A [`Stream`] of `Result<GenerateChunk, Error>` (use any `StreamExt`), or call
/// [`next_chunk`](Self::next_chunk). Dropping it (or [`cancel`](Self::cancel)) cancels the
/// call, which stops the server's work.
#[derive(Debug)]
pub struct GenerateStream {
    inner: Streaming<GenerateResponse>,
}

impl GenerateStream {
    /// The next chunk, or `None` at the end of the stream.
    ///
    /// # Errors
    ///
    /// The status the call failed with.
    pub async fn next_chunk(&mut self) -> Result<Option<GenerateChunk>, Error> {
        Ok(self.inner.message().await?.map(GenerateChunk::from))
    }

    /// Cancels the call; the server stops generating. Same as dropping the stream.
    pub fn cancel(self) {
        drop(self);
    }
}

impl Stream for GenerateStream {
    type Item = Result<GenerateChunk, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner)
            .poll_next(cx)
            .map(|item| item.map(|result| result.map(GenerateChunk::from).map_err(Error::from)))
    }
}

#[cfg(all(test, feature = "tls"))]
mod tests {
    use super::*;

    #[test]
    fn tls_settings_turn_on_https() {
        let endpoint = KilnClient::builder("localhost:50051")
            .ca_certificate("")
            .endpoint()
            .unwrap();
        assert_eq!(endpoint.uri().scheme_str(), Some("https"));
    }

    #[test]
    fn a_key_that_does_not_parse_is_invalid_argument() {
        let err = KilnClient::builder("localhost:50051")
            .identity("", "not a key")
            .ca_certificate("")
            .connect_lazy()
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().starts_with("bad TLS settings: "), "{err}");
    }

    #[test]
    fn debug_leaves_out_the_private_key() {
        let builder = KilnClient::builder("localhost:50051").identity("cert", "key");
        let text = format!("{builder:?}");
        assert!(text.contains(r#"identity: Some("<redacted>")"#), "{text}");
        assert!(!text.contains("[107, 101, 121]"), "{text}");
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn builder_debug_hides_the_bearer_token() {
        let builder = KilnClient::builder("localhost:50051").bearer_token("s3cret-token");
        let shown = format!("{builder:?}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("s3cret-token"), "{shown}");
    }
}
