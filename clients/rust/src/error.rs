//! The SDK's error type, decoded from the server's rich gRPC status (or, for one request of a
//! stream, from its in-stream `kiln.v1.Error`).

use std::collections::HashMap;
use std::fmt;

use tonic::Code;
use tonic_types::StatusExt;

/// One bad field of a request, from `google.rpc.BadRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `inputs[image].shape`.
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

/// A failed call to the Kiln server, or a request the client could not build.
///
/// Server failures carry the gRPC [`code`](Error::code), the machine-readable
/// [`reason`](Error::reason) from `google.rpc.ErrorInfo` (e.g. `MODEL_NOT_FOUND`), its
/// [`metadata`](Error::metadata), and for bad input the offending [`field`](Error::field)
/// from `google.rpc.BadRequest` (e.g. `inputs[image].shape`).
///
/// Failures on the client side have an empty reason: a bad endpoint or bad TLS settings are
/// `InvalidArgument`, a connection that fails (to open, or under a call, e.g. when the server
/// refuses the TLS handshake) is `Unavailable`, a tensor that does not convert to the
/// requested array type is `InvalidArgument`.
pub struct Error(Box<Inner>);

// Boxed so that `Result<T, Error>` stays small.
struct Inner {
    code: Code,
    message: String,
    reason: String,
    metadata: HashMap<String, String>,
    field_violations: Vec<FieldViolation>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Error {
    /// An error made on the client side (no server involved), with an empty reason.
    pub(crate) fn local(code: Code, message: impl Into<String>) -> Self {
        Error(Box::new(Inner {
            code,
            message: message.into(),
            reason: String::new(),
            metadata: HashMap::new(),
            field_violations: Vec::new(),
            source: None,
        }))
    }

    pub(crate) fn with_source(
        mut self,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        self.0.source = Some(Box::new(source));
        self
    }

    /// The gRPC status code, e.g. [`Code::NotFound`] or [`Code::InvalidArgument`].
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The server's message for people.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The machine-readable reason from `google.rpc.ErrorInfo`, e.g. `MODEL_NOT_FOUND`;
    /// empty when there is none (client-side or transport failures).
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Extra facts from `google.rpc.ErrorInfo.metadata` (such as the model name or a limit).
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.0.metadata
    }

    /// The offending request fields, for bad input.
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.0.field_violations
    }

    /// The first offending field, e.g. `inputs[image].shape`, or `""` when there is none.
    pub fn field(&self) -> &str {
        self.0
            .field_violations
            .first()
            .map_or("", |violation| violation.field.as_str())
    }
}

/// `message` followed by those of `source` and its own sources, `a: b: c`, leaving out any
/// already said.
fn with_sources(
    mut message: String,
    mut source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    while let Some(error) = source {
        let part = error.to_string();
        if !message.contains(&part) {
            message = format!("{message}: {part}");
        }
        source = error.source();
    }
    message
}

/// Whether tonic made `status` itself because the connection under the call failed (the server
/// sent no status): `Unknown` for a connection that broke, `Cancelled` for one that closed before
/// the request went out. Both mean the server could not be reached.
fn is_connection_failure(status: &tonic::Status) -> bool {
    if !matches!(status.code(), Code::Unknown | Code::Cancelled) {
        return false;
    }
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::transport::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

impl From<tonic::Status> for Error {
    fn from(status: tonic::Status) -> Self {
        if is_connection_failure(&status) {
            let message = with_sources(
                status.message().to_owned(),
                std::error::Error::source(&status),
            );
            return Error::local(Code::Unavailable, message).with_source(status);
        }
        let mut reason = String::new();
        let mut metadata = HashMap::new();
        let mut field_violations = Vec::new();
        // Details that fail to decode are ignored; code and message still stand.
        if let Some(info) = status.get_details_error_info() {
            reason = info.reason;
            metadata = info.metadata;
        }
        if let Some(bad) = status.get_details_bad_request() {
            field_violations = bad
                .field_violations
                .into_iter()
                .map(|v| FieldViolation {
                    field: v.field,
                    description: v.description,
                })
                .collect();
        }
        let message = status.message().to_owned();
        Error(Box::new(Inner {
            code: status.code(),
            message,
            reason,
            metadata,
            field_violations,
            source: Some(Box::new(status)),
        }))
    }
}

/// An in-stream error (one failed request of a `StreamPredict` stream), which carries what a
/// rich status carries: the same code, reason, metadata and field a unary call would give.
impl From<crate::v1::Error> for Error {
    fn from(error: crate::v1::Error) -> Self {
        let field_violations = if error.field.is_empty() {
            Vec::new()
        } else {
            vec![FieldViolation {
                field: error.field,
                description: error.message.clone(),
            }]
        };
        Error(Box::new(Inner {
            code: Code::from(error.code),
            message: error.message,
            reason: error.reason,
            metadata: error.metadata,
            field_violations,
            source: None,
        }))
    }
}

impl From<tonic::transport::Error> for Error {
    fn from(error: tonic::transport::Error) -> Self {
        let message = with_sources(error.to_string(), std::error::Error::source(&error));
        Error::local(Code::Unavailable, message).with_source(error)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("code", &self.0.code)
            .field("reason", &self.0.reason)
            .field("message", &self.0.message)
            .field("metadata", &self.0.metadata)
            .field("field_violations", &self.0.field_violations)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0.code)?;
        if !self.0.reason.is_empty() {
            write!(f, " ({})", self.0.reason)?;
        }
        if !self.0.message.is_empty() {
            write!(f, ": {}", self.0.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{BadRequest, ErrorDetail, ErrorInfo};

    #[test]
    fn decodes_error_info_and_bad_request() {
        let status = tonic::Status::with_error_details_vec(
            Code::InvalidArgument,
            "input 'image' has shape [1, 27, 28, 1]",
            vec![
                ErrorDetail::ErrorInfo(ErrorInfo::new(
                    "INPUT_SHAPE_MISMATCH",
                    "kiln.dev",
                    HashMap::from([("model".to_owned(), "digits".to_owned())]),
                )),
                ErrorDetail::BadRequest(BadRequest::with_violation(
                    "inputs[image].shape",
                    "expected [-1, 28, 28, 1]",
                )),
            ],
        );

        let error = Error::from(status);

        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.reason(), "INPUT_SHAPE_MISMATCH");
        assert_eq!(error.field(), "inputs[image].shape");
        assert_eq!(error.metadata()["model"], "digits");
        assert_eq!(
            error.field_violations()[0].description,
            "expected [-1, 28, 28, 1]"
        );
        assert!(error
            .to_string()
            .starts_with("InvalidArgument (INPUT_SHAPE_MISMATCH): input 'image'"));
    }

    #[test]
    fn decodes_an_in_stream_error_like_a_status() {
        let error = Error::from(crate::v1::Error {
            code: 3,
            message: "input 'image' has shape [1, 27, 28, 1]".to_owned(),
            reason: "INPUT_SHAPE_MISMATCH".to_owned(),
            metadata: HashMap::from([("model".to_owned(), "digits".to_owned())]),
            field: "inputs[image].shape".to_owned(),
        });

        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.reason(), "INPUT_SHAPE_MISMATCH");
        assert_eq!(error.field(), "inputs[image].shape");
        assert_eq!(error.metadata()["model"], "digits");
        assert_eq!(
            error.field_violations()[0].description,
            "input 'image' has shape [1, 27, 28, 1]"
        );
        assert!(error
            .to_string()
            .starts_with("InvalidArgument (INPUT_SHAPE_MISMATCH): input 'image'"));

        let unknown = Error::from(crate::v1::Error {
            code: 99,
            ..Default::default()
        });
        assert_eq!(unknown.code(), Code::Unknown);
        assert!(unknown.field_violations().is_empty());
    }

    #[test]
    fn a_failed_connection_under_a_call_is_unavailable() {
        // What tonic gives when the connection breaks under a call: its own `Unknown` status
        // around the transport error.
        let transport = tonic::transport::Endpoint::from_shared("no uri").unwrap_err();
        let status = tonic::Status::from_error(Box::new(transport));
        assert_eq!(status.code(), Code::Unknown);

        let error = Error::from(status);

        assert_eq!(error.code(), Code::Unavailable);
        assert_eq!(error.reason(), "");
        assert!(error.message().starts_with("invalid URI"), "{error}");
        // A server's own `Unknown` stays as it is.
        assert_eq!(
            Error::from(tonic::Status::unknown("model raised")).code(),
            Code::Unknown
        );
    }

    #[test]
    fn plain_status_has_no_reason() {
        let error = Error::from(tonic::Status::unavailable("connection refused"));
        assert_eq!(error.code(), Code::Unavailable);
        assert_eq!(error.reason(), "");
        assert_eq!(error.field(), "");
        assert_eq!(error.message(), "connection refused");
    }
}
