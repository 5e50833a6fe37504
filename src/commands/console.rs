//! `mfa-env console`: signs a role profile into the AWS console. Everything that can refuse the
//! request without the network comes first (an MFA-only profile, a partition without a sign-in
//! host, a bad destination, no browser to hand it to); then the role's session (from the
//! cache, or assumed with the cached MFA session), then one call to the federation endpoint.

mod browser;

use std::time::Duration;

use crate::aws::console::{self, Page};
use crate::aws::{partition, target};
use crate::cli::{ConsoleArgs, Global};
use crate::error::{Error, Result};
use crate::profile::config::{self, Target};

pub fn run(global: &Global, args: &ConsoleArgs) -> Result<()> {
    let target = config::load_target(global.profile())?;
    let Target::Role(chain) = &target else {
        return Err(Error::ConsoleNeedsRole {
            profile: target.profile().to_owned(),
            partition: target.sts().partition().id,
        });
    };
    let sts = &chain.role().sts;
    let region = args.region.as_deref().unwrap_or(&sts.region);
    let role_partition = sts.partition();
    if !target::is_region_name(region) || partition::of_region(region) != role_partition {
        return Err(Error::ConsoleDestination {
            why: format!(
                "--region {region:?} is not a region of the role's partition {} (such as {})",
                role_partition.id,
                target::default_region(Some(role_partition))
            ),
        });
    }
    let hosts = console::hosts(role_partition)?;
    let page = match (&args.service, &args.destination) {
        (Some(service), _) => Page::Service(service.clone()),
        (None, Some(url)) => Page::Url(url.clone()),
        (None, None) => Page::Home,
    };
    let destination = console::destination(hosts, region, &page)?;
    let browser = if args.print {
        None
    } else {
        Some(browser::Browser::find()?)
    };

    let creds = super::session(global, &target, &args.code)?;
    let url = console::signin_url(
        hosts,
        target.profile(),
        &creds,
        &destination,
        Duration::from_secs(sts.timeout_seconds.into()),
    )?;
    match browser {
        None => {
            let mut line = url;
            line.push('\n');
            crate::output::write(&line)
        }
        Some(browser) => {
            browser.open(&url)?;
            eprintln!(
                "mfa-env: opened the console for profile '{}' in the browser",
                target.profile()
            );
            Ok(())
        }
    }
}
