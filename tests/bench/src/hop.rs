//! The bare hop: a minimal hyper reverse proxy that forwards every request
//! to the upstream on a pooled keep-alive client and streams the answer
//! back. It is the floor any gateway's extra hop costs.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::{BodyExt, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};

type Body = BoxBody<Bytes, hyper::Error>;

/// Serves the hop until killed.
pub fn run(upstream: &str, port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let upstream = upstream.to_owned();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(connector);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let client = client.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |mut req: Request<Incoming>| {
                    let client = client.clone();
                    let upstream = upstream.clone();
                    async move {
                        let pq = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
                        *req.uri_mut() = format!("http://{upstream}{pq}").parse().expect("valid uri");
                        let resp: Response<Body> = match client.request(req).await {
                            Ok(r) => r.map(BodyExt::boxed),
                            Err(e) => {
                                let mut r = Response::new(
                                    http_body_util::Full::new(Bytes::from(e.to_string()))
                                        .map_err(|never: Infallible| match never {})
                                        .boxed(),
                                );
                                *r.status_mut() = hyper::StatusCode::BAD_GATEWAY;
                                r
                            }
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
            });
        }
    })
}
