//! Where STS is called for one profile: region, endpoint, FIPS and dual-stack as the SDKs
//! resolve them, and the cache scope that follows. The profile layer reads the settings; the
//! rules about partitions and endpoints live here, beside the calls.

use crate::aws::partition::{self, Partition};

/// Where STS is called for one profile, and how long an attempt may take.
#[derive(Debug, Clone)]
pub struct StsTarget {
    pub region: String,
    /// Whether `region` was configured (environment or profile) rather than derived: `exec`
    /// passes only a configured region on to the command.
    pub region_configured: bool,
    /// An explicit STS endpoint (`AWS_ENDPOINT_URL_STS`, `AWS_ENDPOINT_URL`, a `services`
    /// section, `endpoint_url`); `None` means the SDK's regional default.
    pub endpoint_url: Option<String>,
    /// `use_fips_endpoint` / `AWS_USE_FIPS_ENDPOINT`: STS's FIPS endpoint of the region.
    pub use_fips: bool,
    /// `use_dualstack_endpoint` / `AWS_USE_DUALSTACK_ENDPOINT`: the IPv6-capable endpoint.
    pub use_dual_stack: bool,
    pub timeout_seconds: u32,
}

impl StsTarget {
    /// The partition of the region STS is called in.
    pub fn partition(&self) -> &'static Partition {
        partition::of_region(&self.region)
    }

    /// What a session from this target is valid for, which scopes the cache: STS session
    /// tokens from a regional endpoint are valid in every region of its partition, so a change
    /// of region alone is the same scope. An explicit endpoint (a test server, a private
    /// endpoint) and FIPS are scopes of their own; dual-stack only changes the address.
    pub fn scope(&self) -> String {
        match (&self.endpoint_url, self.use_fips) {
            (Some(url), _) => url.clone(),
            (None, false) => self.partition().id.to_owned(),
            (None, true) => format!("{} fips", self.partition().id),
        }
    }

    /// The URL the SDK calls, by the SDK's own endpoint rules (China's end in
    /// `amazonaws.com.cn`, FIPS and dual-stack have names of their own). Only a miss, an error
    /// message or `doctor` needs it; the cached call never resolves endpoints.
    pub fn resolve(&self) -> std::result::Result<String, String> {
        use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let mut params = Params::builder()
            .region(self.region.clone())
            .use_fips(self.use_fips)
            .use_dual_stack(self.use_dual_stack)
            .use_global_endpoint(false);
        if let Some(url) = &self.endpoint_url {
            params = params.endpoint(url.clone());
        }
        let params = params.build().map_err(|e| e.to_string())?;
        let resolver = DefaultResolver::new();
        pollster::block_on(resolver.resolve_endpoint(&params))
            .map(|e| e.url().to_owned())
            .map_err(|e| crate::error::one_line(&*e))
    }

    /// Names the STS endpoint in messages.
    pub fn endpoint_id(&self) -> String {
        self.resolve()
            .unwrap_or_else(|_| format!("STS in {}", self.region))
    }
}

/// The region STS is called in when none is configured: the partition's own, as the SDKs
/// choose it for global endpoints (`us-east-1` when the partition is not known). The SDK would
/// probe the instance metadata service next, which stalls for seconds off EC2; a credential
/// helper must not.
pub fn default_region(partition: Option<&'static Partition>) -> &'static str {
    partition
        .or_else(|| partition::named("aws"))
        .map_or("us-east-1", |p| p.implicit_global_region)
}

/// A region name as AWS spells them: lower-case letters, digits and dashes.
pub fn is_region_name(region: &str) -> bool {
    !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Where `setup` calls: IAM is global (`us-east-1` signs for it); an endpoint override applies
/// as the SDKs read it (`AWS_ENDPOINT_URL_IAM`, …).
pub struct Endpoints {
    pub iam_endpoint_url: Option<String>,
    pub sts: StsTarget,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(region: &str) -> StsTarget {
        StsTarget {
            region: region.into(),
            region_configured: true,
            endpoint_url: None,
            use_fips: false,
            use_dual_stack: false,
            timeout_seconds: 10,
        }
    }

    #[test]
    fn the_sovereign_cloud_has_its_own_scope_and_host() {
        let eusc = at(default_region(partition::named("aws-eusc")));
        assert_eq!(eusc.region, "eusc-de-east-1");
        assert_eq!(eusc.scope(), "aws-eusc");
        assert_eq!(
            eusc.endpoint_id(),
            "https://sts.eusc-de-east-1.amazonaws.eu"
        );
        assert_eq!(default_region(None), "us-east-1");
    }
}
