//! The command line, as clap parses it. Raw values only: `main` turns them into settings.

use clap::{Args, Parser, Subcommand};

use crate::output::Format;
use crate::store::StoreChoice;

const EXAMPLES: &str = "\
Examples:
  # in ~/.aws/config, so every aws command and SDK gets MFA credentials:
  #   [profile dev]
  #   credential_process = mfa-env --format process --profile dev
  #   mfa_serial = arn:aws:iam::123456789012:mfa/alice
  mfa-env add -p dev                 store dev's long-term key in the keyring
  eval \"$(mfa-env -p dev)\"           export a session into this shell
  mfa-env -p dev --format process    print the credential_process JSON
  mfa-env status                     list cached sessions
";

/// AWS MFA sessions for the AWS CLI, SDKs and shells, cached in the OS keyring.
///
/// Without a subcommand, prints credentials for the profile (the same as `mfa-env export`),
/// asking for an MFA code only when no cached session has more than 15 minutes left.
#[derive(Debug, Parser)]
#[command(name = "mfa-env", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(flatten)]
    pub export: ExportArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The profile in the AWS config file [default: AWS_PROFILE, else "default"]
    #[arg(
        short,
        long,
        global = true,
        env = "AWS_PROFILE",
        hide_env = true,
        value_name = "P"
    )]
    pub profile: Option<String>,

    /// Which keyring holds the cache and the long-term keys
    #[arg(long, global = true, env = "MFA_ENV_KEYRING", value_enum, default_value_t = StoreChoice::Auto)]
    pub keyring: StoreChoice,
}

impl Global {
    /// The profile to act on: `-p`, else `AWS_PROFILE`, else `default`.
    pub fn profile(&self) -> &str {
        self.profile
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or("default")
    }
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format (as `aws configure export-credentials --format`)
    #[arg(short, long, value_enum, default_value_t = Format::Env, value_name = "F")]
    pub format: Format,

    /// The current MFA code, for scripts; `-` reads it from standard input (keeps it out of argv)
    #[arg(long, value_name = "CODE")]
    pub token_code: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print credentials for the profile (the default command)
    Export(ExportArgs),

    /// Store the profile's long-term access key pair in the keyring
    #[command(
        after_help = "Examples:\n  mfa-env add -p dev\n  printf '%s\\n%s\\n' \"$KEY_ID\" \"$SECRET\" | mfa-env add -p dev --stdin"
    )]
    Add {
        /// Read the key id and the secret key as two lines on standard input instead of prompting
        #[arg(long)]
        stdin: bool,
    },

    /// Delete the profile's long-term key pair and its cached sessions
    Remove,

    /// List cached sessions, of the profile given or of all (never a secret)
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },

    /// Delete cached sessions of the profile, or of every profile
    Clear {
        /// Every profile's sessions
        #[arg(long)]
        all: bool,
    },
}
