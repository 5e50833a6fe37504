//! The IAM user's long-term access key, which signs `GetSessionToken`. First found: the keyring
//! item written by `mfa-env add`, then the static keys of `mfa_env_source_profile`, then what
//! that profile's `credential_process` prints (`key_process`). A temporary
//! key is refused here, before any prompt or network call: STS would reject it only after the
//! user had spent a code.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::profile::config::{Settings, SourceProfile};
use crate::secret::LongTermKey;
use crate::store::Store;

/// Where a long-term key came from; recorded with each cached session so that a session made
/// with one key is never served after the key changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    Keyring,
    Profile(String),
    /// Printed by the `credential_process` of this profile (added in 0.3: an older mfa-env
    /// cannot read a session recorded with it, and takes it for a miss).
    Process(String),
}

impl KeySource {
    pub fn describe(&self) -> String {
        match self {
            KeySource::Keyring => "stored by `mfa-env add`".to_owned(),
            KeySource::Profile(p) => format!("static keys of profile '{p}'"),
            KeySource::Process(p) => format!("printed by the credential_process of profile '{p}'"),
        }
    }
}

pub fn item_name(profile: &str) -> String {
    format!("long-term profile={profile}")
}

/// The long-term key item's format (`v`, since the first release).
const KEY_FORMAT: u32 = 1;

#[derive(Deserialize)]
struct StoredKey {
    #[serde(default = "key_format_1")]
    v: u32,
    access_key_id: SecretString,
    secret_access_key: SecretString,
}

fn key_format_1() -> u32 {
    1
}

#[derive(Serialize)]
struct StoredKeyRef<'a> {
    v: u32,
    access_key_id: &'a str,
    secret_access_key: &'a str,
}

/// The key pair `mfa-env add` (or `setup`) stored for the profile, if there is one.
pub fn stored(store: &Store, profile: &str) -> Result<Option<LongTermKey>> {
    let Some(bytes) = store.get(&item_name(profile))? else {
        return Ok(None);
    };
    decode(&bytes)
        .map(Some)
        .map_err(|problem| Error::BadSourceProfile {
            profile: profile.to_owned(),
            source_profile: format!("the {} item '{}'", store.name(), item_name(profile)),
            problem,
        })
}

/// The key in a stored item's bytes, or what is wrong with them.
fn decode(bytes: &[u8]) -> std::result::Result<LongTermKey, &'static str> {
    let stored: StoredKey = serde_json::from_slice(bytes).map_err(|_| "cannot be read")?;
    // A later format may mean something else by the same fields: never sign with a guess.
    if stored.v != KEY_FORMAT {
        return Err(
            "was stored by a newer mfa-env in a format this one cannot read (use that version)",
        );
    }
    Ok(LongTermKey {
        access_key_id: stored.access_key_id,
        secret_access_key: stored.secret_access_key,
    })
}

/// Finds the long-term key for `settings.profile` and checks that it is one; a source
/// profile's credential_process is run for it.
pub fn resolve(store: &Store, settings: &Settings) -> Result<(LongTermKey, KeySource)> {
    match find(store, settings)? {
        Found::Key(key, source) => Ok((key, source)),
        Found::Process(src, command) => {
            let key = crate::credentials::key_process::run(src, command, &settings.profile)?;
            Ok((key, KeySource::Process(src.name.clone())))
        }
    }
}

/// Where the long-term key for `settings.profile` comes from, without running a
/// credential_process (`doctor` must not start a password manager to say where a key is).
pub fn locate(store: &Store, settings: &Settings) -> Result<KeySource> {
    Ok(match find(store, settings)? {
        Found::Key(_, source) => source,
        Found::Process(src, _) => KeySource::Process(src.name.clone()),
    })
}

/// A key found, or the credential_process that prints it.
enum Found<'a> {
    Key(LongTermKey, KeySource),
    Process(&'a SourceProfile, &'a str),
}

fn find<'a>(store: &Store, settings: &'a Settings) -> Result<Found<'a>> {
    let profile = &settings.profile;
    if let Some(key) = stored(store, profile)? {
        ensure_long_term(&key, false, profile, &KeySource::Keyring)?;
        return Ok(Found::Key(key, KeySource::Keyring));
    }
    let Some(src) = &settings.source_profile else {
        return Err(Error::NoLongTermKey {
            profile: profile.clone(),
        });
    };
    let bad = |problem| Error::BadSourceProfile {
        profile: profile.clone(),
        source_profile: src.name.clone(),
        problem,
    };
    if !src.found {
        return Err(bad("does not exist"));
    }
    if let Some(key) = static_key(src, profile)? {
        return Ok(Found::Key(key, KeySource::Profile(src.name.clone())));
    }
    match &src.credential_process {
        Some(command) => Ok(Found::Process(src, command)),
        None => Err(bad(
            "has neither aws_access_key_id and aws_secret_access_key nor a credential_process",
        )),
    }
}

/// The static key pair of a profile in the files, if it has one; a temporary pair is refused
/// for `profile`, which would have used it.
pub fn static_key(src: &SourceProfile, profile: &str) -> Result<Option<LongTermKey>> {
    let (Some(id), Some(secret)) = (&src.access_key_id, &src.secret_access_key) else {
        return Ok(None);
    };
    let key = LongTermKey {
        access_key_id: id.clone(),
        secret_access_key: secret.clone(),
    };
    let source = KeySource::Profile(src.name.clone());
    ensure_long_term(&key, src.has_session_token, profile, &source)?;
    Ok(Some(key))
}

/// `ASIA…` ids and keys that come with a session token are temporary credentials.
pub fn ensure_long_term(
    key: &LongTermKey,
    has_session_token: bool,
    profile: &str,
    source: &KeySource,
) -> Result<()> {
    let why = if has_session_token {
        Some("it comes with an aws_session_token")
    } else if key.access_key_id.expose_secret().starts_with("ASIA") {
        Some("its id starts with ASIA")
    } else {
        None
    };
    match why {
        None => Ok(()),
        Some(why) => Err(Error::TemporaryKey {
            profile: profile.to_owned(),
            origin: source.describe(),
            why,
            fix: match source {
                KeySource::Process(q) => format!(
                    "make the credential_process of '{q}' print that key, without a SessionToken"
                ),
                _ => format!("store it with `mfa-env add -p {profile}`"),
            },
        }),
    }
}

/// Checks the shape of a key pair typed or piped to `mfa-env add`.
pub fn validate_new(key: &LongTermKey, profile: &str) -> Result<()> {
    let id = key.access_key_id.expose_secret();
    let secret = key.secret_access_key.expose_secret();
    let bad = |what: &'static str, expected: &'static str| Error::Stdin {
        what,
        why: format!("{expected} (profile '{profile}')"),
    };
    if !(16..=128).contains(&id.len())
        || !id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(bad(
            "the access key id",
            "expected 16 to 128 upper-case letters and digits, like AKIAIOSFODNN7EXAMPLE",
        ));
    }
    if secret.len() < 16
        || secret
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(bad(
            "the secret access key",
            "expected at least 16 characters without spaces",
        ));
    }
    ensure_long_term(key, false, profile, &KeySource::Keyring)
}

/// Stores the pair for `mfa-env add` and `setup`, and deletes the previous key's copy in
/// mfa-env 0.1's kernel layout, which would otherwise come back whenever the kernel store is
/// read for this profile without a key of its own there (another `--keyring`, or `auto` where
/// no Secret Service answers). `true` when there was such a copy.
pub fn store_key(store: &Store, profile: &str, key: &LongTermKey) -> Result<bool> {
    let json = Zeroizing::new(
        serde_json::to_vec(&StoredKeyRef {
            v: KEY_FORMAT,
            access_key_id: key.access_key_id.expose_secret(),
            secret_access_key: key.secret_access_key.expose_secret(),
        })
        .expect("serializing two strings cannot fail"),
    );
    store.set(&item_name(profile), &json, None)?;
    Ok(delete_legacy(profile))
}

pub fn delete_key(store: &Store, profile: &str) -> Result<bool> {
    Ok(store.delete(&item_name(profile))?)
}

/// Deletes the copy mfa-env 0.1 kept in the kernel keyring, if there is one: it would be moved
/// back into the kernel store and signed with on the next call.
pub fn delete_legacy(profile: &str) -> bool {
    crate::store::delete_legacy(&item_name(profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> LongTermKey {
        LongTermKey {
            access_key_id: id.into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        }
    }

    #[test]
    fn stored_keys_of_format_1_are_read_and_later_formats_refused() {
        let v1 = r#"{"v":1,"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"s"}"#;
        let read = decode(v1.as_bytes()).unwrap();
        assert_eq!(read.access_key_id.expose_secret(), "AKIAIOSFODNN7EXAMPLE");
        // Written before `v` was checked: the same format.
        assert!(
            decode(br#"{"access_key_id":"AKIAIOSFODNN7EXAMPLE","secret_access_key":"s"}"#).is_ok()
        );
        let Err(e) = decode(v1.replace("\"v\":1", "\"v\":2").as_bytes()) else {
            panic!("a later format is refused");
        };
        assert!(e.contains("newer mfa-env"), "{e}");
        let written = serde_json::to_string(&StoredKeyRef {
            v: KEY_FORMAT,
            access_key_id: "AKIAIOSFODNN7EXAMPLE",
            secret_access_key: "s",
        })
        .unwrap();
        assert!(written.starts_with(r#"{"v":1,"#), "{written}");
    }

    #[test]
    fn temporary_keys_are_refused() {
        let src = KeySource::Profile("base".into());
        assert!(ensure_long_term(&key("AKIAIOSFODNN7EXAMPLE"), false, "dev", &src).is_ok());
        let e = ensure_long_term(&key("ASIAIOSFODNN7EXAMPLE"), false, "dev", &src).unwrap_err();
        assert!(e.to_string().contains("starts with ASIA"), "{e}");
        let e = ensure_long_term(&key("AKIAIOSFODNN7EXAMPLE"), true, "dev", &src).unwrap_err();
        assert!(e.to_string().contains("aws_session_token"), "{e}");
        assert!(!e.to_string().contains("AKIAIOSFODNN7EXAMPLE"));
    }

    #[test]
    fn new_keys_are_checked_for_shape() {
        assert!(validate_new(&key("AKIAIOSFODNN7EXAMPLE"), "dev").is_ok());
        for bad in [
            "",
            "akiaiosfodnn7example",
            "AKIA 1234567890123",
            "ASIAIOSFODNN7EXAMPLE",
        ] {
            assert!(validate_new(&key(bad), "dev").is_err(), "{bad}");
        }
        let short_secret = LongTermKey {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "short".into(),
        };
        assert!(validate_new(&short_secret, "dev").is_err());
    }
}
