//! The session cache: temporary credentials kept in the keyring, one item per scope (profile,
//! MFA serial, STS scope: the partition, or an explicit endpoint), recording which long-term key
//! made them. A role session assumed with an MFA session is kept the same way, under its role
//! profile, and records the MFA session's scope and key as its own: it is served only while
//! those still hold.
//!
//! A lookup is a single keyring read and never fails on bad data: an item that cannot be decoded,
//! belongs to another scope or key, or has too little time left is a miss, and the next good
//! session replaces it. The keyring cannot list its items, so an index item names every
//! session item written, for `clear --all` and `status`; writing a session also deletes the
//! items it makes obsolete (the profile's sessions for another device or role) and those that
//! have expired, so a store holds only what can still be served.

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::credentials::lock;
use crate::credentials::longterm::KeySource;
use crate::error::Error;
use crate::profile::config::{RoleChain, Settings};
use crate::secret::SessionCredentials;
use crate::store::{Store, StoreError};

const INDEX_ITEM: &str = "index";
/// The index's format; one without `v` (before 0.2.0) is format 1. A reader keeps the entries
/// it understands whatever the version (fields it does not know are ignored), so a later format
/// may only add fields: one that changes what a field means needs a new item name.
const INDEX_FORMAT: u32 = 1;
/// 2: scoped by partition, not by regional endpoint.
const FORMAT_VERSION: u32 = 2;

/// The keyring item that holds the session for this scope.
pub fn item_name(settings: &Settings) -> String {
    format!(
        "session profile={} serial={} scope={}",
        settings.profile,
        settings.serial,
        settings.scope()
    )
}

/// The item that holds the session of the chain's role number `hop` (0 is assumed first).
pub fn role_item_name(chain: &RoleChain, hop: usize) -> String {
    let h = &chain.hops[hop];
    format!(
        "role profile={} role_arn={} via {}",
        h.profile,
        h.role_arn,
        item_name(&chain.base)
    )
}

/// Which long-term key a session descends from; a role session records its MFA session's.
#[derive(Debug, Clone)]
pub struct Origin {
    pub key_source: KeySource,
    pub key_id: SecretString,
}

/// What makes a role session, besides the MFA session under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoleScope {
    pub profile: String,
    pub role_arn: String,
    /// Every setting of this role and the roles before it that shaped the session; a changed
    /// setting is a miss. It may hold an external id, so it is kept with the secrets and never
    /// listed.
    shape: String,
}

impl RoleScope {
    fn of(chain: &RoleChain, hop: usize) -> Self {
        let shape = chain.hops[..=hop]
            .iter()
            .map(|h| {
                format!(
                    "{} name={} external_id={} duration={} scope={}",
                    h.role_arn,
                    h.session_name.as_deref().unwrap_or("-"),
                    h.external_id.as_deref().unwrap_or("-"),
                    h.duration_seconds,
                    h.sts.scope()
                )
            })
            .collect::<Vec<_>>()
            .join(" | ");
        let h = &chain.hops[hop];
        RoleScope {
            profile: h.profile.clone(),
            role_arn: h.role_arn.clone(),
            shape,
        }
    }
}

/// What is stored, minus the secrets: also what `status` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scope {
    pub profile: String,
    pub serial: String,
    /// The partition (with ` fips`), or the explicit endpoint, the session is valid for.
    pub sts_scope: String,
    pub key_source: KeySource,
}

#[derive(Deserialize)]
struct Stored {
    v: u32,
    #[serde(flatten)]
    scope: Scope,
    key_id: SecretString,
    access_key_id: SecretString,
    secret_access_key: SecretString,
    session_token: SecretString,
    expiration: DateTime<Utc>,
    #[serde(default)]
    role: Option<RoleScope>,
}

#[derive(Serialize)]
struct StoredRef<'a> {
    v: u32,
    #[serde(flatten)]
    scope: &'a Scope,
    key_id: &'a str,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    session_token: &'a str,
    expiration: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'a RoleScope>,
}

/// True while more than `min_remaining_seconds` of the session remain.
pub fn servable(expiration: DateTime<Utc>, now: DateTime<Utc>, min_remaining_seconds: u32) -> bool {
    expiration - now > TimeDelta::seconds(i64::from(min_remaining_seconds))
}

/// The cached session for this scope, if one is there and may be served now, and the key it
/// descends from (which a role session assumed with it records).
pub fn lookup(
    store: &Store,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Option<(SessionCredentials, Origin)>, StoreError> {
    Ok(store
        .get(&item_name(settings))?
        .and_then(|bytes| servable_stored(&bytes, settings, now))
        .map(Stored::split))
}

/// The cached session of the chain's role number `hop`, if one is there and may be served now,
/// and the key its MFA session descends from.
pub fn lookup_role(
    store: &Store,
    chain: &RoleChain,
    hop: usize,
    now: DateTime<Utc>,
) -> Result<Option<(SessionCredentials, Origin)>, StoreError> {
    let expected = RoleScope::of(chain, hop);
    let margin = chain.hops[hop].min_remaining_seconds;
    Ok(store
        .get(&role_item_name(chain, hop))?
        .and_then(|bytes| decode(&bytes))
        .filter(|s| {
            s.role.as_ref() == Some(&expected)
                && descends(s, &chain.base)
                && servable(s.expiration, now, margin)
        })
        .map(Stored::split))
}

/// The whole decision on a stored item's bytes: the session they hold, if they decode, belong
/// to this scope and key, and have enough time left. Any bytes at all give an answer; none panic.
pub fn servable_entry(
    bytes: &[u8],
    settings: &Settings,
    now: DateTime<Utc>,
) -> Option<SessionCredentials> {
    servable_stored(bytes, settings, now).map(|s| s.split().0)
}

fn servable_stored(bytes: &[u8], settings: &Settings, now: DateTime<Utc>) -> Option<Stored> {
    decode(bytes).filter(|s| {
        s.role.is_none()
            && descends(s, settings)
            && servable(s.expiration, now, settings.min_remaining_seconds)
    })
}

impl Stored {
    fn split(self) -> (SessionCredentials, Origin) {
        (
            SessionCredentials {
                access_key_id: self.access_key_id,
                secret_access_key: self.secret_access_key,
                session_token: self.session_token,
                expiration: self.expiration,
            },
            Origin {
                key_source: self.scope.key_source,
                key_id: self.key_id,
            },
        )
    }
}

fn decode(bytes: &[u8]) -> Option<Stored> {
    serde_json::from_slice::<Stored>(bytes)
        .ok()
        .filter(|s| s.v == FORMAT_VERSION)
}

/// Whether the stored session comes from this profile's MFA scope and current long-term key.
fn descends(s: &Stored, settings: &Settings) -> bool {
    let same_scope = s.scope.profile == settings.profile
        && s.scope.serial == settings.serial.as_str()
        && s.scope.sts_scope == settings.scope();
    // A key from a source profile can be compared for free; a keyring key is only replaced by
    // `mfa-env add`, which clears the profile's sessions (and the role sessions made from them).
    let same_key = match &s.scope.key_source {
        KeySource::Keyring => true,
        KeySource::Profile(name) => settings.source_profile.as_ref().is_some_and(|src| {
            &src.name == name
                && src
                    .access_key_id
                    .as_ref()
                    .is_some_and(|id| id.expose_secret() == s.key_id.expose_secret())
        }),
        // Running a password manager on every call would cost seconds, and perhaps a prompt:
        // the session serves while the profile still takes its key from that process. A key
        // rotated there is used from the next miss on.
        KeySource::Process(name) => settings.source_profile.as_ref().is_some_and(|src| {
            &src.name == name && src.access_key_id.is_none() && src.credential_process.is_some()
        }),
    };
    same_scope && same_key
}

/// Stores a new session for this scope, replacing the old one, and records it in the index.
pub fn save(
    store: &Store,
    settings: &Settings,
    origin: &Origin,
    creds: &SessionCredentials,
) -> Result<(), Error> {
    let entry = Entry {
        item: item_name(settings),
        profile: settings.profile.clone(),
        base: None,
        role: None,
    };
    write(store, settings, origin, creds, entry)
}

/// Stores a new session for the chain's role number `hop`, which `origin`'s MFA session (or a
/// role assumed with it) was used for.
pub fn save_role(
    store: &Store,
    chain: &RoleChain,
    hop: usize,
    origin: &Origin,
    creds: &SessionCredentials,
) -> Result<(), Error> {
    let entry = Entry {
        item: role_item_name(chain, hop),
        profile: chain.hops[hop].profile.clone(),
        base: Some(chain.base.profile.clone()),
        role: Some(RoleScope::of(chain, hop)),
    };
    write(store, &chain.base, origin, creds, entry)
}

struct Entry {
    item: String,
    profile: String,
    base: Option<String>,
    role: Option<RoleScope>,
}

fn write(
    store: &Store,
    base: &Settings,
    origin: &Origin,
    creds: &SessionCredentials,
    entry: Entry,
) -> Result<(), Error> {
    let scope = Scope {
        profile: base.profile.clone(),
        serial: base.serial.to_string(),
        sts_scope: base.scope(),
        key_source: origin.key_source.clone(),
    };
    let json = Zeroizing::new(
        serde_json::to_vec(&StoredRef {
            v: FORMAT_VERSION,
            scope: &scope,
            key_id: origin.key_id.expose_secret(),
            access_key_id: creds.access_key_id.expose_secret(),
            secret_access_key: creds.secret_access_key.expose_secret(),
            session_token: creds.session_token.expose_secret(),
            expiration: creds.expiration,
            role: entry.role.as_ref(),
        })
        .expect("serializing strings cannot fail"),
    );
    store.set(&entry.item, &json, Some(creds.expiration))?;
    let _index_lock = lock::index()?;
    let mut index = read_index(store)?;
    let new = IndexEntry {
        item: entry.item,
        profile: entry.profile,
        base: entry.base,
        serial: Some(base.serial.to_string()),
        role_arn: entry.role.map(|r| r.role_arn),
        expires: Some(creds.expiration),
    };
    let now = crate::clock::now();
    let (gone, mut kept): (Vec<_>, Vec<_>) = index
        .items
        .into_iter()
        .partition(|e| e.item == new.item || e.replaced_by(&new) || e.expired(now));
    for e in gone.iter().filter(|e| e.item != new.item) {
        store.delete(&e.item)?;
    }
    kept.push(new);
    index.items = kept;
    write_index(store, &index)?;
    Ok(())
}

/// One cached session as `status` reports it: never a secret.
#[derive(Debug)]
pub struct Listed {
    /// The MFA session's scope (for a role session, the one it was assumed with).
    pub scope: Scope,
    /// For a role session: its role profile and role ARN.
    pub role: Option<(String, String)>,
    pub expiration: DateTime<Utc>,
}

/// Every readable session the index knows of, optionally for one profile (and its roles). Unreadable items are
/// left out: they are misses, and `clear` removes them.
pub fn list(store: &Store, profile: Option<&str>) -> Result<Vec<Listed>, StoreError> {
    let mut out = Vec::new();
    for e in read_index(store)?.items {
        if profile.is_some_and(|p| !e.belongs_to(p)) {
            continue;
        }
        if let Some(s) = store.get(&e.item)?.and_then(|b| decode(&b)) {
            out.push(Listed {
                role: s.role.map(|r| (r.profile, r.role_arn)),
                scope: s.scope,
                expiration: s.expiration,
            });
        }
    }
    Ok(out)
}

/// Deletes the cached sessions of `profile` and the role sessions assumed with them (every
/// profile's when `None`); returns how many.
pub fn clear(store: &Store, profile: Option<&str>, also: Option<&str>) -> Result<usize, Error> {
    let _index_lock = lock::index()?;
    let mut index = read_index(store)?;
    let (gone, kept): (Vec<_>, Vec<_>) = index
        .items
        .into_iter()
        .partition(|e| profile.is_none_or(|p| e.belongs_to(p)));
    let mut deleted = 0;
    for e in &gone {
        deleted += usize::from(store.delete(&e.item)?);
    }
    // The scope's own item, in case the index lost track of it.
    if let Some(item) = also
        && !gone.iter().any(|e| e.item == item)
    {
        deleted += usize::from(store.delete(item)?);
    }
    index.items = kept;
    if index.items.is_empty() {
        store.delete(INDEX_ITEM)?;
    } else {
        write_index(store, &index)?;
    }
    Ok(deleted)
}

#[derive(Debug, Serialize, Deserialize)]
struct Index {
    #[serde(default = "index_format_1")]
    v: u32,
    items: Vec<IndexEntry>,
}

impl Default for Index {
    fn default() -> Self {
        Index {
            v: INDEX_FORMAT,
            items: Vec::new(),
        }
    }
}

fn index_format_1() -> u32 {
    1
}

#[derive(Debug, Serialize, Deserialize)]
struct IndexEntry {
    item: String,
    profile: String,
    /// For a role session: the mfa-env profile whose session assumed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base: Option<String>,
    /// The MFA device of the session (for a role: of the MFA session under it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires: Option<DateTime<Utc>>,
}

impl IndexEntry {
    /// A profile's sessions are its own and, for an mfa-env profile, the roles assumed with them.
    fn belongs_to(&self, profile: &str) -> bool {
        self.profile == profile || self.base.as_deref() == Some(profile)
    }

    /// A session of the same profile and kind for another device or role can never be served
    /// again once the profile names the new one. Another scope (an explicit endpoint, FIPS) may
    /// still be in use beside it, so it stays.
    fn replaced_by(&self, new: &IndexEntry) -> bool {
        self.profile == new.profile
            && self.base.is_some() == new.base.is_some()
            && (self.serial != new.serial || self.role_arn != new.role_arn)
    }

    fn expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }
}

/// An unreadable index is treated as empty: it only names items, it holds nothing of value.
/// Two index items (created at once by processes that shared no lock: an older mfa-env beside
/// this one) are read as one, the union of their entries, and the next write leaves one item:
/// no entry is lost to the race, so `clear` and a key change still find every session.
fn read_index(store: &Store) -> Result<Index, StoreError> {
    let mut index = Index::default();
    for bytes in store.get_all(INDEX_ITEM)? {
        let Ok(part) = serde_json::from_slice::<Index>(&bytes) else {
            continue;
        };
        for entry in part.items {
            match index.items.iter_mut().find(|e| e.item == entry.item) {
                // The later expiry: an entry is pruned once expired, and must not be early.
                Some(known) => known.expires = known.expires.max(entry.expires),
                None => index.items.push(entry),
            }
        }
    }
    Ok(index)
}

fn write_index(store: &Store, index: &Index) -> Result<(), StoreError> {
    store.set(
        INDEX_ITEM,
        &serde_json::to_vec(index).expect("serializing strings cannot fail"),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap()
    }

    #[test]
    fn served_only_with_more_than_the_margin_left() {
        let exp = at(3600);
        assert!(servable(exp, at(0), 900));
        assert!(servable(exp, at(2699), 900));
        assert!(
            !servable(exp, at(2700), 900),
            "exactly 15 minutes left is a miss"
        );
        assert!(!servable(exp, at(3600), 900));
        assert!(!servable(exp, at(99_999), 0));
        assert!(servable(exp, at(3599), 0));
    }

    #[test]
    fn garbage_and_other_versions_do_not_decode() {
        assert!(decode(b"").is_none());
        assert!(decode(b"not json").is_none());
        assert!(decode(b"{\"v\":1}").is_none());
        let good = serde_json::json!({
            "v": 2, "profile": "p", "serial": "GAHT12345678", "sts_scope": "aws",
            "key_source": "keyring", "key_id": "AKIA", "access_key_id": "ASIA",
            "secret_access_key": "s", "session_token": "t", "expiration": "2030-01-01T00:00:00Z"
        });
        assert!(decode(good.to_string().as_bytes()).is_some());
        let mut future = good.clone();
        future["v"] = 3.into();
        assert!(decode(future.to_string().as_bytes()).is_none());
    }

    #[test]
    fn the_index_carries_its_format_and_reads_the_first_one() {
        let written = serde_json::to_string(&Index::default()).unwrap();
        assert_eq!(written, r#"{"v":1,"items":[]}"#);
        // 0.1.0 wrote no `v`; a later format's added fields are ignored, its entries kept.
        let old: Index = serde_json::from_str(r#"{"items":[{"item":"a","profile":"p"}]}"#).unwrap();
        assert_eq!((old.v, old.items.len()), (1, 1));
        let later: Index =
            serde_json::from_str(r#"{"v":2,"new":0,"items":[{"item":"a","profile":"p","x":1}]}"#)
                .unwrap();
        assert_eq!(later.items.len(), 1);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Instants across chrono's range, in seconds.
        fn instant() -> impl Strategy<Value = DateTime<Utc>> {
            (-8_000_000_000_000_i64..8_000_000_000_000)
                .prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
        }

        proptest! {
            #[test]
            fn served_means_more_than_the_margin_left(exp in instant(), now in instant(), margin in any::<u32>()) {
                let served = servable(exp, now, margin);
                prop_assert_eq!(served, exp.timestamp() - now.timestamp() > i64::from(margin));
            }

            #[test]
            fn a_session_stops_being_served_and_never_comes_back(
                exp in instant(), now in instant(), later in 0_i64..10_000_000, margin in any::<u32>()
            ) {
                let after = now + TimeDelta::seconds(later);
                prop_assert!(!servable(exp, now, margin) <= !servable(exp, after, margin));
            }

            #[test]
            fn a_smaller_margin_never_refuses_what_a_larger_one_serves(
                exp in instant(), now in instant(), a in any::<u32>(), b in any::<u32>()
            ) {
                let (small, large) = (a.min(b), a.max(b));
                prop_assert!(servable(exp, now, large) <= servable(exp, now, small));
            }
        }
    }
}
