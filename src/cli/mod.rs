//! The command line, as clap parses it (`fast` is the cached call's parser without clap). Raw
//! values only, which `main` and `commands` turn into settings; uses `store` and `output`.

use std::ffi::OsString;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use crate::output::Format;
use crate::store::StoreChoice;

pub mod fast;

const EXAMPLES: &str = "\
Examples:
  # in ~/.aws/config, so every aws command and SDK gets MFA credentials:
  #   [profile dev]
  #   credential_process = mfa-env --format process --profile dev
  #   mfa_serial = arn:aws:iam::123456789012:mfa/alice
  mfa-env setup -p dev               write that profile and store the key, asking as it goes
  mfa-env add -p dev                 store dev's long-term key in the keyring
  eval \"$(mfa-env -p dev)\"           export a session into this shell
  eval \"$(mfa-env -p prod-admin)\"    a role profile (role_arn, source_profile = dev): the role's
  mfa-env -p dev --format process    print the credential_process JSON
  mfa-env exec -p dev -- terraform plan
                                     run a command with the session in its environment
  mfa-env status                     list cached sessions
  aws s3api delete-object --bucket b --key k --version-id V --mfa \"$(mfa-env mfa-arg -p root)\"
";

/// AWS MFA sessions for the AWS CLI, SDKs and shells, cached in the OS keyring.
///
/// Without a subcommand, prints credentials for the profile (the same as `mfa-env export`),
/// asking for an MFA code only when no cached session has more than 15 minutes left.
#[derive(Debug, Parser)]
// Our own -V/--version, so that `--version --verbose` can add what a bug report needs.
#[command(name = "mfa-env", version, disable_version_flag = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    /// Print the version
    #[arg(short = 'V', long)]
    pub version: bool,

    /// With --version: also the commit, the build target and the keyring stores compiled in
    #[arg(short = 'v', long, requires = "version")]
    pub verbose: bool,

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

impl Cli {
    /// Parses the command line. `--format` and `--token-code` before a subcommand belong to
    /// the default command, so they are refused there rather than silently ignored (clap's
    /// `args_conflicts_with_subcommands` would refuse `-p` and `--keyring` too).
    pub fn parse_args() -> Cli {
        use clap::{CommandFactory, FromArgMatches, parser::ValueSource};
        let args: Vec<OsString> = std::env::args_os().skip(1).collect();
        if let Some(cli) = fast::parse(&args, |name| std::env::var_os(name)) {
            return cli;
        }
        let mut cmd = Cli::command();
        let matches = cmd.get_matches_mut();
        let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
        if let Some((sub, _)) = matches.subcommand() {
            for (id, flag) in [("format", "--format"), ("token_code", "--token-code")] {
                if matches.value_source(id) == Some(ValueSource::CommandLine) {
                    cmd.error(
                        clap::error::ErrorKind::ArgumentConflict,
                        format!("{flag} before `{sub}` belongs to the default command; put it after `{sub}` if `{sub}` takes it"),
                    )
                    .exit();
                }
            }
        }
        cli
    }
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

    #[command(flatten)]
    pub code: CodeArgs,
}

/// The formats of `export` that set variables: what `serve` may print its two in.
const SHELL_FORMATS: [&str; 5] = ["env", "env-no-export", "powershell", "windows-cmd", "fish"];

fn shell_format() -> impl clap::builder::TypedValueParser<Value = Format> {
    clap::builder::PossibleValuesParser::new(SHELL_FORMATS)
        .map(|name| Format::from_str(&name, false).expect("each is a Format"))
}

#[derive(Debug, Args)]
pub struct CodeArgs {
    /// The current MFA code, for scripts; `-` reads it from standard input (keeps it out of argv)
    #[arg(long, value_name = "CODE")]
    pub token_code: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Print the sign-in URL on stdout instead of opening a browser
    #[arg(long)]
    pub print: bool,

    /// Land on this service's console (ec2, s3, cloudwatch, …)
    #[arg(long, value_name = "SERVICE", conflicts_with = "destination")]
    pub service: Option<String>,

    /// Land on this console URL (of the role's partition)
    #[arg(long, value_name = "URL")]
    pub destination: Option<String>,

    /// The console's region [default: the profile's, else its partition's]
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    #[command(flatten)]
    pub code: CodeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print credentials for the profile (the default command)
    #[command(
        after_help = "Examples:\n  eval \"$(mfa-env export -p dev)\"\n  eval \"$(mfa-env export -p prod-admin)\"    a role assumed with dev's MFA session\n  mfa-env export -p dev --format fish | source\n  mfa-env export -p dev --format process --token-code - <<<\"$CODE\""
    )]
    Export(ExportArgs),

    /// Run a command with the session in its environment (default: your $SHELL)
    ///
    /// Sets AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
    /// AWS_CREDENTIAL_EXPIRATION, and AWS_REGION/AWS_DEFAULT_REGION when the profile has a
    /// region; removes AWS_PROFILE. Exits with the command's status (128+n if a signal killed
    /// it). With --server, the command gets a local credentials endpoint instead of the
    /// session (AWS_CONTAINER_CREDENTIALS_FULL_URI, AWS_CONTAINER_AUTHORIZATION_TOKEN), from
    /// which its SDKs take a new session when the old one runs out.
    #[command(
        after_help = "Examples:\n  mfa-env exec -p dev -- aws s3 ls\n  mfa-env exec -p prod-admin -- terraform apply    a role profile: the role's credentials\n  mfa-env exec -p dev -- terraform plan\n  mfa-env exec -p dev --server -- terraform apply    longer than a session: renewed as needed\n  mfa-env exec -p dev                 a subshell; `exit` ends it"
    )]
    Exec {
        #[command(flatten)]
        code: CodeArgs,

        /// Run even inside another `mfa-env exec`
        #[arg(long)]
        allow_nested: bool,

        /// Give the command a local credentials endpoint rather than one session
        #[arg(long)]
        server: bool,

        /// With --server: log each request to stderr (time, status, whether a new session was needed)
        #[arg(long, requires = "server")]
        verbose: bool,

        /// The command and its arguments, after `--`
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "CMD"
        )]
        command: Vec<OsString>,
    },

    /// Run a local credentials endpoint for other programs until interrupted
    ///
    /// Prints the two variables a client needs (AWS_CONTAINER_CREDENTIALS_FULL_URI and
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN), then serves the profile's session on 127.0.0.1,
    /// a new one when the old one runs out, until SIGINT or SIGTERM.
    #[command(
        after_help = "Examples:\n  mfa-env serve -p dev               in a terminal of its own; paste the two lines it prints\n                                     into the shell, IDE or agent settings that need them\n  docker run --network host -e AWS_CONTAINER_CREDENTIALS_FULL_URI \\\n    -e AWS_CONTAINER_AUTHORIZATION_TOKEN amazon/aws-cli sts get-caller-identity\n  mfa-env serve -p dev --format fish   the two lines for fish"
    )]
    Serve {
        /// The port on 127.0.0.1 [default: a free one]
        #[arg(long, value_name = "N")]
        port: Option<u16>,

        /// How the two variables are printed (as `export --format` prints variables)
        #[arg(short, long, value_parser = shell_format(), default_value = "env", value_name = "F")]
        format: Format,

        /// Log each request to stderr (time, status, whether a new session was needed)
        #[arg(long)]
        verbose: bool,

        /// For `exec --server`: the process whose life bounds this server's
        #[arg(long, hide = true, value_name = "PID")]
        exec_parent: Option<u32>,
    },

    /// Sign in to the AWS console as a role, from the cached MFA session
    ///
    /// For a role profile (role_arn + source_profile = an mfa-env profile): the role's session
    /// comes from the cached MFA session (no second code), the console's federation endpoint
    /// turns it into a sign-in URL, and that is opened in your browser ($BROWSER, else
    /// xdg-open), through a private file that is deleted once the browser has read it; --print
    /// prints it instead. The URL signs anyone in as the role for 15 minutes: keep it to
    /// yourself. A role session assumed with an MFA session is limited by AWS to one hour, and
    /// so is the console session. A profile with only an MFA session is refused: AWS's
    /// federation endpoint takes only role credentials.
    #[command(after_help = "Examples:
  mfa-env console -p prod-admin
  mfa-env console -p prod-admin --service ec2 --region eu-west-1
  mfa-env console -p prod-admin --destination 'https://us-east-1.console.aws.amazon.com/s3/buckets'
  mfa-env console -p prod-admin --print | wl-copy")]
    Console(ConsoleArgs),

    /// Print "SERIAL CODE" for the --mfa option of S3 MFA Delete; nothing is cached
    #[command(
        name = "mfa-arg",
        after_help = "Examples:\n  aws s3api put-bucket-versioning --bucket b \\\n    --versioning-configuration Status=Enabled,MFADelete=Enabled \\\n    --mfa \"$(mfa-env mfa-arg -p root)\"\n  aws s3api delete-object --bucket b --key k --version-id V --mfa \"$(mfa-env mfa-arg -p root)\""
    )]
    MfaArg {
        #[command(flatten)]
        code: CodeArgs,
    },

    /// Create or update a profile for mfa-env, asking for what the flags do not give
    ///
    /// Writes credential_process, mfa_serial and duration_seconds (and region) into the
    /// profile in the AWS config file, keeping every other line, comment and byte as it was,
    /// after a backup of the file. Stores the long-term key in the keyring: typed, piped
    /// (--key-stdin), or moved from a profile's plaintext keys (--key-from; --move-keys deletes
    /// them from the files). Without --serial, the user's MFA devices are listed with the
    /// long-term key (sts:GetCallerIdentity, iam:ListMFADevices). Without a terminal, or with
    /// --yes, nothing is asked: flags and current values decide.
    #[command(
        after_help = "Examples:\n  mfa-env setup -p dev\n  mfa-env setup -p dev --dry-run\n  mfa-env setup -p dev --key-from default --move-keys --duration 43200 --yes\n  printf '%s\\n%s\\n' \"$KEY_ID\" \"$SECRET\" | mfa-env setup -p dev --key-stdin --serial arn:aws:iam::123456789012:mfa/alice --yes"
    )]
    Setup(SetupArgs),

    /// Store the profile's long-term access key pair in the keyring
    #[command(
        after_help = "Examples:\n  mfa-env add -p dev\n  printf '%s\\n%s\\n' \"$KEY_ID\" \"$SECRET\" | mfa-env add -p dev --stdin"
    )]
    Add {
        /// Read the key id and the secret key as two lines on standard input instead of prompting
        #[arg(long)]
        stdin: bool,

        /// Store it even in a keyring that is emptied at reboot (the kernel keyring, an
        /// in-memory Secret Service collection); keep a copy elsewhere
        #[arg(long)]
        volatile_ok: bool,
    },

    /// Delete the profile's long-term key pair and its cached sessions
    #[command(after_help = "Examples:\n  mfa-env remove -p dev")]
    Remove,

    /// List cached sessions, of the profile given or of all (never a secret)
    #[command(after_help = "Examples:\n  mfa-env status\n  mfa-env status -p dev --json")]
    Status {
        /// Machine-readable output
        #[arg(long)]
        json: bool,
    },

    /// Delete cached sessions of the profile, or of every profile
    #[command(
        after_help = "Examples:\n  mfa-env clear -p dev     the next call asks for a code\n  mfa-env clear --all"
    )]
    Clear {
        /// Every profile's sessions
        #[arg(long)]
        all: bool,
    },

    /// Check the profile and everything around it, one line each with the fix
    ///
    /// The files and the profile (for a role profile: its chain, then the mfa-env profile under
    /// it), static keys or a role_arn that would win over credential_process, AWS_ACCESS_KEY_ID
    /// in the environment, the keyring, the long-term key, the cached session, how a code can be
    /// asked for, the STS endpoint, and this machine's clock against STS's (one call with a
    /// made-up key; --offline skips it). With --policy:
    /// explain how an IAM policy's MFA conditions treat long-term keys and MFA sessions (Bool vs
    /// BoolIfExists), and whether sts:GetSessionToken stays reachable without MFA.
    #[command(
        after_help = "Examples:\n  mfa-env doctor -p dev\n  mfa-env doctor -p prod-admin --offline\n  mfa-env doctor -p dev --json\n  mfa-env doctor --policy mfa-policy.json\n  aws iam get-policy-version --policy-arn ARN --version-id v1 --query PolicyVersion.Document > p.json && mfa-env doctor --policy p.json"
    )]
    Doctor {
        /// Explain this IAM policy JSON file instead
        #[arg(long, value_name = "FILE")]
        policy: Option<std::path::PathBuf>,

        /// Machine-readable output
        #[arg(long)]
        json: bool,

        /// Do not call STS to compare this machine's clock with it
        #[arg(long)]
        offline: bool,
    },

    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  mfa-env completions bash > ~/.local/share/bash-completion/completions/mfa-env\n  mfa-env completions zsh > \"${fpath[1]}/_mfa-env\"\n  mfa-env completions fish > ~/.config/fish/completions/mfa-env.fish\n  mfa-env completions powershell >> $PROFILE"
    )]
    Completions {
        #[arg(value_enum)]
        shell: Shell,
    },

    /// Print the version; -v adds what a bug report needs
    #[command(
        after_help = "Examples:\n  mfa-env version\n  mfa-env version -v      paste into a bug report\n  mfa-env --version --verbose"
    )]
    Version {
        /// Also the commit, the build target and the keyring stores compiled in
        #[arg(short, long)]
        verbose: bool,
    },

    /// Print the man page (roff), or write one page per command into a directory
    #[command(
        after_help = "Examples:\n  mfa-env man | man -l -\n  mfa-env man --dir ~/.local/share/man/man1"
    )]
    Man {
        /// Write mfa-env.1 and a page per subcommand into this directory
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// `mfa-env setup`'s flags: each answers one question the interactive setup would ask.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The MFA device: an ARN (arn:aws:iam::<account>:mfa/<name>) or a hardware serial
    #[arg(long, value_name = "SERIAL")]
    pub serial: Option<String>,

    /// Session length in seconds: 900 to 129600 (root user: 3600)
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u32>,

    /// The profile's region
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Take the long-term key from this profile's plaintext keys
    #[arg(long, value_name = "PROFILE", conflicts_with = "key_stdin")]
    pub key_from: Option<String>,

    /// Read the long-term key id and secret key as two lines on standard input
    #[arg(long)]
    pub key_stdin: bool,

    /// Delete the plaintext keys from the files once they are in the keyring
    #[arg(long)]
    pub move_keys: bool,

    /// Print what would change, as a diff with keys redacted, and change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Ask nothing: flags and current values decide
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Store the key even in a keyring that is emptied at reboot (the kernel keyring, an
    /// in-memory Secret Service collection); its plaintext copy is kept
    #[arg(long)]
    pub volatile_ok: bool,
}
