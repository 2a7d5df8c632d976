//! How long a client may take: a request body that pauses too long, or takes too long in all,
//! ends with an error the extractors answer 408.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The body arrived too slowly: no data for the idle limit, or not done by the deadline.
#[derive(Debug)]
pub struct BodyTooSlow {
    pub idle: Duration,
    pub total: Duration,
}

impl std::fmt::Display for BodyTooSlow {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "the request body arrived too slowly (nothing for {} s, or more than {} s in all)",
            self.idle.as_secs(),
            self.total.as_secs()
        )
    }
}

impl std::error::Error for BodyTooSlow {}

/// A request body with an idle limit between frames and a total deadline, both counted from
/// the first time a handler reads it (a request waiting on authentication is not penalised).
pub struct Paced<B> {
    inner: B,
    idle: Duration,
    total: Duration,
    deadline: Option<Instant>,
    timer: Pin<Box<Sleep>>,
}

impl<B> Paced<B> {
    pub fn new(inner: B, idle: Duration, total: Duration) -> Self {
        Self {
            inner,
            idle,
            total,
            deadline: None,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl<B> Body for Paced<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::BoxError>>> {
        let this = &mut *self;
        let now = Instant::now();
        let deadline = *this.deadline.get_or_insert_with(|| {
            let deadline = now + this.total;
            this.timer.as_mut().reset((now + this.idle).min(deadline));
            deadline
        });
        match Pin::new(&mut this.inner).poll_frame(context) {
            Poll::Ready(frame) => {
                this.timer
                    .as_mut()
                    .reset((Instant::now() + this.idle).min(deadline));
                Poll::Ready(frame.map(|result| result.map_err(Into::into)))
            }
            Poll::Pending => match this.timer.as_mut().poll(context) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTooSlow {
                    idle: this.idle,
                    total: this.total,
                })))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
