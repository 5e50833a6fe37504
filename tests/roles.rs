//! `mfa-env -p ROLE` / `exec -p ROLE`: role profiles (`role_arn` + `source_profile`) followed by
//! mfa-env itself, against moto's STS (a real AssumeRole implementation) and the stand-in (which
//! shows which credentials signed each call and can refuse a role). Every test runs once per
//! keyring.

mod common;

use std::process::Command;

use chrono::{DateTime, Utc};
use common::*;

for_each_keyring!(
    a_chain_of_roles_from_one_code,
    each_role_is_signed_by_the_credentials_below_it,
    a_changed_role_setting_or_key_is_a_miss,
    a_refused_role_is_explained_and_not_cached,
    parallel_calls_for_a_role_make_one_assume_role,
    bad_role_profiles_are_refused_before_sts,
);

const ACCOUNT: &str = "123456789012";

/// `mfa-env ARGS -p PROFILE` in the bed, without a terminal.
fn mfa(bed: &Bed, profile: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args).args(["-p", profile]);
    bed.run_cmd(cmd, None)
}

/// Adds role profiles `<bed>-<name>`: (name, role name, source (None: the mfa-env profile),
/// extra lines).
fn add_roles(bed: &Bed, roles: &[(&str, &str, Option<&str>, &str)]) {
    let mut text = String::new();
    for (name, role, source, extra) in roles {
        let source = match source {
            Some(s) => format!("{}-{s}", bed.profile),
            None => bed.profile.clone(),
        };
        text.push_str(&format!(
            "[profile {}-{name}]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/{role}\nsource_profile = {source}\n{extra}",
            bed.profile
        ));
    }
    bed.append_config(&text);
}

fn role(bed: &Bed, name: &str) -> String {
    format!("{}-{name}", bed.profile)
}

fn expires_in(out: &Out) -> i64 {
    let exp: DateTime<Utc> = out.json()["Expiration"].as_str().unwrap().parse().unwrap();
    (exp - mfa_env::clock::now()).num_seconds()
}

/// moto's record of the roles it was asked to assume, in order.
fn assumed_roles(moto: &Moto) -> Vec<serde_json::Value> {
    let out = Command::new(system_bin("python3"))
        .args([
            "-c",
            "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
            &format!("{}/moto-api/data.json", moto.url),
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "moto-api/data.json");
    let data: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    data["sts"]["AssumedRole"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The README's example: a hub role with every key, a spoke role assumed with the hub's
/// credentials (role chaining), a second role on the same MFA session. One code, one
/// GetSessionToken; every role cached; `exec` and the AWS CLI see the role; `status` lists
/// them; `clear` of the mfa-env profile takes its roles along.
fn a_chain_of_roles_from_one_code(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "rolechain", &moto.url);
    add_roles(
        &bed,
        &[
            (
                "hub",
                "Hub",
                None,
                "role_session_name = alice-hub\nexternal_id = ext-1234\nduration_seconds = 2700\n",
            ),
            ("spoke", "Spoke", Some("hub"), "region = eu-west-1\n"),
            ("audit", "Audit", None, ""),
        ],
    );

    let spoke = mfa(
        &bed,
        &role(&bed, "spoke"),
        &["--format", "process", "--token-code", "135790"],
    );
    spoke.ok();
    assert_eq!(spoke.stderr, "");
    assert!(
        spoke.json()["AccessKeyId"]
            .as_str()
            .unwrap()
            .starts_with("ASIA")
    );
    let left = expires_in(&spoke);
    assert!((3500..=3600).contains(&left), "spoke lasts 1 h: {left}");
    assert_eq!(moto.calls(), 3, "GetSessionToken, AssumeRole hub, spoke");
    let assumed = assumed_roles(&moto);
    assert_eq!(assumed.len(), 2);
    assert_eq!(
        assumed[0]["role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/Hub")
    );
    assert_eq!(assumed[0]["session_name"], "alice-hub");
    assert_eq!(assumed[0]["external_id"], "ext-1234");
    assert_eq!(
        assumed[1]["role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/Spoke")
    );
    assert!(
        assumed[1]["session_name"]
            .as_str()
            .unwrap()
            .starts_with("mfa-env-"),
        "{}",
        assumed[1]
    );
    assert_eq!(assumed[1]["external_id"], serde_json::Value::Null);

    // The hub was cached on the way: no code, no terminal, no STS call.
    let hub = mfa(&bed, &role(&bed, "hub"), &["--format", "process"]);
    hub.ok();
    let left = expires_in(&hub);
    assert!((2600..=2700).contains(&left), "duration_seconds: {left}");
    assert_eq!(moto.calls(), 3);

    // Another role on the same MFA session: one AssumeRole, no code.
    mfa(&bed, &role(&bed, "audit"), &["--format", "process"]).ok();
    assert_eq!(moto.calls(), 4);

    // exec: the command sees the role (the AWS CLI asks moto who it is) and the role's region.
    let mut cmd = Command::new(BIN);
    cmd.args(["exec", "-p", &role(&bed, "spoke"), "--"])
        .arg(venv_bin("aws"))
        .args([
            "sts",
            "get-caller-identity",
            "--output",
            "text",
            "--query",
            "Arn",
        ]);
    let who = bed.run_cmd(cmd, None);
    who.ok();
    assert!(
        who.stdout.trim().starts_with(&format!(
            "arn:aws:sts::{ACCOUNT}:assumed-role/Spoke/mfa-env-"
        )),
        "{}",
        who.stdout
    );
    assert_eq!(moto.calls(), 5, "only the CLI's own call");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "exec",
        "-p",
        &role(&bed, "spoke"),
        "--",
        "printenv",
        "AWS_REGION",
        "MFA_ENV_EXEC",
    ]);
    let env = bed.run_cmd(cmd, None);
    env.ok();
    assert_eq!(env.stdout, format!("eu-west-1\n{}\n", role(&bed, "spoke")));

    let status = bed.run(&["status", "--json"], None);
    status.ok();
    let rows = status.json();
    let rows = rows.as_array().unwrap();
    let mine: Vec<_> = rows
        .iter()
        .filter(|r| r["profile"].as_str().unwrap().starts_with(&bed.profile))
        .collect();
    assert_eq!(mine.len(), 4, "{status:?}", status = status.stdout);
    let spoke_row = mine
        .iter()
        .find(|r| r["profile"] == role(&bed, "spoke"))
        .unwrap();
    assert_eq!(
        spoke_row["role_arn"],
        format!("arn:aws:iam::{ACCOUNT}:role/Spoke")
    );
    assert_eq!(spoke_row["via"], bed.profile.as_str());
    assert_eq!(spoke_row["served"], true);
    assert!(!status.stdout.contains("ext-1234"), "no external id listed");

    // Clearing the mfa-env profile clears the roles assumed with its session.
    let cleared = bed.run(&["clear"], None);
    cleared.ok();
    assert!(
        cleared.stderr.contains("removed 4 cached session(s)"),
        "{}",
        cleared.stderr
    );
    mfa(&bed, &role(&bed, "spoke"), &["--format", "process"]).fails_with("no way to ask");
    assert_eq!(moto.calls(), 5);
}

/// Which credentials signed each call: the long-term key for GetSessionToken, the MFA session
/// for the first role, the first role's credentials for the chained one.
fn each_role_is_signed_by_the_credentials_below_it(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "rolesign", &standin.url);
    add_roles(
        &bed,
        &[
            (
                "hub",
                "Hub",
                None,
                "external_id = ext-1234\nduration_seconds = 2700\n",
            ),
            (
                "spoke",
                "Spoke",
                Some("hub"),
                "role_session_name = deploy\n",
            ),
        ],
    );
    mfa(
        &bed,
        &role(&bed, "spoke"),
        &["--format", "process", "--token-code", "135791"],
    )
    .ok();
    let hub = format!("arn:aws:iam::{ACCOUNT}:role/Hub");
    let spoke = format!("arn:aws:iam::{ACCOUNT}:role/Spoke");
    let requests = standin.requests();
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0], "135791");
    assert!(
        requests[1].starts_with(&format!(
            "AssumeRole role={hub} by=ASIASTANDINSESSION01 token=yes name=mfa-env-"
        )) && requests[1].ends_with(" external_id=ext-1234 duration=2700"),
        "{}",
        requests[1]
    );
    assert_eq!(
        requests[2],
        format!(
            "AssumeRole role={spoke} by=ASIAROLEHUB000000000 token=yes name=deploy external_id=- duration=3600"
        )
    );
}

/// A cached role session serves only the settings and the long-term key it was made with.
fn a_changed_role_setting_or_key_is_a_miss(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "rolemiss", &standin.url);
    let body = format!(
        "mfa_serial = {}\nmfa_env_source_profile = {}-base\n",
        bed.serial, bed.profile
    );
    let hub = role(&bed, "hub");
    let with_hub = |extra: &str| {
        bed.write_config(&body);
        add_roles(&bed, &[("hub", "Hub", None, extra)]);
    };
    let assume_roles = |s: &StandIn| {
        s.requests()
            .iter()
            .filter(|r| r.starts_with("AssumeRole"))
            .count()
    };
    with_hub("external_id = first-id\n");
    mfa(
        &bed,
        &hub,
        &["--format", "process", "--token-code", "135792"],
    )
    .ok();
    mfa(&bed, &hub, &["--format", "process"]).ok();
    assert_eq!(assume_roles(&standin), 1, "the second call is a hit");

    with_hub("external_id = second-id\n");
    mfa(&bed, &hub, &["--format", "process"]).ok();
    assert_eq!(
        assume_roles(&standin),
        2,
        "a changed external_id assumes again"
    );
    with_hub("external_id = second-id\nrole_session_name = other\n");
    mfa(&bed, &hub, &["--format", "process"]).ok();
    assert_eq!(assume_roles(&standin), 3, "so does a changed session name");

    // A rotated long-term key: neither its MFA session nor the role made with it is served.
    bed.write_credentials("AKIAROTATEDKEY000001", "rotatedSecret/0123456789", None);
    mfa(&bed, &hub, &["--format", "process"]).fails_with("no way to ask");
    assert_eq!(assume_roles(&standin), 3);
}

/// A role STS refuses: one line with STS's code, what to check, nothing on stdout; the MFA
/// session it was tried with stays cached, and nothing is cached for the role.
fn a_refused_role_is_explained_and_not_cached(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "roledeny", &standin.url);
    add_roles(&bed, &[("denied", "DeniedRole", None, "")]);
    let session = bed.warm().json();
    let out = mfa(&bed, &role(&bed, "denied"), &["--format", "process"]);
    out.fails_with("STS AssumeRole at")
        .fails_with("refused: AccessDenied")
        .fails_with("trust policy");
    let secrets = [
        LT_KEY_ID,
        LT_SECRET,
        session["SecretAccessKey"].as_str().unwrap(),
        session["SessionToken"].as_str().unwrap(),
    ];
    assert_no_secret(&out.stderr, &secrets, "stderr");
    mfa(&bed, &role(&bed, "denied"), &["--format", "process"]).fails_with("AccessDenied");
    let requests = standin.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("AssumeRole"))
            .count(),
        2,
        "a refusal is not cached: {requests:?}"
    );
    assert_eq!(
        requests
            .iter()
            .filter(|r| !r.starts_with("AssumeRole"))
            .count(),
        1,
        "the MFA session was reused, no second code: {requests:?}"
    );
}

/// 16 processes asking for a role at once: one AssumeRole, everyone served the same session.
fn parallel_calls_for_a_role_make_one_assume_role(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "rolepar", &standin.url);
    add_roles(&bed, &[("hub", "Hub", None, "")]);
    bed.warm();
    let children: Vec<_> = (0..16)
        .map(|_| {
            let mut cmd = Command::new(BIN);
            cmd.args(["--format", "process", "-p", &role(&bed, "hub")]);
            bed.spawn_cmd(cmd)
        })
        .collect();
    let mut keys = std::collections::HashSet::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        keys.insert(v["SecretAccessKey"].as_str().unwrap().to_owned());
    }
    assert_eq!(keys.len(), 1, "one session for all");
    let requests = standin.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("AssumeRole"))
            .count(),
        1,
        "{requests:?}"
    );
}

/// Every role profile mfa-env cannot follow fails in one line naming the profile and the fix,
/// before the keyring, a prompt or the network (the endpoint counts connections).
fn bad_role_profiles_are_refused_before_sts(k: Keyring) {
    let trip = Tripwire::new();
    let bed = Bed::new(k, "rolebad", &trip.url);
    let p = &bed.profile;
    let arn = format!("role_arn = arn:aws:iam::{ACCOUNT}:role/R\n");
    bed.append_config(&format!(
        "[profile {p}-hub]\n{arn}source_profile = {p}\n\
         [profile {p}-chained]\n{arn}source_profile = {p}-hub\nduration_seconds = 7200\n\
         [profile {p}-nosource]\n{arn}\
         [profile {p}-missing]\n{arn}source_profile = {p}-nowhere\n\
         [profile {p}-env]\n{arn}credential_source = Environment\n\
         [profile {p}-loop1]\n{arn}source_profile = {p}-loop2\n\
         [profile {p}-loop2]\n{arn}source_profile = {p}-loop1\n\
         [profile {p}-plain]\nregion = eu-west-1\n\
         [profile {p}-toplain]\n{arn}source_profile = {p}-plain\n\
         [profile {p}-userarn]\nrole_arn = arn:aws:iam::{ACCOUNT}:user/alice\nsource_profile = {p}\n\
         [profile {p}-longname]\n{arn}source_profile = {p}\nrole_session_name = {long}\n\
         [profile {p}-long]\n{arn}source_profile = {p}\nduration_seconds = 50000\n",
        long = "n".repeat(65)
    ));
    let cases = [
        (
            "chained",
            "duration_seconds = \"7200\" is out of range; use a whole number from 900 to 3600 (role chaining",
        ),
        ("nosource", "has role_arn but no source_profile"),
        ("missing", "source_profile"),
        ("env", "credential_source"),
        ("loop1", "loops"),
        ("toplain", "which has no mfa_serial"),
        (
            "userarn",
            "role_arn = \"arn:aws:iam::123456789012:user/alice\" is not valid",
        ),
        ("longname", "role_session_name"),
        (
            "long",
            "from 900 to 3600 (role chaining: a role assumed with an MFA session",
        ),
    ];
    for (name, expected) in cases {
        let profile = format!("{p}-{name}");
        let out = mfa(
            &bed,
            &profile,
            &["--format", "process", "--token-code", "135793"],
        );
        out.fails_with(expected);
        assert!(out.stderr.contains(&format!("'{p}-")), "{}", out.stderr);
        let mut cmd = Command::new(BIN);
        cmd.args(["exec", "-p", &profile, "--", "true"]);
        bed.run_cmd(cmd, None).fails_with(expected);
    }
    assert_eq!(trip.connections(), 0);
}

/// The account a role's session is for is the role's (another account than the device's),
/// in the process JSON and in what `exec` gives the command, where it replaces an account the
/// caller's environment had.
#[test]
fn a_roles_account_is_its_own() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "roleaccount", &moto.url);
    bed.append_config(&format!(
        "[profile {p}-other]\nrole_arn = arn:aws:iam::210987654321:role/Other\nsource_profile = {p}\n",
        p = bed.profile
    ));
    bed.set_env("AWS_ACCOUNT_ID", "999999999999");
    let other = role(&bed, "other");
    let out = mfa(
        &bed,
        &other,
        &["--format", "process", "--token-code", "135790"],
    );
    assert_eq!(out.ok().json()["AccountId"], "210987654321");
    let mut cmd = Command::new(BIN);
    cmd.args(["exec", "-p", &other, "--", "printenv", "AWS_ACCOUNT_ID"]);
    assert_eq!(bed.run_cmd(cmd, None).ok().stdout, "210987654321\n");
    let mut cmd = Command::new(BIN);
    cmd.args([
        "exec",
        "-p",
        &bed.profile,
        "--",
        "printenv",
        "AWS_ACCOUNT_ID",
    ]);
    assert_eq!(bed.run_cmd(cmd, None).ok().stdout, "123456789012\n");
}
