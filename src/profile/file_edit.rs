//! Edits of `~/.aws/config` and `~/.aws/credentials` that change one profile's keys and keep every
//! other byte: other sections, comments, blank lines, order, line endings. The edit works on
//! lines; whether it did what it meant is decided by the SDK's own parser, which reads the text
//! before and after: the profile has exactly the new values, and every other profile, every
//! other key and every other section reads the same as before. An edit that fails that check
//! is refused, never written.

use std::collections::BTreeSet;

use aws_config::profile::ProfileSet;

use crate::error::{Error, Result};
use crate::profile::config;

/// Which of the two files: their section headers differ (`[profile dev]` / `[dev]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Config,
    Credentials,
}

/// One change to a profile's keys.
#[derive(Debug, Clone)]
pub enum Change {
    Set(&'static str, String),
    Remove(&'static str),
}

/// `text` with `changes` made to `profile`'s section (added at the end when there is none),
/// checked with the SDK's parser.
pub fn edit(text: &str, kind: Kind, profile: &str, changes: &[Change]) -> Result<String> {
    let out = apply(text, kind, profile, changes);
    verify(text, &out, kind, profile, changes)?;
    Ok(out)
}

/// The keys a profile's section(s) set, by name, as they appear in `text`.
pub fn keys_of(text: &str, kind: Kind, profile: &str) -> BTreeSet<String> {
    let lines = split(text);
    let mut keys = BTreeSet::new();
    for (start, end) in sections(&lines, kind, profile) {
        for line in &lines[start + 1..end] {
            if let Some(k) = key_of(line) {
                keys.insert(k.to_ascii_lowercase());
            }
        }
    }
    keys
}

fn apply(text: &str, kind: Kind, profile: &str, changes: &[Change]) -> String {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut lines: Vec<String> = split(text).into_iter().map(str::to_owned).collect();
    for change in changes {
        let key = match change {
            Change::Set(k, _) | Change::Remove(k) => *k,
        };
        // Every line that sets the key in the profile's sections goes, with its indented
        // sub-property lines; a Set then writes one line where the last one was.
        let mut insert_at = None;
        let found = {
            let borrowed: Vec<&str> = lines.iter().map(String::as_str).collect();
            sections(&borrowed, kind, profile)
        };
        let mut removed: Vec<(usize, usize)> = Vec::new();
        for &(start, end) in &found {
            let mut i = start + 1;
            while i < end {
                if key_of(&lines[i]).is_some_and(|k| k.eq_ignore_ascii_case(key)) {
                    let mut j = i + 1;
                    while j < end && is_continuation(&lines[j]) {
                        j += 1;
                    }
                    removed.push((i, j));
                    insert_at = Some(i);
                    i = j;
                } else {
                    i += 1;
                }
            }
        }
        let value = match change {
            Change::Set(_, v) => Some(v),
            Change::Remove(_) => None,
        };
        for &(i, j) in removed.iter().rev() {
            lines.drain(i..j);
        }
        let Some(value) = value else { continue };
        let new_line = format!("{key} = {value}{eol}");
        let at = match insert_at {
            Some(at) => Some(at),
            None => {
                let borrowed: Vec<&str> = lines.iter().map(String::as_str).collect();
                sections(&borrowed, kind, profile)
                    .last()
                    .map(|&(start, end)| end_of_keys(&borrowed, start, end))
            }
        };
        match at {
            Some(at) => {
                if at > 0 && !lines[at - 1].ends_with('\n') {
                    lines[at - 1].push_str(eol);
                }
                lines.insert(at, new_line);
            }
            None => {
                if let Some(last) = lines.last_mut()
                    && !last.ends_with('\n')
                {
                    last.push_str(eol);
                }
                if !lines.is_empty() {
                    lines.push(eol.to_owned());
                }
                lines.push(format!("{}{eol}", header(kind, profile)));
                lines.push(new_line);
            }
        }
    }
    lines.concat()
}

/// The text's lines, each with its line ending.
fn split(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn header(kind: Kind, profile: &str) -> String {
    match (kind, profile) {
        (Kind::Config, "default") => "[default]".to_owned(),
        (Kind::Config, _) => format!("[profile {profile}]"),
        (Kind::Credentials, _) => format!("[{profile}]"),
    }
}

/// The profile a header line opens, if it opens one: `[profile dev]`, `[default]` in the config
/// file (other section types, such as `[sso-session x]`, are not profiles); `[dev]` in the
/// credentials file.
fn profile_of_header(line: &str, kind: Kind) -> Option<&str> {
    let inner = line.trim().strip_prefix('[')?.split(']').next()?.trim();
    match kind {
        Kind::Credentials => Some(inner),
        Kind::Config if inner == "default" => Some(inner),
        Kind::Config => {
            let rest = inner.strip_prefix("profile")?;
            rest.starts_with([' ', '\t']).then(|| rest.trim())
        }
    }
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

fn is_continuation(line: &str) -> bool {
    line.starts_with([' ', '\t']) && !line.trim().is_empty()
}

/// The key a property line sets: unindented, not a comment, with an `=`.
fn key_of(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', ';', '[']) {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty()).then_some(key)
}

/// The profile's sections as (header line, first line after the section).
fn sections(lines: &[&str], kind: Kind, profile: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if is_header(lines[i]) && profile_of_header(lines[i], kind) == Some(profile) {
            let end = (i + 1..lines.len())
                .find(|&j| is_header(lines[j]))
                .unwrap_or(lines.len());
            out.push((i, end));
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

/// Where a new key goes in a section: after its last property line (with sub-properties), so
/// that comments and blank lines before the next section stay with it.
fn end_of_keys(lines: &[&str], start: usize, end: usize) -> usize {
    (start + 1..end)
        .rev()
        .find(|&i| key_of(lines[i]).is_some() || is_continuation(lines[i]))
        .map_or(start + 1, |i| i + 1)
}

/// The SDK's reading of the text before and after agrees with the changes and nothing else.
fn verify(before: &str, after: &str, kind: Kind, profile: &str, changes: &[Change]) -> Result<()> {
    let refuse = |why: String| Error::ProfileEdit {
        profile: profile.to_owned(),
        why,
    };
    let old =
        parse(before, kind).map_err(|e| refuse(format!("the file does not parse now: {e}")))?;
    let new = parse(after, kind).map_err(|e| refuse(format!("the edit would not parse: {e}")))?;
    let names: BTreeSet<&str> = old.profiles().chain(new.profiles()).collect();
    for name in names.iter().filter(|n| **n != profile) {
        if old.get_profile(name) != new.get_profile(name) {
            return Err(refuse(format!("the edit would change profile '{name}'")));
        }
    }
    if old.other_sections() != new.other_sections() {
        return Err(refuse("the edit would change another section".into()));
    }
    let p = new
        .get_profile(profile)
        .ok_or_else(|| refuse("the profile is missing after the edit".into()))?;
    let mut touched = BTreeSet::new();
    for change in changes {
        let (key, expected) = match change {
            Change::Set(k, v) => (*k, Some(v.as_str())),
            Change::Remove(k) => (*k, None),
        };
        touched.insert(key.to_ascii_lowercase());
        if p.get(key) != expected {
            return Err(refuse(format!("{key} would not read as intended")));
        }
    }
    let before_p = old.get_profile(profile);
    for key in keys_of(before, kind, profile).difference(&touched) {
        if before_p.and_then(|b| b.get(key)) != p.get(key) {
            return Err(refuse(format!("the edit would change {key}")));
        }
    }
    Ok(())
}

fn parse(text: &str, kind: Kind) -> Result<ProfileSet> {
    match kind {
        Kind::Config => config::parse_texts(text, ""),
        Kind::Credentials => config::parse_texts("", text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSY: &str = "# my AWS config\r\n[default]\r\nregion = eu-west-1\r\n\r\n; old account\r\n[profile dev]\r\nregion=us-east-1\r\ns3 =\r\n  max_concurrent_requests = 20\r\n# keep me\r\n\r\n[sso-session corp]\r\nsso_region = eu-west-1\r\n[profile other]\r\nmfa_serial = GAHT00000001\r\n";

    fn set(k: &'static str, v: &str) -> Change {
        Change::Set(k, v.to_owned())
    }

    #[test]
    fn keys_are_added_after_the_last_key_and_the_rest_is_untouched() {
        let out = edit(
            MESSY,
            Kind::Config,
            "dev",
            &[
                set("mfa_serial", "GAHT12345678"),
                set("region", "eu-north-1"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "# my AWS config\r\n[default]\r\nregion = eu-west-1\r\n\r\n; old account\r\n[profile dev]\r\nregion = eu-north-1\r\ns3 =\r\n  max_concurrent_requests = 20\r\nmfa_serial = GAHT12345678\r\n# keep me\r\n\r\n[sso-session corp]\r\nsso_region = eu-west-1\r\n[profile other]\r\nmfa_serial = GAHT00000001\r\n"
        );
    }

    #[test]
    fn a_missing_profile_is_appended_and_a_second_edit_changes_nothing() {
        let text = "[profile a]\nregion = eu-west-1";
        let out = edit(
            text,
            Kind::Config,
            "new",
            &[set("mfa_serial", "GAHT12345678")],
        )
        .unwrap();
        assert_eq!(
            out,
            "[profile a]\nregion = eu-west-1\n\n[profile new]\nmfa_serial = GAHT12345678\n"
        );
        let again = edit(
            &out,
            Kind::Config,
            "new",
            &[set("mfa_serial", "GAHT12345678")],
        )
        .unwrap();
        assert_eq!(again, out);
        let empty = edit("", Kind::Config, "default", &[set("region", "eu-west-1")]).unwrap();
        assert_eq!(empty, "[default]\nregion = eu-west-1\n");
    }

    #[test]
    fn keys_are_removed_from_the_credentials_file_only_in_that_profile() {
        let text = "[dev]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = s\n# note\n[prod]\naws_access_key_id = AKIABBBBBBBBBBBBBBBB\n";
        let out = edit(
            text,
            Kind::Credentials,
            "dev",
            &[
                Change::Remove("aws_access_key_id"),
                Change::Remove("aws_secret_access_key"),
            ],
        )
        .unwrap();
        assert_eq!(
            out,
            "[dev]\n# note\n[prod]\naws_access_key_id = AKIABBBBBBBBBBBBBBBB\n"
        );
        assert_eq!(keys_of(text, Kind::Credentials, "dev").len(), 2);
    }

    #[test]
    fn headers_are_read_as_the_sdk_reads_them() {
        assert_eq!(
            profile_of_header("[profile dev]\n", Kind::Config),
            Some("dev")
        );
        assert_eq!(
            profile_of_header("[ profile  dev ]\n", Kind::Config),
            Some("dev")
        );
        assert_eq!(
            profile_of_header("[default]", Kind::Config),
            Some("default")
        );
        assert_eq!(profile_of_header("[dev]", Kind::Config), None);
        assert_eq!(profile_of_header("[profiledev]", Kind::Config), None);
        assert_eq!(profile_of_header("[sso-session x]", Kind::Config), None);
        assert_eq!(profile_of_header("[dev]", Kind::Credentials), Some("dev"));
    }

    #[test]
    fn an_edit_the_parser_would_read_differently_is_refused() {
        // A value with a leading '[' cannot be a new line of its own here: the parser check
        // catches what the line editor cannot see.
        let e = edit(
            "[profile dev]\n",
            Kind::Config,
            "dev",
            &[set("region", "x\n[profile other]")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("profile 'dev'"), "{e}");
    }
}
