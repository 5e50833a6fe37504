//! The local credentials endpoint of `exec --server` and `serve`: the container-credentials
//! protocol every AWS SDK and both CLIs speak (`AWS_CONTAINER_CREDENTIALS_FULL_URI` and
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN`), so a long job refreshes its session by itself. Uses
//! `credentials` and below; `provider` decides what a request is served.
//!
//! Nothing for anyone else: it listens on 127.0.0.1 only, and answers only `GET` of its one
//! path with the exact token (compared in constant time). Every local user can connect, so a
//! connection is bounded in what it may cost: headers within 5 s and 16 KiB, a request body
//! never read, closed after any answer but a session; when `MAX_CONNECTIONS` are open, a
//! stranger's connection gives way to a new one (see [`Connections`]). Its log (`--verbose`)
//! has no secret in it: time, status, and whether a new session was needed.

pub mod provider;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::output::rfc3339;
use crate::secret::SessionCredentials;
use provider::{Provider, Refused, Served};

/// The one path that answers. Not a secret; the token is.
pub const PATH: &str = "/mfa-env/credentials";

/// Connections served at once (well under the usual 1024 open files); see [`Connections`].
const MAX_CONNECTIONS: usize = 256;

/// How often the server looks whether a session a client holds needs its successor.
const RENEW_CHECK: Duration = Duration::from_secs(5);

/// The time a client has to send a request's headers (a slowloris connection is cut after it).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection younger than this is evicted only when no older one may still turn out to be a
/// stranger: a client writes its request right after connecting, but on a busy machine the
/// bytes may not have arrived when the server first reads, and a connection evicted then
/// loses a request already on its way.
const EVICT_AFTER: Duration = Duration::from_millis(250);

/// The endpoint's listening socket on 127.0.0.1 and `port` (`None`: any free one), and the
/// port it got.
pub fn bind(port: Option<u16>) -> Result<(TcpListener, u16)> {
    let asked = port.unwrap_or(0);
    let cannot =
        |e: std::io::Error| Error::Endpoint(format!("cannot listen on 127.0.0.1:{asked}: {e}"));
    let listener =
        TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, asked))).map_err(cannot)?;
    let port = listener.local_addr().map_err(cannot)?.port();
    deeper_backlog(&listener);
    Ok((listener, port))
}

/// A listen queue as deep as the system allows (`net.core.somaxconn`, 4096 on current Linux)
/// rather than std's 128: while another local process floods the port with connections, the
/// owner's clients still get a place in the queue instead of a dropped SYN and a retry a second
/// later. Best effort: listen(2) on a listening socket only changes its backlog.
fn deeper_backlog(listener: &TcpListener) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: listen(2) on a socket this process owns.
        unsafe { libc::listen(listener.as_raw_fd(), 4096) };
    }
    #[cfg(not(unix))]
    let _ = listener;
}

/// A new authorization token: 256 random bits, hex.
pub fn new_token() -> Result<Zeroizing<String>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(bytes.as_mut())
        .map_err(|e| Error::Endpoint(format!("no random numbers for a token: {e}")))?;
    let mut token = Zeroizing::new(String::with_capacity(64));
    for b in bytes.iter() {
        token.push_str(&format!("{b:02x}"));
    }
    Ok(token)
}

/// The two variables a client needs, for a listener on `port`.
pub fn variables(port: u16, token: &str) -> [(&'static str, Zeroizing<String>); 2] {
    [
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            Zeroizing::new(format!("http://127.0.0.1:{port}{PATH}")),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            Zeroizing::new(token.to_owned()),
        ),
    ]
}

/// Serves requests on `listener` until `stop` completes. `listening` is called once the
/// server is ready to accept, with the port it serves.
pub fn serve(
    listener: TcpListener,
    token: Zeroizing<String>,
    provider: Provider,
    verbose: bool,
    stop: impl Future<Output = ()>,
    listening: impl FnOnce(u16),
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Endpoint(format!("cannot start: {e}")))?;
    let ctx = Arc::new(Ctx {
        token,
        provider: Arc::new(provider),
        verbose,
    });
    let served = runtime.block_on(async move {
        let cannot = |e: std::io::Error| Error::Endpoint(format!("cannot listen: {e}"));
        listener.set_nonblocking(true).map_err(cannot)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(cannot)?;
        listening(listener.local_addr().map_err(cannot)?.port());
        tokio::select! {
            () = accept(listener, Arc::clone(&ctx)) => {}
            () = renew(Arc::clone(&ctx.provider)) => {}
            () = stop => {}
        }
        Ok(())
    });
    // Requests still waiting for a fetch (a prompt nobody answers) must not hold up the exit.
    runtime.shutdown_background();
    served
}

struct Ctx {
    token: Zeroizing<String>,
    provider: Arc<Provider>,
    verbose: bool,
}

async fn accept(listener: tokio::net::TcpListener, ctx: Arc<Ctx>) {
    let mut open = Connections {
        list: VecDeque::new(),
        max: MAX_CONNECTIONS,
    };
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, most likely: let some connections end first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let room = loop {
            match open.make_room() {
                Room::Wait => {
                    // Every slot holds a connection not read from yet: let them be read (a
                    // client's request is in its buffer already), then choose.
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                decided => break decided,
            }
        };
        if room == Room::Full {
            continue; // every slot holds a client with the token: dropped, closed at once
        }
        let Ok(peer) = Peer::of(&stream) else {
            continue; // out of descriptors: this one is closed, the next may fit
        };
        let ctx = Arc::clone(&ctx);
        let seen = Arc::new(Seen::default());
        let shown = Arc::clone(&seen);
        let io = Watched {
            stream,
            seen: Arc::clone(&seen),
        };
        let task = tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let (ctx, shown) = (Arc::clone(&ctx), Arc::clone(&shown));
                async move { Ok::<_, Infallible>(answer(req, &ctx, &shown.trusted).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(io), service)
                .await;
        });
        open.list.push_back(Open {
            seen,
            task: task.abort_handle(),
            peer,
            opened: std::time::Instant::now(),
        });
    }
}

/// Every few seconds: a session a client holds that is about to run out gets its successor.
async fn renew(provider: Arc<Provider>) {
    loop {
        tokio::time::sleep(RENEW_CHECK).await;
        let provider = Arc::clone(&provider);
        let _ = tokio::task::spawn_blocking(move || provider.renew_if_due()).await;
    }
}

/// The connections being served. When every slot is taken, a stranger's connection gives way
/// to the newcomer: any local user can connect, and strangers holding connections open must not
/// crowd out the owner's clients. Which one: the oldest that has been read from and found
/// waiting for more; never one that has not been read from yet, which may be the owner's client
/// with its request already in the buffer (under a flood of new connections, evicting the
/// oldest regardless would close it unread). When every slot holds one not read from yet, the
/// newcomer waits until they have been. Nor one whose bytes wait in the kernel: a client that
/// was read from an instant before its request arrived must not lose it while its task waits
/// for its turn behind the accept loop.
struct Connections {
    list: VecDeque<Open>,
    max: usize,
}

struct Open {
    seen: Arc<Seen>,
    task: tokio::task::AbortHandle,
    peer: Peer,
    opened: std::time::Instant,
}

/// A second descriptor of a served connection's socket, to ask the kernel whether bytes wait
/// to be read; it keeps the socket open as long as the connection is listed.
struct Peer {
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
}

impl Peer {
    fn of(stream: &tokio::net::TcpStream) -> std::io::Result<Peer> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            Ok(Peer {
                fd: stream.as_fd().try_clone_to_owned()?,
            })
        }
        #[cfg(not(unix))]
        {
            let _ = stream;
            Ok(Peer {})
        }
    }

    /// Whether the client's bytes have arrived and wait to be read.
    fn has_unread(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            let mut unread: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int; the descriptor is ours and open.
            let asked = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::FIONREAD, &mut unread) };
            asked == 0 && unread > 0
        }
        #[cfg(not(unix))]
        false
    }
}

/// What the server has seen of one connection.
#[derive(Default)]
struct Seen {
    /// It sent the token.
    trusted: AtomicBool,
    /// A read found nothing more to read (the connection waits on its client).
    waiting: AtomicBool,
}

#[derive(Debug, PartialEq, Eq)]
enum Room {
    /// One more may be served (after closing a stranger's, if need be).
    Free,
    /// Every slot holds a connection not read from yet.
    Wait,
    /// Every slot holds a client with the token.
    Full,
}

impl Connections {
    fn make_room(&mut self) -> Room {
        self.list.retain(|c| !c.task.is_finished());
        if self.list.len() < self.max {
            return Room::Free;
        }
        let evict = self.list.iter().position(|c| {
            !c.seen.trusted.load(Ordering::Relaxed)
                && c.seen.waiting.load(Ordering::Relaxed)
                && !c.peer.has_unread()
        });
        // The oldest stranger goes. If that is a new connection while older ones have not
        // been read from yet, they are read first (one of them is the stranger to evict, and
        // the new one may be a client whose request is on its way): the server waits a moment.
        if let Some(i) = evict
            && self.list[i].opened.elapsed() < EVICT_AFTER
            && self.list.iter().take(i).any(|c| {
                !c.seen.trusted.load(Ordering::Relaxed) && !c.seen.waiting.load(Ordering::Relaxed)
            })
        {
            return Room::Wait;
        }
        match evict {
            Some(i) => {
                let stranger = self.list.remove(i).expect("found at i");
                stranger.task.abort(); // its connection is dropped, and so closed
                Room::Free
            }
            None if self
                .list
                .iter()
                .all(|c| c.seen.trusted.load(Ordering::Relaxed)) =>
            {
                Room::Full
            }
            None => Room::Wait,
        }
    }
}

/// A connection's stream that records what reading it showed (see [`Seen`]).
struct Watched {
    stream: tokio::net::TcpStream,
    seen: Arc<Seen>,
}

impl tokio::io::AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if read.is_pending() {
            self.seen.waiting.store(true, Ordering::Relaxed);
        }
        read
    }
}

impl tokio::io::AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// One request's answer, logged with `--verbose`.
async fn answer(req: Request<Incoming>, ctx: &Ctx, trusted: &AtomicBool) -> Response<Full<Bytes>> {
    let (status, body, what) = respond(&req, ctx, trusted).await;
    if ctx.verbose {
        eprintln!(
            "mfa-env: {} {} {what}",
            rfc3339(crate::clock::now()),
            status.as_u16()
        );
    }
    let mut answer = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json");
    if status != StatusCode::OK {
        // A stranger's connection ends with its answer: it holds no slot beyond it.
        answer = answer.header(CONNECTION, "close");
    }
    answer
        .body(Full::new(body))
        .expect("a status and fixed headers make a valid response")
}

async fn respond(
    req: &Request<Incoming>,
    ctx: &Ctx,
    trusted: &AtomicBool,
) -> (StatusCode, Bytes, &'static str) {
    let refuse = |status, message: &str, what| (status, message_body(message), what);
    if req.uri().path() != PATH {
        return refuse(StatusCode::NOT_FOUND, "not found", "another path");
    }
    if req.method() != Method::GET {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "only GET", "another method");
    }
    let Some(given) = req.headers().get(AUTHORIZATION) else {
        return refuse(StatusCode::UNAUTHORIZED, "no token", "no token");
    };
    if !bool::from(given.as_bytes().ct_eq(ctx.token.as_bytes())) {
        return refuse(StatusCode::FORBIDDEN, "wrong token", "wrong token");
    }
    trusted.store(true, Ordering::Relaxed);
    let provider = Arc::clone(&ctx.provider);
    match tokio::task::spawn_blocking(move || provider.get()).await {
        Ok(Ok(Served::Cached(creds))) => (
            StatusCode::OK,
            credentials_body(&creds, ctx.provider.account_id()),
            "cached",
        ),
        Ok(Ok(Served::Fetched(creds))) => (
            StatusCode::OK,
            credentials_body(&creds, ctx.provider.account_id()),
            "new session",
        ),
        Ok(Err(Refused::Failed(why))) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("mfa-env: {why}"),
            "no session",
        ),
        Ok(Err(Refused::StillFetching)) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "mfa-env is still waiting for an MFA code; the next request after it is given gets the new session",
            "waiting for a code",
        ),
        Err(_) => refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mfa-env: the session lookup failed",
            "lookup failed",
        ),
    }
}

/// The container-credentials JSON the SDKs read, with `AccountId` where it is known.
fn credentials_body(creds: &SessionCredentials, account: Option<&str>) -> Bytes {
    let mut json = serde_json::json!({
        "AccessKeyId": creds.access_key_id.expose_secret(),
        "SecretAccessKey": creds.secret_access_key.expose_secret(),
        "Token": creds.session_token.expose_secret(),
        "Expiration": rfc3339(creds.expiration),
    });
    if let Some(account) = account {
        json["AccountId"] = account.into();
    }
    let json = Zeroizing::new(json.to_string());
    Bytes::copy_from_slice(json.as_bytes())
}

/// An error answer: SDKs show the body, so it is one line that says what to do.
fn message_body(message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "message": message }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A client read from an instant before its request arrived is not the one to go, however
    /// old: its bytes wait in the kernel while the accept loop runs.
    #[tokio::test(flavor = "current_thread")]
    async fn a_connection_whose_request_has_arrived_is_not_evicted() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut open = Connections {
            list: VecDeque::new(),
            max: 3,
        };
        let mut clients = Vec::new();
        for i in 0..3 {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            let (stream, _) = listener.accept().await.unwrap();
            let seen = Arc::new(Seen::default());
            // Read once and found nothing yet, as every one of them was.
            seen.waiting.store(true, Ordering::Relaxed);
            // The first two are old enough to go; the last is new.
            let age = if i < 2 {
                EVICT_AFTER * 2
            } else {
                Duration::ZERO
            };
            open.list.push_back(Open {
                seen,
                peer: Peer::of(&stream).unwrap(),
                task: tokio::spawn(async move {
                    let _stream = stream;
                    std::future::pending::<()>().await;
                })
                .abort_handle(),
                opened: std::time::Instant::now() - age,
            });
        }
        // The oldest one's request arrives; its task has not run since.
        clients[0].write_all(b"GET / HTTP/1.1\r\n").unwrap();
        while !open.list[0].peer.has_unread() {
            tokio::task::yield_now().await;
        }
        assert_eq!(open.make_room(), Room::Free);
        assert_eq!(open.list.len(), 2);
        assert!(
            open.list[0].peer.has_unread(),
            "the client with a request kept"
        );
        assert!(!open.list[1].peer.has_unread());
        // A new connection is not the one to go while an older one has not been read from.
        open.list[0].seen.waiting.store(false, Ordering::Relaxed);
        open.max = 2;
        assert_eq!(
            open.make_room(),
            Room::Wait,
            "the older one is read first: it may be the stranger"
        );
    }
}
