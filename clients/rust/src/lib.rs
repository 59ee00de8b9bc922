#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod client;
mod error;
mod stream_predict;
pub mod tensor;

pub use client::{
    Builder, GenerateChunk, GenerateOptions, GenerateStream, KilnClient, DEFAULT_TIMEOUT,
    MAX_MESSAGE_BYTES,
};
pub use error::{Error, FieldViolation};
pub use stream_predict::{PredictStream, StreamResult};
pub use tensor::{from_tensor, to_tensor, Element};
/// TLS configuration types for [`Builder::tls_config`].
#[cfg(feature = "tls")]
pub use tonic::transport::{Certificate, ClientTlsConfig, Identity};
/// The gRPC status codes [`Error::code`] returns.
pub use tonic::Code;

/// Generated protobuf messages and gRPC clients of the `kiln.v1` package
/// (protoc-gen-prost / protoc-gen-tonic; regenerate with `scripts/generate`).
#[allow(
    missing_docs,
    clippy::all,
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]
pub mod v1 {
    include!("gen/kiln/v1/kiln.v1.rs");
}
