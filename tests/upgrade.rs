//! Upgrades, and two versions on one keyring (README, "Upgrading"). A credential helper is often
//! installed twice (a package in /usr/bin, an older `cargo install` in ~/.cargo/bin): whichever
//! runs, the other must still serve its session without a code.
//!
//! Two kinds of evidence: the previous release's exact item bytes, captured once
//! (`tests/fixtures/upgrade/capture` says how), planted and served by today's binary as at the
//! moment they were captured (`MFA_ENV_TEST_NOW`, read by test builds only); and the previous
//! release itself, built from git by `scripts/build-previous`, run side by side with today's
//! against moto.
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;

/// The previous release's binary, as `scripts/build-previous` leaves it.
fn previous_bin() -> PathBuf {
    let bin = repo().join("target/previous/0.1.0-6bc692790379/mfa-env-0.1.0");
    assert!(
        bin.exists(),
        "{} is missing: run scripts/build-previous (scripts/test does)",
        bin.display()
    );
    bin
}

fn fixture() -> serde_json::Value {
    let path = repo().join("tests/fixtures/upgrade/0.1.0.json");
    serde_json::from_str(&std::fs::read_to_string(&path).expect("the 0.1.0 fixture")).unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
        .collect()
}

fn str_of<'a>(v: &'a serde_json::Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("fixture: no {key}"))
}

/// The kernel store's item directory for the fixture's vault, in this test bed's cache.
fn fixture_vault_dir(f: &serde_json::Value) -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .expect("XDG_CACHE_HOME is set by scripts/with-test-keyring: run `scripts/test`");
    PathBuf::from(cache)
        .join("mfa-env")
        .join(mfa_env::store::kernel::ROOT_NAME)
        .join(str_of(&f["kernel"], "vault_dir"))
}

/// Puts the fixture's items in the bed's keyring, byte for byte: the Secret Service items with
/// their labels and attributes, or the kernel store's vault key (its item directory moved to
/// this bed's cache) and sealed files.
fn plant_fixture(keyring: Keyring, f: &serde_json::Value) {
    match keyring {
        Keyring::SecretService => {
            use dbus_secret_service::{EncryptionType, SecretService};
            let ss = SecretService::connect(EncryptionType::Plain)
                .expect("the test bed's Secret Service");
            let collection = ss.get_default_collection().unwrap();
            for item in f["secret_service"].as_array().unwrap() {
                let attributes = item["attributes"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
                    .collect();
                collection
                    .create_item(
                        str_of(item, "label"),
                        attributes,
                        str_of(item, "secret").as_bytes(),
                        true,
                        "application/octet-stream",
                    )
                    .expect("plant a 0.1.0 Secret Service item");
            }
        }
        Keyring::Keyutils => {
            let dir = fixture_vault_dir(f);
            let mut payload = unhex(str_of(&f["kernel"], "vault_head_hex"));
            payload.extend_from_slice(dir.as_os_str().as_encoded_bytes());
            let persistent = Command::new(system_bin("keyctl"))
                .args(["get_persistent", "@s"])
                .output()
                .unwrap();
            assert!(persistent.status.success(), "keyctl get_persistent");
            let ring = String::from_utf8(persistent.stdout).unwrap();
            let mut padd = Command::new(system_bin("keyctl"))
                .args(["padd", "user", "mfa-env:vault", ring.trim()])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .spawn()
                .unwrap();
            padd.stdin.take().unwrap().write_all(&payload).unwrap();
            assert!(padd.wait().unwrap().success(), "keyctl padd the vault key");
            use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .unwrap();
            for file in f["kernel"]["files"].as_array().unwrap() {
                let path = dir.join(str_of(file, "name"));
                std::fs::write(&path, unhex(str_of(file, "hex"))).unwrap();
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
        }
    }
}

/// The session item's stored bytes, read with the store's own tools.
fn session_bytes(keyring: Keyring, item: &str) -> Vec<u8> {
    match keyring {
        Keyring::SecretService => {
            let out = Command::new(system_bin("secret-tool"))
                .args(["lookup", "service", "mfa-env", "username", item])
                .output()
                .unwrap();
            assert!(out.status.success(), "secret-tool lookup {item}");
            out.stdout
        }
        Keyring::Keyutils => mfa_env::store::Store::open(
            mfa_env::store::StoreChoice::Keyutils,
            mfa_env::store::Unlock::NEVER,
        )
        .expect("open the kernel keyring store")
        .get(item)
        .expect("read the kernel keyring store")
        .unwrap_or_else(|| panic!("no item {item}"))
        .to_vec(),
    }
}

/// A bed for the fixture's profile: its serial and endpoint, no long-term key in the files
/// (the fixture's is in the keyring).
fn fixture_bed(keyring: Keyring, f: &serde_json::Value) -> Bed {
    let mut bed = Bed::new(keyring, "upgrade-fixture", str_of(f, "endpoint"));
    bed.profile = str_of(f, "profile").to_owned();
    bed.serial = str_of(f, "serial").to_owned();
    bed.write_config(&format!("mfa_serial = {}\n", bed.serial));
    std::fs::write(bed.credentials_path(), "").unwrap();
    bed
}

/// The previous release's session is served by this one without a code or a call, as at the
/// moment it was captured, its stored bytes left as they were; its index is read (`status`);
/// its long-term key signs this version's next GetSessionToken.
fn previous_release_items_are_served(keyring: Keyring) {
    // The fixture's names are fixed, and its kernel vault becomes the bed's.
    let _k = exclusive();
    let f = fixture();
    plant_fixture(keyring, &f);
    let mut bed = fixture_bed(keyring, &f);
    let captured: chrono::DateTime<chrono::Utc> = str_of(&f, "captured_at").parse().unwrap();
    bed.set_env(
        "MFA_ENV_TEST_NOW",
        &(captured + chrono::TimeDelta::seconds(60)).to_rfc3339(),
    );
    let item = bed.session_item();
    let before = session_bytes(keyring, &item);

    // Nothing listens at the fixture's endpoint: a served session is the cached one.
    let served = bed.run(&["--format", "process"], None);
    served.ok();
    let json = served.json();
    let expected = &f["served"][keyring.arg()];
    assert_eq!(json["AccessKeyId"], expected["AccessKeyId"], "{json}");
    assert_eq!(json["Expiration"], expected["Expiration"], "{json}");
    assert_eq!(
        session_bytes(keyring, &item),
        before,
        "the 0.1.0 item is left as it was"
    );

    let rows = bed.run(&["status", "--json"], None);
    rows.ok();
    let rows = rows.json();
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["profile"], str_of(&f, "profile"), "{rows}");

    // At another endpoint the cached session is not for that scope: the stored 0.1.0
    // long-term key signs a new GetSessionToken.
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let mut bed = fixture_bed(keyring, &f);
    bed.endpoint = standin.url.clone();
    bed.run(&["--format", "process", "--token-code", "654321"], None)
        .ok();
    let key_id = str_of(&f, "long_term_key_id");
    assert!(
        standin
            .log()
            .lines()
            .any(|l| l.contains("GetSessionToken") && l.ends_with(&format!("by={key_id}"))),
        "GetSessionToken signed with the 0.1.0 long-term key {key_id}:\n{}",
        standin.log()
    );
}

/// Exit status of a run, failing the test on a crash: killed by a signal, or a panic.
fn no_crash(out: &Out, what: &str) {
    assert!(
        out.code.is_some(),
        "{what} was killed by a signal: {}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked: {}",
        out.stderr
    );
}

/// Today's binary and the previous release on one keyring: each serves the other's session
/// without a code, and the previous one, run against today's items, crashes on nothing and
/// spoils nothing.
fn previous_and_current_side_by_side(keyring: Keyring) {
    let previous = previous_bin();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(keyring, "side-by-side", &moto.url);
    let run_previous = |args: &[&str]| {
        let mut cmd = Command::new(&previous);
        cmd.args(args).arg("--profile").arg(&bed.profile);
        bed.run_cmd(cmd, None)
    };

    // The previous release makes the session; today's serves it, with no call.
    let made = run_previous(&["--format", "process", "--token-code", "111111"]);
    made.ok();
    let calls = moto.calls();
    let served = bed.run(&["--format", "process"], None);
    served.ok();
    assert_eq!(served.json()["Expiration"], made.json()["Expiration"]);
    assert_eq!(moto.calls(), calls, "today's binary served 0.1.0's session");

    // Today's makes the next one (index and last-code in today's format).
    bed.run(&["clear"], None).ok();
    let ours = bed.run(&["--format", "process", "--token-code", "222222"], None);
    ours.ok();
    let item = bed.session_item();
    let ours_bytes = session_bytes(keyring, &item);
    let calls = moto.calls();

    // The previous release on today's items: served or refused, never a crash.
    for args in [
        &["--format", "process"][..],
        &["status"],
        &["status", "--json"],
        &["--format", "env"],
    ] {
        let out = run_previous(args);
        no_crash(&out, &format!("0.1.0 {args:?}"));
    }
    assert_eq!(
        session_bytes(keyring, &item),
        ours_bytes,
        "0.1.0 left today's session item as it was"
    );

    // Today's still serves its session without a code, and still lists it.
    let again = bed.run(&["--format", "process"], None);
    again.ok();
    assert_eq!(again.json()["Expiration"], ours.json()["Expiration"]);
    assert_eq!(moto.calls(), calls, "no new session was needed");
    let rows = bed.run(&["status", "--json"], None);
    rows.ok();
    assert_eq!(rows.json().as_array().map(Vec::len), Some(1));
}

mod secret_service {
    #[test]
    fn previous_release_items_are_served() {
        super::previous_release_items_are_served(super::Keyring::SecretService)
    }
    #[test]
    fn previous_and_current_side_by_side() {
        let _k = super::shared();
        super::previous_and_current_side_by_side(super::Keyring::SecretService)
    }
}

mod keyutils {
    #[test]
    fn previous_release_items_are_served() {
        super::previous_release_items_are_served(super::Keyring::Keyutils)
    }
    #[test]
    fn previous_and_current_side_by_side() {
        let _k = super::shared();
        super::previous_and_current_side_by_side(super::Keyring::Keyutils)
    }
}
