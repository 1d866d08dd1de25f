//! TLS for the loopback stand-ins, so that what a client spends on it
//! (handshakes, encryption) is measured as against AWS: a throwaway CA and
//! a certificate for 127.0.0.1 that it signs, made at start.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use std::io::Write;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct LoopbackTls {
    pub acceptor: TlsAcceptor,
    /// The CA certificate (PEM), for clients to trust; removed on drop.
    pub ca_file: tempfile::NamedTempFile,
}

impl LoopbackTls {
    pub fn generate() -> anyhow::Result<Self> {
        let mut ca = CertificateParams::new(Vec::<String>::new())?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // Names of their own: with the default name on both, OpenSSL (Fluent
        // Bit) takes the certificate for a self-signed one.
        ca.distinguished_name.push(DnType::CommonName, "local-aws test CA");
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca, ca_key);
        let leaf_key = KeyPair::generate()?;
        let mut leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        leaf.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        let leaf = leaf.signed_by(&leaf_key, &issuer)?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![leaf.der().clone(), ca_cert.der().clone()];
        let config =
            ServerConfig::builder_with_provider(Arc::new(tokio_rustls::rustls::crypto::aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_single_cert(chain, key)?;
        let mut ca_file = tempfile::Builder::new()
            .prefix("fake-aws-ca")
            .suffix(".pem")
            .tempfile()?;
        ca_file.write_all(ca_cert.pem().as_bytes())?;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            ca_file,
        })
    }
}
