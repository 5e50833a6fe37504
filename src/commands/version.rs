//! `mfa-env --version [--verbose]` and `mfa-env version [-v]`. The verbose form is for bug
//! reports: which commit, built for which target, and which keyring stores it can open (a
//! report about "the keyring" means little without them). `build.rs` records the first two.

use crate::error::Result;
use crate::store::StoreChoice;

/// The text printed, one `key: value` per line after the first.
pub fn text(verbose: bool) -> String {
    let mut out = format!("mfa-env {}\n", env!("CARGO_PKG_VERSION"));
    if verbose {
        let stores: Vec<String> = StoreChoice::COMPILED
            .iter()
            .map(|s| {
                let value = clap::ValueEnum::to_possible_value(s).expect("no store is skipped");
                format!("{} ({})", value.get_name(), s.name())
            })
            .collect();
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        out.push_str(&format!(
            "commit: {}\ntarget: {}\nbuild: {profile}\nkeyring stores: {}\n",
            env!("MFA_ENV_BUILD_COMMIT"),
            env!("MFA_ENV_BUILD_TARGET"),
            stores.join(", ")
        ));
    }
    out
}

pub fn run(verbose: bool) -> Result<()> {
    crate::output::write(&text(verbose))
}
