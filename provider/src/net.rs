//! Connection-level protection against slow clients, below HTTP: request timeouts only cover
//! producing a response's headers once a request arrived, so without these a client could hold
//! a connection (and a download slot) forever. [`GuardedListener`] wraps every accepted
//! connection so that it fails when:
//! - a write stays blocked for `write_stall` (a client that stops reading a download);
//! - a request head is not complete `header_timeout` after the connection opened or after the
//!   first byte of a later request arrived (slowloris: headers sent a byte at a time);
//! - an answered connection neither reads nor writes for `idle_timeout` (idle keep-alive).
//!
//! The head is found by its blank line; what follows it (the body) is read under the request
//! timeout, so a client that never finishes a body gets a 408 and the connection is closed.

use std::{
    future::Future,
    io,
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    time::Sleep,
};

/// The deadlines every connection runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a write may stay blocked.
    pub write_stall: Duration,
    /// From the connection's start, or a later request's first byte, to the end of its head.
    pub header_timeout: Duration,
    /// How long an answered connection may neither read nor write.
    pub idle_timeout: Duration,
}

/// A TCP listener whose connections fail past their [`ConnectionLimits`].
#[derive(Debug)]
pub struct GuardedListener {
    inner: TcpListener,
    limits: ConnectionLimits,
}

impl GuardedListener {
    /// Wraps `inner`.
    pub fn new(inner: TcpListener, limits: ConnectionLimits) -> Self {
        Self { inner, limits }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Guarded<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (Guarded::new(stream, self.limits), addr);
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(err) => {
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// Where a connection is in its request/response cycle, as far as its bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Reading a request head; `newlines` consecutive line ends seen (two end the head).
    Head { newlines: u8 },
    /// The head arrived: the body and the response are the handler's, under its timeout.
    Request,
    /// The server wrote (part of) an answer; the next byte read starts a new head.
    Answered,
}

/// An I/O object enforcing [`ConnectionLimits`]: its reads and writes fail with `TimedOut`
/// once a limit passes.
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    limits: ConnectionLimits,
    stalled: Option<Pin<Box<Sleep>>>,
    phase: Phase,
    /// The head deadline while in [`Phase::Head`], the idle deadline while answered and idle.
    read_deadline: Option<Pin<Box<Sleep>>>,
}

impl<S> Guarded<S> {
    /// Wraps a fresh connection `inner`: its first request head is due within the header timeout.
    pub fn new(inner: S, limits: ConnectionLimits) -> Self {
        Self {
            inner,
            limits,
            stalled: None,
            phase: Phase::Head { newlines: 0 },
            read_deadline: Some(Box::pin(tokio::time::sleep(limits.header_timeout))),
        }
    }

    /// Follows the request head through the bytes just read.
    fn on_read(&mut self, bytes: &[u8]) {
        if self.phase == Phase::Answered {
            self.phase = Phase::Head { newlines: 0 };
            self.read_deadline = Some(Box::pin(tokio::time::sleep(self.limits.header_timeout)));
        }
        let Phase::Head { mut newlines } = self.phase else { return };
        for &byte in bytes {
            // "\r\n\r\n" or a bare "\n\n" ends a head; a `\r` does not break the count.
            match byte {
                b'\n' => newlines += 1,
                b'\r' => {}
                _ => newlines = 0,
            }
            if newlines == 2 {
                self.phase = Phase::Request;
                self.read_deadline = None;
                return;
            }
        }
        self.phase = Phase::Head { newlines };
    }

    /// Bytes went out: the server is answering, and the connection is idle from now on until
    /// it reads or writes again. The idle timer is polled here, with the writer's waker: once a
    /// response is out the server may wait for readability without polling reads again, and
    /// the timer's wake-up is what makes it read (and fail) when the connection stays idle.
    fn on_written(&mut self, cx: &mut Context<'_>, result: &Poll<io::Result<usize>>) {
        if matches!(result, Poll::Ready(Ok(written)) if *written > 0) {
            self.phase = Phase::Answered;
            let idle_until = tokio::time::Instant::now() + self.limits.idle_timeout;
            match self.read_deadline.as_mut() {
                Some(deadline) => deadline.as_mut().reset(idle_until),
                None => self.read_deadline = Some(Box::pin(tokio::time::sleep_until(idle_until))),
            }
            if let Some(deadline) = self.read_deadline.as_mut() {
                // Not elapsed: it was just set `idle_timeout` ahead.
                let _ = deadline.as_mut().poll(cx);
            }
        }
    }

    fn timed_out(&self) -> io::Error {
        let reason = match self.phase {
            Phase::Head { .. } => "the request head did not arrive in time",
            _ => "the connection was idle too long",
        };
        io::Error::new(io::ErrorKind::TimedOut, reason)
    }

    fn on_write<T>(&mut self, cx: &mut Context<'_>, result: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match result {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let limit = self.limits.write_stall;
                let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Guarded<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let read = &buf.filled()[before..];
                if !read.is_empty() {
                    this.on_read(read);
                }
                // A head trickling in byte by byte is ready on every read: check the clock here too.
                if matches!(this.phase, Phase::Head { .. })
                    && this.read_deadline.as_ref().is_some_and(|deadline| deadline.is_elapsed())
                {
                    return Poll::Ready(Err(this.timed_out()));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                if let Some(deadline) = this.read_deadline.as_mut()
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(this.timed_out()));
                }
                Poll::Pending
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Guarded<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.on_written(cx, &result);
        this.on_write(cx, result)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.on_written(cx, &result);
        this.on_write(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_flush(cx);
        this.on_write(cx, result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            write_stall: Duration::from_secs(5),
            header_timeout: Duration::from_millis(200),
            idle_timeout: Duration::from_millis(400),
        }
    }

    #[tokio::test]
    async fn an_unfinished_head_times_out_and_a_finished_one_does_not() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, limits());
        let mut buf = [0u8; 256];
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("head"), "{err}");

        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, limits());
        client.write_all(b"POST / HTTP/1.1\nHost: x\n\n{").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        // The body is the handler's to time out: past the head deadline, reads still wait.
        let waited = tokio::time::timeout(Duration::from_millis(300), guarded.read(&mut buf)).await;
        assert!(waited.is_err(), "a read after a complete head failed: {waited:?}");
    }

    #[tokio::test]
    async fn an_answered_connection_closes_when_idle_and_a_new_request_gets_a_fresh_deadline() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut guarded = Guarded::new(server, limits());
        let mut buf = [0u8; 256];
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        guarded.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await.unwrap();
        assert!(client.read(&mut buf).await.unwrap() > 0);
        // A second request within the idle time is read normally.
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        assert!(guarded.read(&mut buf).await.unwrap() > 0);
        guarded.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let started = std::time::Instant::now();
        let err = guarded.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("idle"), "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    }
}
