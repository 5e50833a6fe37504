//! The OS keyring: which one, and reading, writing and deleting one item in it.
//!
//! Each store is built explicitly from its own crate; mfa-env never sets keyring-core's default
//! store, so no build can fall back to an in-memory mock that keeps nothing. On Linux, `auto`
//! prefers the Secret Service (it survives logout and reboot) and falls back to the kernel
//! keyring (keyutils), which lives as long as the login session. Items are opaque bytes here;
//! what they mean belongs to `cache` and `longterm`.

use std::sync::Arc;

use keyring_core::{CredentialStore, Entry, Error as KeyringError};
use zeroize::Zeroizing;

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
    /// The Linux kernel keyring: the session keyring, linked to the user's persistent keyring.
    Keyutils,
    /// The macOS login Keychain.
    Keychain,
    /// The Windows Credential Manager.
    Windows,
}

impl StoreChoice {
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

    #[error("the {store} refused to {op} item '{item}': {detail}; {hint}")]
    Access {
        store: &'static str,
        op: &'static str,
        item: String,
        detail: String,
        hint: &'static str,
    },
}

/// One opened keyring.
pub struct Store {
    choice: StoreChoice,
    backend: Backend,
}

/// The Secret Service is spoken to directly (see `secret_service` for why); every other store
/// through its keyring-core store crate.
enum Backend {
    Keyring(Arc<CredentialStore>),
    #[cfg(target_os = "linux")]
    SecretService(secret_service::Service),
}

impl Store {
    /// Opens the store `choice` names; `Auto` picks as described in the module doc.
    pub fn open(choice: StoreChoice) -> Result<Self, StoreError> {
        match choice {
            StoreChoice::Auto => open_auto(),
            explicit => platform::open(explicit)
                .map(|backend| Store {
                    choice: explicit,
                    backend,
                })
                .map_err(|detail| StoreError::Unavailable {
                    store: explicit.name(),
                    hint: hint(explicit),
                    detail,
                }),
        }
    }

    pub fn name(&self) -> &'static str {
        self.choice.name()
    }

    /// The item's bytes, or `None` when there is no such item (or more than one, which only
    /// another program could have made: treated as absent, and replaced on the next write).
    pub fn get(&self, item: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let keyring = match &self.backend {
            Backend::Keyring(k) => k,
            #[cfg(target_os = "linux")]
            Backend::SecretService(ss) => {
                return match ss.get(item) {
                    Ok(secret_service::Found::One(bytes)) => Ok(Some(bytes)),
                    Ok(_) => Ok(None),
                    Err(e) => Err(self.access_error("read", item, &e)),
                };
            }
        };
        match self.entry(keyring, item, "read")?.get_secret() {
            Ok(mut bytes) => {
                // keyutils reads into a 64 KiB buffer; wiping all of its capacity would touch
                // 16 fresh pages on every cached call. Keep an exact copy, wipe what was read.
                let secret = Zeroizing::new(bytes.to_vec());
                zeroize::Zeroize::zeroize(bytes.as_mut_slice());
                Ok(Some(secret))
            }
            Err(KeyringError::NoEntry | KeyringError::Ambiguous(_)) => Ok(None),
            Err(e) => Err(self.access_error("read", item, &e)),
        }
    }

    /// Creates or replaces the item. The stores replace in place (keyutils `add_key` swaps the
    /// payload atomically; the Secret Service updates the existing item), so a reader sees
    /// either the old value or the new one.
    pub fn set(&self, item: &str, value: &[u8]) -> Result<(), StoreError> {
        let keyring = match &self.backend {
            Backend::Keyring(k) => k,
            #[cfg(target_os = "linux")]
            Backend::SecretService(ss) => {
                return ss
                    .set(item, &format!("mfa-env: {item}"), value)
                    .map_err(|e| self.access_error("write", item, &e));
            }
        };
        let entry = self.entry(keyring, item, "write")?;
        match entry.set_secret(value) {
            Ok(()) => Ok(()),
            Err(KeyringError::Ambiguous(duplicates)) => {
                for d in duplicates {
                    let _ = d.delete_credential();
                }
                entry
                    .set_secret(value)
                    .map_err(|e| self.access_error("write", item, &e))
            }
            Err(e) => Err(self.access_error("write", item, &e)),
        }
    }

    /// Deletes the item; `Ok(false)` when it was not there.
    pub fn delete(&self, item: &str) -> Result<bool, StoreError> {
        let keyring = match &self.backend {
            Backend::Keyring(k) => k,
            #[cfg(target_os = "linux")]
            Backend::SecretService(ss) => {
                return ss
                    .delete(item)
                    .map_err(|e| self.access_error("delete", item, &e));
            }
        };
        match self.entry(keyring, item, "delete")?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KeyringError::NoEntry) => Ok(false),
            Err(KeyringError::Ambiguous(duplicates)) => {
                for d in duplicates {
                    d.delete_credential()
                        .map_err(|e| self.access_error("delete", item, &e))?;
                }
                Ok(true)
            }
            Err(e) => Err(self.access_error("delete", item, &e)),
        }
    }

    fn entry(
        &self,
        keyring: &Arc<CredentialStore>,
        item: &str,
        op: &'static str,
    ) -> Result<Entry, StoreError> {
        keyring
            .build(SERVICE, item, None)
            .map_err(|e| self.access_error(op, item, &e))
    }

    fn access_error(
        &self,
        op: &'static str,
        item: &str,
        e: &(dyn std::error::Error + 'static),
    ) -> StoreError {
        StoreError::Access {
            store: self.name(),
            op,
            item: item.to_owned(),
            detail: one_line(e),
            hint: hint(self.choice),
        }
    }
}

/// Building an entry is where a keyring-core store without access says so (keyutils without a
/// session keyring), so `open` does it once rather than letting the first real read fail later.
fn probed(store: Arc<CredentialStore>) -> Result<Backend, String> {
    store
        .build(SERVICE, "probe", None)
        .map_err(|e| one_line(&e))?;
    Ok(Backend::Keyring(store))
}

fn open_auto() -> Result<Store, StoreError> {
    let mut tried = Vec::new();
    for choice in platform::AUTO_ORDER {
        match platform::open(*choice) {
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

fn hint(choice: StoreChoice) -> &'static str {
    match choice {
        StoreChoice::SecretService => {
            "start a Secret Service (gnome-keyring-daemon, KWallet) in this login session and unlock it, or set MFA_ENV_KEYRING=keyutils"
        }
        StoreChoice::Keyutils => {
            "this process has no kernel session keyring (a shell without a login session, such as a root CI job); run under `keyctl session - <command>`, or use MFA_ENV_KEYRING=secret-service"
        }
        StoreChoice::Keychain => "unlock the login Keychain",
        StoreChoice::Windows => "check that Credential Manager is running",
        StoreChoice::Auto => platform::AUTO_HINT,
    }
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
    pub const AUTO_HINT: &str = "start a Secret Service in this session, or run under `keyctl session - <command>` so the kernel keyring is usable";

    pub fn open(choice: StoreChoice) -> Result<Backend, String> {
        match choice {
            StoreChoice::SecretService => {
                // Without a session bus there is nothing to ask; do not let libdbus guess.
                if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none_or(|a| a.is_empty()) {
                    return Err("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set)".into());
                }
                secret_service::Service::connect()
                    .map(Backend::SecretService)
                    .map_err(|e| one_line(&e))
            }
            StoreChoice::Keyutils => linux_keyutils_keyring_store::Store::new()
                .map_err(|e| one_line(&e))
                .and_then(|s| probed(s)),
            other => Err(format!("{} is not available on Linux", other.name())),
        }
    }
}

#[cfg(target_os = "macos")]
mod platform {
    use super::*;

    pub const AUTO_ORDER: &[StoreChoice] = &[StoreChoice::Keychain];
    pub const AUTO_HINT: &str = "unlock the login Keychain";

    pub fn open(choice: StoreChoice) -> Result<Backend, String> {
        match choice {
            StoreChoice::Keychain => apple_native_keyring_store::keychain::Store::new()
                .map_err(|e| one_line(&e))
                .and_then(|s| probed(s)),
            other => Err(format!("{} is not available on macOS", other.name())),
        }
    }
}

#[cfg(windows)]
mod platform {
    use super::*;

    pub const AUTO_ORDER: &[StoreChoice] = &[StoreChoice::Windows];
    pub const AUTO_HINT: &str = "check that Credential Manager is running";

    pub fn open(choice: StoreChoice) -> Result<Backend, String> {
        match choice {
            StoreChoice::Windows => windows_native_keyring_store::Store::new()
                .map_err(|e| one_line(&e))
                .and_then(|s| probed(s)),
            other => Err(format!("{} is not available on Windows", other.name())),
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
            let err = Store::open(choice).err().expect("must not open");
            assert!(
                err.to_string().contains("is not available on Linux"),
                "{err}"
            );
        }
    }
}
