//! Client-side helpers: a lazily connecting channel and the interceptor that adds the shared
//! token to every call, used by workers and by the command-line client alike.

use std::time::Duration;

use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig};

use crate::v1::control_service_client::ControlServiceClient;
use crate::v1::worker_service_client::WorkerServiceClient;

/// Adds `authorization: Bearer <token>` to every call when a token is set.
#[derive(Clone)]
pub struct TokenInterceptor {
    header: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl TokenInterceptor {
    pub fn new(token: Option<&str>) -> Self {
        TokenInterceptor {
            header: token
                .filter(|t| !t.is_empty())
                .and_then(|t| format!("Bearer {t}").parse().ok()),
        }
    }
}

impl tonic::service::Interceptor for TokenInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(h) = &self.header {
            req.metadata_mut().insert(crate::AUTH_HEADER, h.clone());
        }
        Ok(req)
    }
}

pub type Authed = InterceptedService<Channel, TokenInterceptor>;
pub type WorkerClient = WorkerServiceClient<Authed>;
pub type ControlClient = ControlServiceClient<Authed>;

/// The environment variable naming a PEM file of extra CA certificates clients trust.
pub const TLS_CA_ENV: &str = "HERD_TLS_CA";

/// A channel to `url` (`http://host:port` or `https://…`) that connects on first use.
pub fn channel(url: &str, ca_pem: Option<&[u8]>) -> Result<Channel, String> {
    let mut endpoint = Channel::from_shared(url.to_string())
        .map_err(|e| format!("invalid coordinator URL `{url}`: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    if url.starts_with("https://") {
        crate::install_tls_provider();
        let mut tls = ClientTlsConfig::new().with_enabled_roots();
        // A private CA (e.g. a self-signed coordinator certificate): given, or from
        // `HERD_TLS_CA`, trusted beside the system roots.
        let from_env = match (ca_pem, std::env::var_os(TLS_CA_ENV)) {
            (None, Some(path)) if !path.is_empty() => Some(std::fs::read(&path).map_err(|e| {
                format!(
                    "cannot read the CA certificate `{}` ({TLS_CA_ENV}): {e}",
                    std::path::Path::new(&path).display()
                )
            })?),
            _ => None,
        };
        if let Some(ca) = ca_pem.or(from_env.as_deref()) {
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(ca));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| format!("bad TLS settings for `{url}`: {e}"))?;
    }
    Ok(endpoint.connect_lazy())
}

/// A worker-service client.
pub fn worker_client(
    url: &str,
    token: Option<&str>,
    ca_pem: Option<&[u8]>,
) -> Result<WorkerClient, String> {
    Ok(
        WorkerServiceClient::with_interceptor(channel(url, ca_pem)?, TokenInterceptor::new(token))
            .max_decoding_message_size(256 * 1024 * 1024)
            .max_encoding_message_size(256 * 1024 * 1024),
    )
}

/// A control-service client.
pub fn control_client(
    url: &str,
    token: Option<&str>,
    ca_pem: Option<&[u8]>,
) -> Result<ControlClient, String> {
    Ok(ControlServiceClient::with_interceptor(
        channel(url, ca_pem)?,
        TokenInterceptor::new(token),
    ))
}
