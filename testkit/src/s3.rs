//! A bucket of its own per test on the S3-compatible test server
//! (`moto_server`, which `scripts/lib.sh::ensure_s3` installs and starts and
//! whose address it exports as `TEST_S3_ENDPOINT`).

use std::{net::SocketAddr, sync::Arc};

use object_store::{ObjectStore, aws::AmazonS3Builder};

/// One bucket, on the test server or through a proxy to it.
pub struct TestBucket {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub bucket: String,
}

impl TestBucket {
    /// A new, empty bucket; `None` (the test then skips, saying so) when no
    /// test server is configured, unless `PAGESMITH_REQUIRE_S3=1`, where
    /// that fails the test.
    pub async fn new() -> Option<Self> {
        let Ok(endpoint) = std::env::var("TEST_S3_ENDPOINT") else {
            assert!(
                std::env::var("PAGESMITH_REQUIRE_S3").as_deref() != Ok("1"),
                "PAGESMITH_REQUIRE_S3=1 but TEST_S3_ENDPOINT is not set"
            );
            eprintln!("SKIPPED: no S3 test server (TEST_S3_ENDPOINT); run through scripts/test");
            return None;
        };
        let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
        // moto creates buckets from unsigned requests.
        let created = reqwest::Client::new()
            .put(format!("{endpoint}/{bucket}"))
            .send()
            .await
            .expect("the S3 test server at TEST_S3_ENDPOINT answers");
        assert!(
            created.status().is_success(),
            "creating bucket {bucket}: {}",
            created.status()
        );
        Some(Self { endpoint, bucket })
    }

    /// The variables that point pagesmith at this bucket under `prefix`.
    pub fn env(&self, prefix: &str) -> Vec<(&'static str, String)> {
        self.env_at(&self.endpoint, prefix)
    }

    /// [`Self::env`] with the server reached through `proxy`.
    pub fn env_via(&self, proxy: SocketAddr, prefix: &str) -> Vec<(&'static str, String)> {
        self.env_at(&format!("http://{proxy}"), prefix)
    }

    fn env_at(&self, endpoint: &str, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("BUNDLE_STORE_URL", format!("s3://{}/{prefix}", self.bucket)),
            ("AWS_ENDPOINT", endpoint.to_owned()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// A client for the bucket (through `proxy` when given).
    pub fn store(&self, proxy: Option<SocketAddr>) -> Arc<dyn ObjectStore> {
        let endpoint = proxy.map_or_else(|| self.endpoint.clone(), |p| format!("http://{p}"));
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(endpoint)
                .with_allow_http(true)
                .with_access_key_id("test")
                .with_secret_access_key("test")
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .build()
                .expect("an S3 client for the test bucket"),
        )
    }
}
