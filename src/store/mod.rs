//! The OS keyring: which one, and reading, writing and deleting one item in it (`kernel` and
//! `secret_service` are Linux's two). The bottom layer: uses only `clock` and `private_files`.
//!
//! Each store is built explicitly from its own crate; mfa-env never sets keyring-core's default
//! store, so no build can fall back to an in-memory mock that keeps nothing. On Linux, `auto`
//! prefers the Secret Service (it survives logout and reboot) and falls back to the kernel
//! keyring (`store::kernel`), which every login of the user shares until the next reboot.
//! Items are opaque bytes here; what they mean belongs to `cache` and `longterm`.

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

#[cfg(target_os = "linux")]
pub mod kernel;
#[cfg(target_os = "linux")]
mod secret_service;

/// The keyring "service" under which every mfa-env item is stored.
const SERVICE: &str = "mfa-env";

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// Secret Service if one answers on the session bus, else the kernel keyring (Linux);
    /// the platform store elsewhere.
    Auto,
    /// The freedesktop Secret Service (GNOME Keyring, KWallet, KeePassXC) over D-Bus.
    SecretService,
    /// The Linux kernel keyring: one key in the user's persistent keyring, items sealed with it.
    Keyutils,
    /// The macOS login Keychain.
    Keychain,
    /// The Windows Credential Manager.
    Windows,
}

impl StoreChoice {
    /// The stores this build can open (`--keyring` values besides `auto`), for bug reports.
    #[cfg(target_os = "linux")]
    pub const COMPILED: &[StoreChoice] = &[StoreChoice::SecretService, StoreChoice::Keyutils];
    #[cfg(target_os = "macos")]
    pub const COMPILED: &[StoreChoice] = &[StoreChoice::Keychain];
    #[cfg(windows)]
    pub const COMPILED: &[StoreChoice] = &[StoreChoice::Windows];
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    pub const COMPILED: &[StoreChoice] = &[];

    pub fn name(self) -> &'static str {
        match self {
            StoreChoice::Auto => "auto",
            StoreChoice::SecretService => "Secret Service",
            StoreChoice::Keyutils => "kernel keyring",
            StoreChoice::Keychain => "macOS Keychain",
            StoreChoice::Windows => "Windows Credential Manager",
        }
    }
}

/// How a locked store may be unlocked: through its own prompt, for at most `seconds`, and only
/// when `someone_present()` says a person could see that prompt. Asked only when something is
/// locked, so the cached call never pays for the question.
#[derive(Clone, Copy)]
pub struct Unlock {
    pub seconds: u32,
    pub someone_present: fn() -> bool,
}

impl Unlock {
    /// Never prompt: a locked store fails at once.
    pub const NEVER: Unlock = Unlock {
        seconds: 0,
        someone_present: || false,
    };
}

/// Whether what a store holds is still there after a reboot: what decides if it may hold the
/// only copy of a long-term key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Durability {
    Survives(String),
    Volatile(String),
}

impl Durability {
    pub fn survives(&self) -> bool {
        matches!(self, Durability::Survives(_))
    }

    /// Where it is kept, and for how long.
    pub fn describe(&self) -> &str {
        match self {
            Durability::Survives(d) | Durability::Volatile(d) => d,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no usable keyring: {tried}; {hint}")]
    NoneAvailable { tried: String, hint: &'static str },

    #[error("the {store} is not available: {detail}; {hint}")]
    Unavailable {
        store: &'static str,
        detail: String,
        hint: &'static str,
    },

    #[error("the {store} refused to {op} item '{item}': {detail}{hint}")]
    Access {
        store: &'static str,
        op: &'static str,
        item: String,
        detail: String,
        hint: String,
    },
}

/// One opened keyring.
pub struct Store {
    choice: StoreChoice,
    backend: platform::Backend,
}

impl Store {
    /// Opens the store `choice` names; `Auto` picks as described in the module doc.
    pub fn open(choice: StoreChoice, unlock: Unlock) -> Result<Self, StoreError> {
        match choice {
            StoreChoice::Auto => open_auto(unlock),
            explicit => platform::open(explicit, unlock)
                .map(|backend| Store {
                    choice: explicit,
                    backend,
                })
                .map_err(|detail| StoreError::Unavailable {
                    store: explicit.name(),
                    hint: platform::hint(explicit),
                    detail,
                }),
        }
    }

    pub fn name(&self) -> &'static str {
        self.choice.name()
    }

    /// The item's bytes, or `None` when there is no such item (or one that cannot be read back
    /// as ours, which the next write replaces).
    pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.backend
            .get(item)
            .map_err(|e| self.access_error("read", item, e))
    }

    /// Every value stored under the name: more than one where another program (or an older
    /// mfa-env, racing with no common lock) created a second item of the same name, which
    /// [`get`](Self::get) reads as none. For what must not be lost to such a race (the index).
    pub fn get_all(&self, item: &str) -> Result<Vec<Zeroizing<Vec<u8>>>, StoreError> {
        self.backend
            .get_all(item)
            .map_err(|e| self.access_error("read", item, e))
    }

    /// Creates or replaces the item; a reader sees either the old value or the new one.
    /// `expires`: when the value is worthless, so a store that can may drop it then.
    pub fn set(
        &self,
        item: &str,
        value: &[u8],
        expires: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.backend
            .set(item, value, expires)
            .map_err(|e| self.access_error("write", item, e))
    }

    /// Deletes the item; `Ok(false)` when it was not there.
    pub fn delete(&self, item: &str) -> Result<bool, StoreError> {
        self.backend
            .delete(item)
            .map_err(|e| self.access_error("delete", item, e))
    }

    /// Every other store of this platform that opens without a prompt: where a long-term key
    /// may also be, stored there with another `--keyring` (or by `auto` on a day the Secret
    /// Service did not answer).
    pub fn others(&self) -> Vec<Store> {
        platform::AUTO_ORDER
            .iter()
            .filter(|&&choice| choice != self.choice)
            .filter_map(|&choice| {
                let backend = platform::open(choice, Unlock::NEVER).ok()?;
                Some(Store { choice, backend })
            })
            .collect()
    }

    /// Whether a new item would survive a reboot here.
    pub fn durability(&self) -> Result<Durability, StoreError> {
        self.backend
            .durability(None)
            .map_err(|e| self.access_error("inspect", "(new item)", e))
    }

    /// Whether `item`, written now, would survive a reboot: where it already is (stores replace
    /// an item in place), else where a new one goes.
    pub fn durability_of_write(&self, item: &str) -> Result<Durability, StoreError> {
        match self.get(item)? {
            Some(_) => self.item_durability(item),
            None => self.durability(),
        }
    }

    /// Whether the existing `item` survives a reboot where it is.
    pub fn item_durability(&self, item: &str) -> Result<Durability, StoreError> {
        self.backend
            .durability(Some(item))
            .map_err(|e| self.access_error("inspect", item, e))
    }

    fn access_error(&self, op: &'static str, item: &str, e: platform::Failure) -> StoreError {
        StoreError::Access {
            store: self.name(),
            op,
            item: item.to_owned(),
            detail: e.detail,
            hint: e.hint,
        }
    }
}

/// Deletes what mfa-env 0.1's kernel store kept under `item` (a kernel key of its own, not in
/// the vault), whichever store is in use now; `true` if there was something. Never anything
/// durable: the kernel keyring is emptied at reboot.
pub fn delete_legacy(item: &str) -> bool {
    #[cfg(target_os = "linux")]
    return kernel::home().is_ok_and(|home| kernel::delete_legacy(&home, item));
    #[cfg(not(target_os = "linux"))]
    {
        let _ = item;
        false
    }
}

fn open_auto(unlock: Unlock) -> Result<Store, StoreError> {
    let mut tried = Vec::new();
    for choice in platform::AUTO_ORDER {
        match platform::open(*choice, unlock) {
            Ok(backend) => {
                return Ok(Store {
                    choice: *choice,
                    backend,
                });
            }
            Err(detail) => tried.push(format!("{}: {detail}", choice.name())),
        }
    }
    Err(StoreError::NoneAvailable {
        tried: tried.join("; "),
        hint: platform::AUTO_HINT,
    })
}

/// An error and the causes it does not already quote, on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = cause.source();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(target_os = "linux")]
mod platform {
    use super::*;

    pub const AUTO_ORDER: &[StoreChoice] = &[StoreChoice::SecretService, StoreChoice::Keyutils];
    pub const AUTO_HINT: &str =
        "start a Secret Service in this session, or check that this kernel has keyrings (keyutils)";

    pub enum Backend {
        SecretService(secret_service::Service),
        Kernel(KernelStore),
    }

    /// A backend's failure: what went wrong, and what to do about it (with its separator).
    pub struct Failure {
        pub detail: String,
        pub hint: String,
    }

    impl From<kernel::Error> for Failure {
        fn from(e: kernel::Error) -> Self {
            let hint = match &e {
                // The quota message says what to do itself.
                kernel::Error::Quota | kernel::Error::NoCacheDir => String::new(),
                kernel::Error::Unsafe { .. } => {
                    "; keep your cache in a directory of your own (XDG_CACHE_HOME, HOME)".into()
                }
                kernel::Error::File { path, .. } => format!(
                    "; it must be yours alone: `sudo chown -R \"$USER\" {}` (after a `sudo mfa-env`?), or remove it",
                    path.parent().unwrap_or(path).display()
                ),
                kernel::Error::Kernel { .. } => {
                    "; check `keyctl show @u`, or use MFA_ENV_KEYRING=secret-service".into()
                }
            };
            Failure {
                detail: one_line(&e),
                hint,
            }
        }
    }

    impl From<secret_service::Failure> for Failure {
        fn from(e: secret_service::Failure) -> Self {
            let hint = match &e {
                secret_service::Failure::Locked { .. } => String::new(),
                secret_service::Failure::Other(_) => {
                    format!("; {}", hint(StoreChoice::SecretService))
                }
            };
            Failure {
                detail: one_line(&e),
                hint,
            }
        }
    }

    pub fn open(choice: StoreChoice, unlock: Unlock) -> Result<Backend, String> {
        match choice {
            StoreChoice::SecretService => {
                // Without a session bus there is nothing to ask; do not let libdbus guess.
                if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
                    return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
                }
                secret_service::Service::connect(unlock)
                    .map(Backend::SecretService)
                    .map_err(|e| one_line(&e))
            }
            StoreChoice::Keyutils => KernelStore::open().map(Backend::Kernel),
            other => Err(format!("{} is not available on Linux", other.name())),
        }
    }

    pub fn hint(choice: StoreChoice) -> &'static str {
        match choice {
            StoreChoice::SecretService => {
                "start a Secret Service (gnome-keyring-daemon, KWallet, KeePassXC) in this login session and unlock it, or set MFA_ENV_KEYRING=keyutils"
            }
            StoreChoice::Keyutils => {
                "this kernel gives the process no keyrings (a container without keyring access?); use MFA_ENV_KEYRING=secret-service"
            }
            _ => AUTO_HINT,
        }
    }

    impl Backend {
        pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
            match self {
                Backend::SecretService(ss) => match ss.get(item)? {
                    secret_service::Found::One(bytes) => Ok(Some(bytes)),
                    _ => Ok(None),
                },
                Backend::Kernel(k) => k.get(item).map_err(Failure::from),
            }
        }

        pub fn get_all(&self, item: &str) -> Result<Vec<Zeroizing<Vec<u8>>>, Failure> {
            match self {
                Backend::SecretService(ss) => Ok(ss.get_all(item)?),
                Backend::Kernel(k) => Ok(k.get(item)?.into_iter().collect()),
            }
        }

        pub fn set(
            &self,
            item: &str,
            value: &[u8],
            expires: Option<DateTime<Utc>>,
        ) -> Result<(), Failure> {
            match self {
                Backend::SecretService(ss) => {
                    Ok(ss.set(item, &format!("mfa-env: {item}"), value)?)
                }
                Backend::Kernel(k) => k.set(item, value, expires).map_err(Failure::from),
            }
        }

        pub fn delete(&self, item: &str) -> Result<bool, Failure> {
            match self {
                Backend::SecretService(ss) => Ok(ss.delete(item)?),
                Backend::Kernel(k) => k.delete(item).map_err(Failure::from),
            }
        }

        pub fn durability(&self, item: Option<&str>) -> Result<Durability, Failure> {
            match self {
                Backend::SecretService(ss) => Ok(ss.durability(item)?),
                Backend::Kernel(_) => Ok(Durability::Volatile(
                    "the kernel keyring, which is emptied at every reboot (and after 3 days unused)"
                        .into(),
                )),
            }
        }
    }

    /// The kernel store: the persistent keyring, and the vault in it once it is needed. A
    /// keyring the quota kept us from reaching reads as empty; writing then says why.
    pub struct KernelStore {
        home: Result<kernel::Home, kernel::Error>,
        /// The vault as first found (or made) by this process.
        vault: std::cell::OnceCell<kernel::Vault>,
        /// Whether that vault was abandoned: its directory was not safe to use.
        abandoned: std::cell::Cell<bool>,
        /// The vault made in place of an abandoned one.
        remade: std::cell::OnceCell<kernel::Vault>,
    }

    impl KernelStore {
        fn open() -> Result<Self, String> {
            let home = match kernel::home() {
                Err(kernel::Error::Quota) => Err(kernel::Error::Quota),
                other => Ok(other.map_err(|e| one_line(&e))?),
            };
            Ok(KernelStore {
                home,
                vault: std::cell::OnceCell::new(),
                abandoned: std::cell::Cell::new(false),
                remade: std::cell::OnceCell::new(),
            })
        }

        fn home(&self) -> Result<&kernel::Home, kernel::Error> {
            self.home.as_ref().map_err(|_| kernel::Error::Quota)
        }

        /// The vault, if one exists (reads never make one).
        fn found(&self) -> Result<Option<&kernel::Vault>, kernel::Error> {
            if let Some(v) = self.remade.get() {
                return Ok(Some(v));
            }
            if self.abandoned.get() {
                return Ok(None);
            }
            if let Some(v) = self.vault.get() {
                return Ok(Some(v));
            }
            let Ok(home) = self.home() else {
                return Ok(None);
            };
            Ok(kernel::Vault::find(home)?.map(|v| self.vault.get_or_init(|| v)))
        }

        /// The vault to write to: the one found, else a new one.
        fn made(&self) -> Result<&kernel::Vault, kernel::Error> {
            if let Some(v) = self.found()? {
                return Ok(v);
            }
            // Not the temporary directory: another user could own a directory on the way.
            let root = dirs::cache_dir()
                .ok_or(kernel::Error::NoCacheDir)?
                .join("mfa-env")
                .join(kernel::ROOT_NAME);
            let v = kernel::Vault::make(self.home()?, &root)?;
            Ok(if self.abandoned.get() {
                self.remade.get_or_init(|| v)
            } else {
                self.vault.get_or_init(|| v)
            })
        }

        /// Runs `op` on the vault; a vault whose directory turns out not to be safe is
        /// abandoned (see `Vault::abandon`) and `op` gets `None`, as if there were no vault.
        fn with_vault<T>(
            &self,
            vault: Option<&kernel::Vault>,
            op: impl Fn(Option<&kernel::Vault>) -> Result<T, kernel::Error>,
        ) -> Result<T, kernel::Error> {
            match op(vault) {
                Err(e @ kernel::Error::Unsafe { .. }) if !self.abandoned.get() => {
                    if let (Some(v), Ok(home)) = (vault, self.home()) {
                        v.abandon(home);
                    }
                    self.abandoned.set(true);
                    eprintln!(
                        "mfa-env: warning: the kernel keyring store is not used: {e}; its items are abandoned (never read again), and the next new session starts a new store"
                    );
                    op(None)
                }
                other => other,
            }
        }

        fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, kernel::Error> {
            let found = self.with_vault(self.found()?, |v| {
                v.map(|v| v.get(item)).transpose().map(Option::flatten)
            })?;
            if found.is_some() {
                return Ok(found);
            }
            // A long-term key from mfa-env 0.1's layout moves into the vault on first use.
            if !item.starts_with("long-term ") {
                return Ok(None);
            }
            let Some((bytes, old)) = self.home().ok().and_then(|h| kernel::legacy(h, item)) else {
                return Ok(None);
            };
            if self.set(item, &bytes, None).is_ok() {
                kernel::forget_legacy(old);
            }
            Ok(Some(bytes))
        }

        fn set(
            &self,
            item: &str,
            value: &[u8],
            expires: Option<DateTime<Utc>>,
        ) -> Result<(), kernel::Error> {
            let now = crate::clock::now();
            self.with_vault(Some(self.made()?), |v| match v {
                Some(v) => v.set(item, value, expires, now),
                // Abandoned: a new vault, in the cache directory of now.
                None => self.made()?.set(item, value, expires, now),
            })
        }

        fn delete(&self, item: &str) -> Result<bool, kernel::Error> {
            self.with_vault(self.found()?, |v| v.map_or(Ok(false), |v| v.delete(item)))
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::sync::Arc;

    use keyring_core::{CredentialStore, Error as KeyringError};

    use super::*;

    pub struct Backend(Arc<CredentialStore>);

    pub struct Failure {
        pub detail: String,
        pub hint: String,
    }

    impl From<KeyringError> for Failure {
        fn from(e: KeyringError) -> Self {
            Failure {
                detail: one_line(&e),
                hint: format!("; {AUTO_HINT}"),
            }
        }
    }

    #[cfg(target_os = "macos")]
    pub const AUTO_ORDER: &[StoreChoice] = &[StoreChoice::Keychain];
    #[cfg(target_os = "macos")]
    pub const AUTO_HINT: &str = "unlock the login Keychain";
    #[cfg(windows)]
    pub const AUTO_ORDER: &[StoreChoice] = &[StoreChoice::Windows];
    #[cfg(windows)]
    pub const AUTO_HINT: &str = "check that Credential Manager is running";

    pub fn hint(_choice: StoreChoice) -> &'static str {
        AUTO_HINT
    }

    /// The platform store; building an entry is where a store without access says so, so it
    /// is done once here rather than at the first real read. The platform stores prompt (or
    /// not) by themselves, so `_unlock` has nothing to bound.
    pub fn open(choice: StoreChoice, _unlock: Unlock) -> Result<Backend, String> {
        let store: Arc<CredentialStore> = match choice {
            #[cfg(target_os = "macos")]
            StoreChoice::Keychain => {
                apple_native_keyring_store::keychain::Store::new().map_err(|e| one_line(&e))?
            }
            #[cfg(windows)]
            StoreChoice::Windows => {
                windows_native_keyring_store::Store::new().map_err(|e| one_line(&e))?
            }
            other => return Err(format!("{} is not available here", other.name())),
        };
        store
            .build(SERVICE, "probe", None)
            .map_err(|e| one_line(&e))?;
        Ok(Backend(store))
    }

    impl Backend {
        fn entry(&self, item: &str) -> Result<keyring_core::Entry, Failure> {
            Ok(self.0.build(SERVICE, item, None)?)
        }

        pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, Failure> {
            match self.entry(item)?.get_secret() {
                Ok(bytes) => Ok(Some(Zeroizing::new(bytes))),
                Err(KeyringError::NoEntry | KeyringError::Ambiguous(_)) => Ok(None),
                Err(e) => Err(e.into()),
            }
        }

        pub fn get_all(&self, item: &str) -> Result<Vec<Zeroizing<Vec<u8>>>, Failure> {
            match self.entry(item)?.get_secret() {
                Ok(bytes) => Ok(vec![Zeroizing::new(bytes)]),
                Err(KeyringError::NoEntry) => Ok(Vec::new()),
                Err(KeyringError::Ambiguous(all)) => all
                    .iter()
                    .map(|e| Ok(Zeroizing::new(e.get_secret()?)))
                    .collect(),
                Err(e) => Err(e.into()),
            }
        }

        pub fn set(
            &self,
            item: &str,
            value: &[u8],
            _expires: Option<DateTime<Utc>>,
        ) -> Result<(), Failure> {
            let entry = self.entry(item)?;
            match entry.set_secret(value) {
                Ok(()) => Ok(()),
                Err(KeyringError::Ambiguous(duplicates)) => {
                    for d in duplicates {
                        let _ = d.delete_credential();
                    }
                    Ok(entry.set_secret(value)?)
                }
                Err(e) => Err(e.into()),
            }
        }

        pub fn delete(&self, item: &str) -> Result<bool, Failure> {
            match self.entry(item)?.delete_credential() {
                Ok(()) => Ok(true),
                Err(KeyringError::NoEntry) => Ok(false),
                Err(KeyringError::Ambiguous(duplicates)) => {
                    for d in duplicates {
                        d.delete_credential()?;
                    }
                    Ok(true)
                }
                Err(e) => Err(e.into()),
            }
        }

        pub fn durability(&self, _item: Option<&str>) -> Result<Durability, Failure> {
            Ok(Durability::Survives(
                "the platform keyring, which survives a reboot".into(),
            ))
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
compile_error!(
    "mfa-env caches secrets only in an OS keyring; this platform has none it supports (Linux, macOS, Windows)"
);

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_store_this_platform_lacks_is_an_error_not_a_substitute() {
        for choice in [StoreChoice::Keychain, StoreChoice::Windows] {
            let err = Store::open(choice, Unlock::NEVER)
                .err()
                .expect("must not open");
            assert!(
                err.to_string().contains("is not available on Linux"),
                "{err}"
            );
        }
    }
}
