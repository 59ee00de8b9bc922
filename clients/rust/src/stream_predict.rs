//! The [`stream_predict`](crate::KilnClient::stream_predict) types: [`PredictStream`] and its
//! [`StreamResult`]s, handed out in the order their requests were sent.

use std::collections::HashMap;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use futures_core::Stream;
use tonic::{Code, Streaming};

use crate::v1::stream_predict_response::Result as Answer;
use crate::v1::{PredictRequest, StreamPredictRequest, StreamPredictResponse, Tensor};
use crate::Error;

/// The answer to one request of a [`KilnClient::stream_predict`](crate::KilnClient::stream_predict)
/// call.
#[derive(Debug)]
pub struct StreamResult {
    /// The id the request was sent with: its position among the batches, `"0"`, `"1"`, ...
    pub request_id: String,
    /// The outputs by name, as [`KilnClient::predict`](crate::KilnClient::predict) returns
    /// them, or why this one request failed (the same [`Error`] a unary call gives, e.g.
    /// `InvalidArgument` with reason `INPUT_SHAPE_MISMATCH` and field `inputs[image].shape`).
    pub outputs: Result<HashMap<String, Tensor>, Error>,
}

impl From<StreamPredictResponse> for StreamResult {
    fn from(response: StreamPredictResponse) -> Self {
        let outputs = match response.result {
            Some(Answer::Response(response)) => Ok(response.outputs),
            Some(Answer::Error(error)) => Err(Error::from(error)),
            None => Err(Error::local(
                Code::Internal,
                "the server sent neither outputs nor an error",
            )),
        };
        StreamResult {
            request_id: response.request_id,
            outputs,
        }
    }
}

/// The requests of one call, numbered `"0"`, `"1"`, ... and counted as they are sent.
pub(crate) struct Requests {
    requests: Box<dyn Iterator<Item = PredictRequest> + Send>,
    sent: Arc<AtomicUsize>,
}

impl Requests {
    pub(crate) fn new(
        requests: impl Iterator<Item = PredictRequest> + Send + 'static,
        sent: Arc<AtomicUsize>,
    ) -> Self {
        Requests {
            requests: Box::new(requests),
            sent,
        }
    }
}

impl Stream for Requests {
    type Item = StreamPredictRequest;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let request = self.requests.next();
        Poll::Ready(request.map(|request| StreamPredictRequest {
            request_id: self.sent.fetch_add(1, Ordering::AcqRel).to_string(),
            request: Some(request),
        }))
    }
}

/// Puts answers, which come in any order, back into the order their requests were sent.
#[derive(Debug, Default)]
struct InOrder {
    /// Position of the next request to hand out.
    next: usize,
    /// Answers that came before those of earlier requests, by request id.
    waiting: HashMap<String, StreamResult>,
}

impl InOrder {
    /// Takes one answer, in whatever order it came.
    fn push(&mut self, response: StreamPredictResponse) {
        let result = StreamResult::from(response);
        self.waiting.insert(result.request_id.clone(), result);
    }

    /// The answer to the next request in send order, once it has come.
    fn pop(&mut self) -> Option<StreamResult> {
        let result = self.waiting.remove(&self.next.to_string())?;
        self.next += 1;
        Some(result)
    }

    /// Checks, once the server has ended the stream, that each of the `sent` requests was
    /// answered.
    fn finish(&self, sent: usize) -> Result<(), Error> {
        if self.next < sent {
            return Err(Error::local(
                Code::Internal,
                format!(
                    "the server ended the stream without answering request {}",
                    self.next
                ),
            ));
        }
        Ok(())
    }
}

/// The results of a [`KilnClient::stream_predict`](crate::KilnClient::stream_predict) call:
/// one per batch, in the order the batches were sent.
///
/// A [`Stream`] of `Result<StreamResult, Error>` (use any `StreamExt`), or call
/// [`next_result`](Self::next_result). A batch the server rejects gives a [`StreamResult`]
/// whose `outputs` is the error, and the stream goes on; an `Err` item is a failure of the
/// whole stream (a deadline, a lost connection, ...), after which it ends. Dropping it (or
/// [`cancel`](Self::cancel)) cancels the call.
pub struct PredictStream {
    inner: Streaming<StreamPredictResponse>,
    order: InOrder,
    sent: Arc<AtomicUsize>,
    done: bool,
}

impl PredictStream {
    pub(crate) fn new(inner: Streaming<StreamPredictResponse>, sent: Arc<AtomicUsize>) -> Self {
        PredictStream {
            inner,
            order: InOrder::default(),
            sent,
            done: false,
        }
    }

    /// The result of the next batch in send order, or `None` once every batch has its result.
    ///
    /// # Errors
    ///
    /// The status the call failed with.
    pub async fn next_result(&mut self) -> Result<Option<StreamResult>, Error> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx))
            .await
            .transpose()
    }

    /// Cancels the call; the server drops the batches it has not answered. Same as dropping
    /// the stream.
    pub fn cancel(self) {
        drop(self);
    }
}

impl Stream for PredictStream {
    type Item = Result<StreamResult, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(result) = self.order.pop() {
                return Poll::Ready(Some(Ok(result)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut self.inner).poll_next(cx)) {
                Some(Ok(response)) => self.order.push(response),
                Some(Err(status)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(Error::from(status))));
                }
                None => {
                    self.done = true;
                    let sent = self.sent.load(Ordering::Acquire);
                    if let Err(error) = self.order.finish(sent) {
                        return Poll::Ready(Some(Err(error)));
                    }
                }
            }
        }
    }
}

impl fmt::Debug for PredictStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PredictStream")
            .field("sent", &self.sent.load(Ordering::Acquire))
            .field("handed_out", &self.order.next)
            .field("waiting", &self.order.waiting.len())
            .field("done", &self.done)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::PredictResponse;

    fn answer(id: &str) -> StreamPredictResponse {
        StreamPredictResponse {
            request_id: id.to_owned(),
            result: Some(Answer::Response(PredictResponse {
                outputs: HashMap::from([(format!("out{id}"), Tensor::default())]),
                ..PredictResponse::default()
            })),
        }
    }

    fn failure(id: &str) -> StreamPredictResponse {
        StreamPredictResponse {
            request_id: id.to_owned(),
            result: Some(Answer::Error(crate::v1::Error {
                code: Code::InvalidArgument as i32,
                message: "input 'image' has shape [1, 27, 28, 1]".to_owned(),
                reason: "INPUT_SHAPE_MISMATCH".to_owned(),
                metadata: HashMap::from([("model".to_owned(), "digits".to_owned())]),
                field: "inputs[image].shape".to_owned(),
            })),
        }
    }

    /// Feeds `responses` in the order given and collects what is handed out after each.
    fn reassemble(responses: Vec<StreamPredictResponse>) -> (Vec<String>, InOrder) {
        let mut order = InOrder::default();
        let mut ids = Vec::new();
        for response in responses {
            order.push(response);
            while let Some(result) = order.pop() {
                ids.push(result.request_id);
            }
        }
        (ids, order)
    }

    #[test]
    fn hands_out_results_in_send_order() {
        let responses = ["2", "0", "3", "1", "5", "4"].map(answer).to_vec();
        let (ids, order) = reassemble(responses);
        assert_eq!(ids, ["0", "1", "2", "3", "4", "5"]);
        assert!(order.waiting.is_empty());
        assert!(order.finish(6).is_ok());
    }

    #[test]
    fn holds_results_until_earlier_ones_come() {
        let mut order = InOrder::default();
        order.push(answer("1"));
        assert!(order.pop().is_none());
        order.push(answer("0"));
        let first = order.pop().unwrap();
        assert_eq!(first.request_id, "0");
        assert!(first.outputs.unwrap().contains_key("out0"));
        assert_eq!(order.pop().unwrap().request_id, "1");
        assert!(order.pop().is_none());
    }

    #[test]
    fn a_failed_request_is_a_result_and_the_rest_go_on() {
        let mut order = InOrder::default();
        for response in [answer("2"), failure("1"), answer("0")] {
            order.push(response);
        }
        let results: Vec<StreamResult> = std::iter::from_fn(|| order.pop()).collect();
        assert_eq!(results.len(), 3);
        assert!(results[0].outputs.is_ok());
        assert!(results[2].outputs.is_ok());
        let error = results[1].outputs.as_ref().unwrap_err();
        assert_eq!(results[1].request_id, "1");
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.reason(), "INPUT_SHAPE_MISMATCH");
        assert_eq!(error.field(), "inputs[image].shape");
        assert_eq!(error.metadata()["model"], "digits");
        assert_eq!(error.message(), "input 'image' has shape [1, 27, 28, 1]");
    }

    #[test]
    fn a_missing_answer_fails_the_stream() {
        let (ids, order) = reassemble(["0", "2"].map(answer).to_vec());
        assert_eq!(ids, ["0"]);
        let error = order.finish(3).unwrap_err();
        assert_eq!(error.code(), Code::Internal);
        assert!(error.message().ends_with("request 1"), "{error}");
    }

    #[test]
    fn an_empty_answer_is_an_internal_error() {
        let result = StreamResult::from(StreamPredictResponse {
            request_id: "0".to_owned(),
            result: None,
        });
        assert_eq!(result.outputs.unwrap_err().code(), Code::Internal);
    }

    #[test]
    fn requests_are_numbered_in_send_order() {
        let sent = Arc::new(AtomicUsize::new(0));
        let mut requests = Requests::new(
            ["a", "b", "c"].into_iter().map(|model| PredictRequest {
                model: model.to_owned(),
                ..PredictRequest::default()
            }),
            sent.clone(),
        );
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut numbered = Vec::new();
        while let Poll::Ready(Some(request)) = Pin::new(&mut requests).poll_next(&mut cx) {
            numbered.push((request.request_id, request.request.unwrap().model));
        }
        assert_eq!(
            numbered,
            [("0", "a"), ("1", "b"), ("2", "c")]
                .map(|(id, model)| (id.to_owned(), model.to_owned()))
        );
        assert_eq!(sent.load(Ordering::Acquire), 3);
    }
}
