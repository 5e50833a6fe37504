//! AWS partitions (`aws`, `aws-cn`, `aws-us-gov`, `aws-eusc`, the ISO ones): which one a region
//! or an ARN belongs to, and the region STS is called in when none is configured. The data are
//! the SDK's own (`data.rs`, written by `scripts/update-partitions` from the partition JSON the
//! aws-sdk-sts in Cargo.lock resolves endpoints with), so mfa-env and the SDK it calls agree on
//! every region; a test fails when a newer SDK brings other data.
//!
//! The cached `credential_process` call asks for a region's partition, so the lookup is a scan
//! of string tables; the SDK's region patterns are compiled only for a region no table lists.

mod data;

/// One partition as the SDK's endpoint resolver describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct Partition {
    /// The name ARNs carry (`arn:<id>:…`).
    pub id: &'static str,
    pub dns_suffix: &'static str,
    pub dual_stack_dns_suffix: &'static str,
    /// The region the SDKs use for this partition's global endpoints; mfa-env calls STS there
    /// when no region is configured.
    pub implicit_global_region: &'static str,
    region_regex: &'static str,
    regions: &'static [&'static str],
}

/// Every partition the SDK knows.
pub fn all() -> &'static [Partition] {
    data::PARTITIONS
}

/// The partition named `id` (as ARNs name them), if the SDK knows it.
pub fn named(id: &str) -> Option<&'static Partition> {
    all().iter().find(|p| p.id == id)
}

/// The partition of `region` by the SDK's rules: a listed region, else the first partition
/// whose pattern matches, else `aws`.
pub fn of_region(region: &str) -> &'static Partition {
    all()
        .iter()
        .find(|p| p.regions.contains(&region))
        .or_else(|| {
            all()
                .iter()
                .find(|p| pattern_matches(p.region_regex, region))
        })
        .or_else(|| named("aws"))
        .expect("the SDK's data always have the aws partition")
}

/// The partition an ARN names (`arn:<partition>:…`), if the SDK knows it.
pub fn of_arn(arn: &str) -> Option<&'static Partition> {
    let mut parts = arn.splitn(3, ':');
    match (parts.next(), parts.next()) {
        (Some("arn"), Some(id)) => named(id),
        _ => None,
    }
}

/// The names of every partition, for messages: "aws, aws-cn, …".
pub fn names() -> String {
    all().iter().map(|p| p.id).collect::<Vec<_>>().join(", ")
}

fn pattern_matches(pattern: &str, region: &str) -> bool {
    regex_lite::Regex::new(pattern).is_ok_and(|re| re.is_match(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_and_arns_find_their_partitions() {
        let id = |r| of_region(r).id;
        assert_eq!(id("eu-west-1"), "aws");
        assert_eq!(id("cn-north-1"), "aws-cn");
        assert_eq!(id("us-gov-east-1"), "aws-us-gov");
        assert_eq!(id("eusc-de-east-1"), "aws-eusc");
        assert_eq!(id("us-iso-east-1"), "aws-iso");
        assert_eq!(id("us-isob-east-1"), "aws-iso-b");
        assert_eq!(id("eu-isoe-west-1"), "aws-iso-e");
        assert_eq!(id("us-isof-south-1"), "aws-iso-f");
        assert_eq!(id("eusc-de-west-7"), "aws-eusc", "by the pattern");
        assert_eq!(id("zz-nowhere-1"), "aws", "the SDK's fallback");
        assert_eq!(
            of_arn("arn:aws-eusc:iam::123456789012:mfa/a").map(|p| p.id),
            Some("aws-eusc")
        );
        assert!(of_arn("arn:aws-xx:iam::123456789012:mfa/a").is_none());
        assert_eq!(
            named("aws-eusc").unwrap().implicit_global_region,
            "eusc-de-east-1"
        );
        assert!(names().starts_with("aws, aws-cn, "), "{}", names());
    }

    /// The table answers as the SDK compiled into this binary does: every listed region and
    /// one more per pattern resolves, through the SDK's public STS endpoint resolver, to the
    /// host our partition's suffixes give.
    #[test]
    fn the_sdk_resolves_every_region_to_our_partitions_host() {
        use aws_sdk_sts::config::endpoint::{DefaultResolver, Params, ResolveEndpoint};
        let resolve = |region: &str, dual: bool| {
            let params = Params::builder()
                .region(region.to_owned())
                .use_dual_stack(dual)
                .use_fips(false)
                .use_global_endpoint(false)
                .build()
                .unwrap();
            pollster::block_on(DefaultResolver::new().resolve_endpoint(&params))
                .unwrap()
                .url()
                .to_owned()
        };
        let mut checked = 0;
        for p in all() {
            let unlisted = p
                .regions
                .iter()
                .find(|r| !r.ends_with("-global"))
                .map(|r| format!("{}9", r.trim_end_matches(char::is_numeric)));
            for region in p
                .regions
                .iter()
                .map(|r| r.to_string())
                .filter(|r| !r.ends_with("-global"))
                .chain(unlisted)
            {
                assert_eq!(of_region(&region).id, p.id, "{region}");
                assert_eq!(
                    resolve(&region, false),
                    format!("https://sts.{region}.{}", p.dns_suffix),
                    "{region}"
                );
                assert_eq!(
                    resolve(&region, true),
                    format!("https://sts.{region}.{}", p.dual_stack_dns_suffix),
                    "{region}"
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "{checked} regions checked");
    }

    /// `data.rs` is the partition JSON of the aws-sdk-sts that Cargo.lock pins, read from the
    /// SDK's source where Cargo unpacked it.
    #[test]
    fn the_table_is_the_sdks_data() {
        let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let lock = std::fs::read_to_string(manifest.join("Cargo.lock")).unwrap();
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"aws-sdk-sts\""))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"').to_owned())
            .expect("aws-sdk-sts in Cargo.lock");
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cargo"));
        let sources = cargo_home.join("registry/src");
        let file = std::fs::read_dir(&sources)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; build once so Cargo unpacks the SDK",
                    sources.display()
                )
            })
            .map(|d| {
                d.unwrap()
                    .path()
                    .join(format!("aws-sdk-sts-{version}/src/endpoint_lib.rs"))
            })
            .find(|f| f.exists())
            .unwrap_or_else(|| {
                panic!(
                    "aws-sdk-sts {version} is not unpacked under {}",
                    sources.display()
                )
            });
        let text = std::fs::read_to_string(file).unwrap();
        let start = text
            .find("new_from_json(b\"")
            .expect("the default partitions")
            + 16;
        let literal = &text[start..start + text[start..].find("\")").unwrap()];
        let json: serde_json::Value =
            serde_json::from_str(&literal.replace("\\\"", "\"").replace("\\\\", "\\")).unwrap();
        let theirs = json["partitions"].as_array().unwrap();
        let stale =
            "src/aws/partition/data.rs is not the SDK's data: run scripts/update-partitions";
        assert_eq!(theirs.len(), all().len(), "{stale}");
        for (t, ours) in theirs.iter().zip(all()) {
            let o = &t["outputs"];
            assert_eq!(t["id"], ours.id, "{stale}");
            assert_eq!(o["dnsSuffix"], ours.dns_suffix, "{stale}");
            assert_eq!(
                o["dualStackDnsSuffix"], ours.dual_stack_dns_suffix,
                "{stale}"
            );
            assert_eq!(
                o["implicitGlobalRegion"], ours.implicit_global_region,
                "{stale}"
            );
            assert_eq!(t["regionRegex"], ours.region_regex, "{stale}");
            let mut regions: Vec<&str> = t["regions"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            regions.sort_unstable();
            assert_eq!(regions, ours.regions, "{stale}");
        }
    }
}
