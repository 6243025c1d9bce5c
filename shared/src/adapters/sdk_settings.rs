//! How the AWS SDK clients are configured: one HTTPS client for all of them that trusts the roots
//! of AWS's own certificate authority, and in Lambda the region and credentials read straight from
//! the environment Lambda sets.
//!
//! Why not the SDK's default HTTPS client: it reads and parses the platform's whole root store (about
//! 150 certificates) while a Lambda initialises, and once more for every SDK client, which made
//! up most of our cold-start init beyond a hello-world function. AWS service endpoints present
//! certificates from Amazon Trust Services, so five roots are all DynamoDB and Secrets Manager
//! need. Where the SDK is pointed elsewhere over HTTPS (an `AWS_ENDPOINT_URL*` outside AWS, or
//! an `HTTPS_PROXY` that may re-sign traffic with a private CA) the platform's roots are added.

use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};

/// Amazon Root CA 1–4 and Starfield Services Root CA G2, as PEM (see the file's header).
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../../certs/amazon-trust-services.pem");

/// SDK settings from the environment, as `aws_config::load_defaults` reads them, with one HTTPS
/// client for every SDK client made from them.
#[allow(
    clippy::expect_used,
    reason = "a TLS context from a trust store has no failure to report"
)]
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    let trust = TrustStore::empty()
        .with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS)
        .with_native_roots(platform_roots_needed(std::env::vars()));
    let tls = TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .expect("a TLS context from a trust store always builds");
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls)
        .build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https)
        .retry_config(retries())
}

/// How throttled or failing AWS calls are retried: sooner and more often than the SDK's default
/// (3 attempts, backing off from a second). A webhook delivery that fails is resent by GitLab
/// only after a while, and GitLab disables a hook after 4 failures in a row; DynamoDB's throttling
/// and 5xx answers pass in milliseconds, so five quick attempts keep the delivery (at most about
/// 1.5 s of waiting in all, well within GitLab's 10 s).
pub fn retries() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(std::time::Duration::from_millis(50))
        .with_max_backoff(std::time::Duration::from_millis(800))
}

/// The settings of a function in Lambda, where the region and the credentials are always
/// environment variables: naming their providers spares building the default chains (profile
/// files, SSO, web identity, container and instance metadata) at every cold start.
pub fn lambda_config_loader() -> aws_config::ConfigLoader {
    let loader = sdk_config_loader()
        .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    match std::env::var("AWS_REGION") {
        Ok(region) if !region.is_empty() => loader.region(aws_config::Region::new(region)),
        _ => loader,
    }
}

/// Whether the environment sends the SDK over HTTPS to something other than AWS: an endpoint
/// override outside AWS, or a proxy.
fn platform_roots_needed(mut environment: impl Iterator<Item = (String, String)>) -> bool {
    environment.any(|(name, value)| match name.as_str() {
        "HTTPS_PROXY" | "https_proxy" => !value.trim().is_empty(),
        _ => name.starts_with("AWS_ENDPOINT_URL") && is_https_outside_aws(&value),
    })
}

/// Whether `url` is an `https` URL whose host is not an AWS service domain.
fn is_https_outside_aws(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url.trim()) else {
        // Not a URL the SDK could use either; trusting more roots would not help it.
        return false;
    };
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let aws = ["amazonaws.com", "amazonaws.com.cn", "api.aws"]
        .iter()
        .any(|domain| host == *domain || host.ends_with(&format!(".{domain}")));
    parsed.scheme() == "https" && !aws
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    use sha2::{Digest, Sha256};

    /// SHA-256 fingerprints Amazon Trust Services publishes for its roots.
    const PUBLISHED_FINGERPRINTS: [&str; 5] = [
        "8ecde6884f3d87b1125ba31ac3fcb13d7016de7f57cc904fe1cb97c6ae98196e", // Amazon Root CA 1
        "1ba5b2aa8c65401a82960118f80bec4f62304d83cec4713a19c39c011ea46db4", // Amazon Root CA 2
        "18ce6cfe7bf14e60b2e347b8dfe868cb31d02ebb3ada271569f50343b46db3a4", // Amazon Root CA 3
        "e35d28419ed02025cfa69038cd623962458da5c695fbdea3c22b0bfb25897092", // Amazon Root CA 4
        "568d6905a2c88708a4b3025190edcfedb1974a606a13c6e5290fcb2ae63edab5", // Starfield Services Root CA G2
    ];

    #[test]
    fn the_bundled_roots_are_amazon_trust_services_roots_and_usable_as_anchors() {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .collect::<Result<_, _>>()
            .expect("the bundle is PEM");
        let fingerprints: Vec<String> = certs
            .iter()
            .map(|der| hex::encode(Sha256::digest(der.as_ref())))
            .collect();
        assert_eq!(fingerprints, PUBLISHED_FINGERPRINTS);
        let mut store = rustls::RootCertStore::empty();
        for cert in certs {
            store.add(cert).expect("rustls accepts the root as a trust anchor");
        }
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn platform_roots_are_added_only_when_https_leads_outside_aws() {
        let native =
            |vars: &[(&str, &str)]| platform_roots_needed(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(!native(&[]));
        assert!(!native(&[("AWS_REGION", "eu-west-1"), ("HOME", "https://example.com")]));
        assert!(!native(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:5000")]));
        assert!(!native(&[(
            "AWS_ENDPOINT_URL",
            "https://dynamodb.eu-west-1.amazonaws.com"
        )]));
        assert!(!native(&[(
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "https://vpce-0123-abcd.secretsmanager.eu-west-1.vpce.amazonaws.com"
        )]));
        assert!(!native(&[(
            "AWS_ENDPOINT_URL_DYNAMODB",
            "https://dynamodb.cn-north-1.amazonaws.com.cn"
        )]));
        assert!(!native(&[("AWS_ENDPOINT_URL", "https://dynamodb.us-east-1.api.aws")]));
        assert!(!native(&[("HTTPS_PROXY", " ")]));
        assert!(native(&[("AWS_ENDPOINT_URL", "https://aws-proxy.example.com")]));
        assert!(native(&[("AWS_ENDPOINT_URL", "https://evilamazonaws.com")]));
        assert!(native(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "https://localstack.internal:4566")
        ]));
        assert!(native(&[("HTTPS_PROXY", "http://proxy.corp:3128")]));
        assert!(native(&[("https_proxy", "http://proxy.corp:3128")]));
    }
}
