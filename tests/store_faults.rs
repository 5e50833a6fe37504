//! The keyring misbehaving: locked, duplicated items, an index that is gone. Each case either
//! falls back or fails with one clear line; none hangs, crashes, serves a bad session or loses a
//! good one.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

/// A locked Secret Service collection (a screen lock, a login without the keyring password) in
/// a private bus and daemon, so locking it disturbs no other test. With no terminal and no
/// display nobody can unlock it: no prompt, one line at once. With a display the keyring's own
/// prompt shows (a real gcr-prompter on Xvfb) and nobody answers: the wait ends at
/// `mfa_env_lock_timeout_seconds`, as it would for a KeePassXC window nobody sees.
#[test]
fn a_locked_secret_service_fails_clearly_and_a_new_session_is_still_printed() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::SecretService, "locked", &moto.url);
    bed.append_config(&format!(
        "[profile {p}-other]\nmfa_serial = {s}-other\nmfa_env_source_profile = {p}-base\n\
         [profile {p}-slow]\nmfa_serial = {s}\nmfa_env_source_profile = {p}-base\nmfa_env_lock_timeout_seconds = 3\n",
        p = bed.profile,
        s = bed.serial
    ));
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let mut cmd = Command::new(system_bin("dbus-run-session"));
    cmd.arg("--")
        .arg(repo().join("scripts/with-test-keyring"))
        .arg(repo().join("tests/fixtures/locked-keyring.sh"));
    bed.apply_env(&mut cmd);
    cmd.env("BIN", BIN)
        .env("PROFILE", &bed.profile)
        .env("OUT", &out_dir);
    let started = Instant::now();
    let status = cmd.output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "nothing may hang on a locked keyring"
    );
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let read = |step: &str| {
        let f = |ext| std::fs::read_to_string(out_dir.join(format!("{step}.{ext}"))).unwrap();
        Out {
            code: f("rc").trim().parse().ok(),
            stdout: f("out"),
            stderr: f("err"),
        }
    };
    read("warm").ok();
    read("warm-slow").ok();
    read("hit").fails_with(
        "the collection 'login' is locked and no one can be asked to unlock it here (no terminal, no display); unlock it",
    );
    read("prompted").fails_with(
        "the collection 'login' is locked and was not unlocked within 3 s (mfa_env_lock_timeout_seconds)",
    );
    let waited: u64 = std::fs::read_to_string(out_dir.join("prompted.ms"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        waited < 6000,
        "the unlock prompt was waited for {waited} ms, the profile allows 3 s"
    );
    let miss = read("miss");
    miss.ok();
    assert_eq!(
        miss.json()["Version"],
        1,
        "a session the user paid a code for is printed"
    );
    assert!(
        miss.stderr
            .contains("warning: the new session is used but not cached"),
        "{}",
        miss.stderr
    );
}

/// Two items answering to the same name (another program wrote one): never served, and the next
/// session replaces both.
#[test]
fn duplicate_items_are_a_miss_and_are_replaced() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::SecretService, "dupes", &moto.url);
    bed.warm();
    let planted = Command::new(system_bin("secret-tool"))
        .args([
            "store", "--label", "impostor", "service", "mfa-env", "username",
        ])
        .arg(bed.session_item())
        .args(["other", "app"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"{\"v\":1}")?;
            c.wait()
        })
        .unwrap();
    assert!(planted.success());
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();
    bed.run(&["--format", "process"], None).ok();
}

/// The index deleted behind our back: `status` shows nothing, `clear` still removes the
/// profile's current session, and the next session is indexed again.
#[test]
fn a_lost_index_loses_nothing_that_matters() {
    // The index is shared by every test's sessions: this one breaks it, so it runs alone.
    let _k = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "noindex", &moto.url);
    bed.warm();
    bed.plant_item("index", "garbage, not an index");
    bed.run(&["--format", "process"], None).ok();
    let out = bed.run(&["clear"], None);
    assert!(
        out.ok().stderr.contains("removed 1 cached session(s)"),
        "{}",
        out.stderr
    );
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();
    let rows = bed.run(&["status", "--json"], None).json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
}

/// Two index items in the Secret Service, as two processes that shared no lock create them (an
/// older mfa-env beside this one): both are read, none of their entries is lost (`status` lists
/// the sessions of both, `clear --all` finds them), and the next write leaves one item.
#[test]
fn two_index_items_are_read_as_one() {
    use dbus_secret_service::{EncryptionType, SecretService};
    // The index is shared by every test's sessions: this one splits it, so it runs alone.
    let _k = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let first = Bed::new(Keyring::SecretService, "split-a", &moto.url);
    let second = Bed::new(Keyring::SecretService, "split-b", &moto.url);
    first.warm();
    second.warm();
    let ss = SecretService::connect(EncryptionType::Plain).expect("the test bed's Secret Service");
    let attributes =
        std::collections::HashMap::from([("service", "mfa-env"), ("username", "index")]);
    let found = ss.search_items(attributes.clone()).unwrap();
    let items: Vec<_> = found.unlocked.iter().chain(&found.locked).collect();
    assert_eq!(items.len(), 1, "one index item");
    let index: serde_json::Value = serde_json::from_slice(&items[0].get_secret().unwrap()).unwrap();
    // Split it in two: the first bed's entry in one item, everything else in another.
    let (mine, rest): (Vec<_>, Vec<_>) = index["items"]
        .as_array()
        .unwrap()
        .iter()
        .cloned()
        .partition(|e| e["profile"] == first.profile.as_str());
    assert_eq!(mine.len(), 1, "{index}");
    items[0]
        .set_secret(
            serde_json::json!({ "items": rest }).to_string().as_bytes(),
            "application/octet-stream",
        )
        .unwrap();
    ss.get_default_collection()
        .unwrap()
        .create_item(
            "mfa-env: index",
            attributes.clone(),
            serde_json::json!({ "items": mine }).to_string().as_bytes(),
            false,
            "application/octet-stream",
        )
        .unwrap();
    let found = ss.search_items(attributes.clone()).unwrap();
    assert_eq!(
        found.unlocked.len() + found.locked.len(),
        2,
        "two index items"
    );

    let mut status = Command::new(BIN);
    status.args(["status", "--json"]);
    let listed = first.run_cmd(status, None).json();
    let profiles: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["profile"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        profiles.contains(&first.profile) && profiles.contains(&second.profile),
        "both items' sessions: {listed}"
    );
    // The next write leaves one index item, with both entries.
    let third = Bed::new(Keyring::SecretService, "split-c", &moto.url);
    third.warm();
    let found = ss.search_items(attributes).unwrap();
    assert_eq!(
        found.unlocked.len() + found.locked.len(),
        1,
        "one index item again"
    );
    first.run(&["clear", "--all"], None).ok();
    for bed in [&first, &second, &third] {
        bed.run(&["--format", "process"], None)
            .fails_with("no way to ask for the MFA code");
    }
}
