//! TLS for the cluster's QUIC connections: every process makes a self-signed
//! certificate at start; peers accept exactly the certificate whose SHA-256
//! fingerprint they were told (the head's from the cluster file, the others' from the
//! head). rustls runs on ring only.

use crate::error::NetError;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use std::time::Duration;

/// The application protocol name negotiated on every connection.
const ALPN: &[u8] = b"doreisa/1";

/// The name certificates are made for (peers are identified by fingerprint, not name).
pub const SERVER_NAME: &str = "doreisa-node";

/// A process's certificate and key.
pub struct Identity {
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
    pub fingerprint: Vec<u8>,
}

/// rustls on ring. rustls 0.23.48 deprecated ring's provider for its lack of
/// post-quantum key exchange; the cluster's peers pin each other's certificates and
/// use X25519, and the provider that has it (aws-lc-rs) costs about 35 s more CPU per
/// clean build. Allowed here, so that programs depending on this crate see no warning.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: impl std::fmt::Display) -> NetError {
    NetError::Network(format!("TLS set-up: {e}"))
}

impl Identity {
    /// A fresh self-signed certificate.
    pub fn generate() -> Result<Identity, NetError> {
        let made =
            rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_string()]).map_err(tls_error)?;
        let cert = made.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
        let fingerprint = fingerprint(&cert);
        Ok(Identity {
            cert,
            key,
            fingerprint,
        })
    }

    /// The QUIC server side: this certificate, no client certificates (peers prove
    /// themselves with the cluster token instead).
    pub fn server_config(&self) -> Result<quinn::ServerConfig, NetError> {
        let mut tls = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(tls_error)?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.cert.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .map_err(tls_error)?;
        tls.alpn_protocols = vec![ALPN.to_vec()];
        let crypto = QuicServerConfig::try_from(tls).map_err(tls_error)?;
        let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
        config.transport_config(transport());
        Ok(config)
    }
}

/// QUIC transport settings: quinn's defaults (measured best on loopback), plus
/// keep-alives so that quiet connections between members stay open.
fn transport() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_secs(5)));
    Arc::new(transport)
}

/// The client side of a connection to the peer whose certificate has `fingerprint`.
pub fn client_config(fingerprint: &[u8]) -> Result<quinn::ClientConfig, NetError> {
    let provider = provider();
    let mut tls = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(tls_error)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCertificate {
            fingerprint: fingerprint.to_vec(),
            provider,
        }))
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = QuicClientConfig::try_from(tls).map_err(tls_error)?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(transport());
    Ok(config)
}

/// SHA-256 of a certificate.
pub fn fingerprint(cert: &CertificateDer<'_>) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, cert.as_ref())
        .as_ref()
        .to_vec()
}

/// A new random cluster token.
pub fn new_token() -> Result<Vec<u8>, NetError> {
    use ring::rand::SecureRandom;
    let mut token = vec![0u8; doreisa_proto::wire::TOKEN_LEN];
    ring::rand::SystemRandom::new()
        .fill(&mut token)
        .map_err(|_| NetError::Network("no system randomness for a token".into()))?;
    Ok(token)
}

/// Accepts exactly one certificate, known by its fingerprint; signatures are checked
/// as usual.
#[derive(Debug)]
struct PinnedCertificate {
    fingerprint: Vec<u8>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if doreisa_proto::membership::token_matches(&self.fingerprint, &fingerprint(end_entity)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the peer's certificate is not the cluster's".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
