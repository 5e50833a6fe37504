//! `mfa-env doctor --policy FILE`: how an IAM policy's MFA conditions treat long-term access
//! keys and MFA sessions.
//!
//! The trap it explains: a long-term access key's requests carry no `aws:MultiFactorAuthPresent`
//! key at all. A `Deny` with `"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}` therefore
//! denies them (a missing key counts as a match), while an MFA session (GetSessionToken with a
//! code) carries `true` and passes: the secure form, and the one mfa-env is made for. Changing it
//! to `"Bool"`, as write-ups do to make the CLI "work", makes the Deny skip every request without
//! the key, so a leaked access key works with no MFA at all.

use serde_json::Value;

const MFA_KEY: &str = "aws:multifactorauthpresent";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// As it should be.
    Ok,
    /// Works, but worth knowing.
    Note,
    /// Weakens MFA, or keeps mfa-env from working.
    Problem,
}

#[derive(Debug, serde::Serialize)]
pub struct Finding {
    pub statement: String,
    pub level: Level,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("not JSON: {0}")]
    Json(String),
    #[error("no Statement found: give an IAM policy document or one statement")]
    NoStatements,
}

/// Every finding about MFA conditions in the policy document (or a single statement).
pub fn explain(text: &str) -> Result<Vec<Finding>, PolicyError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| PolicyError::Json(e.to_string()))?;
    let statements: Vec<&Value> = match doc.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ if doc.get("Effect").is_some() => vec![&doc],
        _ => return Err(PolicyError::NoStatements),
    };
    let mut findings = Vec::new();
    for (i, st) in statements.iter().enumerate() {
        let name = st
            .get("Sid")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("statement {}", i + 1));
        findings.extend(statement(&name, st));
    }
    if findings.is_empty() {
        findings.push(Finding {
            statement: "(policy)".into(),
            level: Level::Note,
            text: "no statement tests aws:MultiFactorAuthPresent: this policy does not require MFA for anything".into(),
        });
    }
    Ok(findings)
}

/// The MFA conditions of one statement: (operator, value) pairs on aws:MultiFactorAuthPresent.
fn mfa_conditions(st: &Value) -> Vec<(String, String)> {
    let Some(Value::Object(ops)) = st.get("Condition") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (op, keys) in ops {
        let Value::Object(keys) = keys else { continue };
        for (key, value) in keys {
            if key.to_ascii_lowercase() != MFA_KEY {
                continue;
            }
            let values: Vec<String> = match value {
                Value::Array(vs) => vs.iter().map(scalar).collect(),
                v => vec![scalar(v)],
            };
            for v in values {
                out.push((op.clone(), v.to_ascii_lowercase()));
            }
        }
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn statement(name: &str, st: &Value) -> Vec<Finding> {
    let effect = st.get("Effect").and_then(Value::as_str).unwrap_or("");
    let deny = effect.eq_ignore_ascii_case("deny");
    let finding = |level, text: String| Finding {
        statement: name.to_owned(),
        level,
        text,
    };
    let mut out = Vec::new();
    for (op, value) in mfa_conditions(st) {
        let op_l = op.to_ascii_lowercase();
        match (deny, op_l.as_str(), value.as_str()) {
            (true, "boolifexists", "false") => {
                out.push(finding(Level::Ok, "Deny unless MFA, with BoolIfExists: long-term access keys (no MFA key in their requests) are denied, MFA sessions pass. The secure form: use mfa-env to get MFA sessions".into()));
                out.extend(session_token_reachable(name, st));
            }
            (true, "bool", "false") => {
                out.push(finding(Level::Problem, "Deny unless MFA, with Bool instead of BoolIfExists: requests signed with a long-term access key carry no aws:MultiFactorAuthPresent, so this Deny never applies to them — any leaked access key works without MFA. Change Bool back to BoolIfExists and use mfa-env for the CLI and SDKs".into()));
                out.extend(session_token_reachable(name, st));
            }
            (true, "null", "true") => out.push(finding(Level::Note, "Deny when the MFA key is absent (Null): denies long-term access keys, but not sessions made without MFA (the key is false there). BoolIfExists with \"false\" denies both".into())),
            (false, "bool", "true") => out.push(finding(Level::Ok, "Allow only with MFA (Bool): long-term access keys do not match, MFA sessions do. Use mfa-env to get MFA sessions".into())),
            (false, "boolifexists", "true") => out.push(finding(Level::Problem, "Allow with BoolIfExists \"true\": requests without the MFA key — every long-term access key — match too, so this allows them without MFA. Use Bool".into())),
            _ => out.push(finding(Level::Note, format!("{effect} with {op} aws:MultiFactorAuthPresent = {value}: an unusual form; check that it does what you mean"))),
        }
    }
    out
}

/// mfa-env's own first call, GetSessionToken, is made with the long-term key, so a Deny-unless-
/// MFA statement must leave it out.
fn session_token_reachable(name: &str, st: &Value) -> Option<Finding> {
    let listed = |key| -> Option<Vec<String>> {
        match st.get(key)? {
            Value::Array(vs) => Some(vs.iter().map(scalar).collect()),
            v => Some(vec![scalar(v)]),
        }
    };
    let covers = |actions: &[String]| {
        actions
            .iter()
            .any(|a| iam_matches(a, "sts:GetSessionToken"))
    };
    let blocked = match (listed("NotAction"), listed("Action")) {
        (Some(not), _) => !covers(&not),
        (None, Some(actions)) => covers(&actions),
        (None, None) => false,
    };
    blocked.then(|| Finding {
        statement: name.to_owned(),
        level: Level::Problem,
        text: "this Deny also applies to sts:GetSessionToken, which is called with the long-term key before any MFA session exists: no tool can get an MFA session. Add sts:GetSessionToken to its NotAction".into(),
    })
}

/// Whether an IAM action pattern names `action`, as IAM matches them: case-insensitive, `*`
/// for any run of characters (also across the `:`), `?` for one.
fn iam_matches(pattern: &str, action: &str) -> bool {
    let p: Vec<u8> = pattern
        .trim()
        .bytes()
        .map(|b| b.to_ascii_lowercase())
        .collect();
    let a: Vec<u8> = action.bytes().map(|b| b.to_ascii_lowercase()).collect();
    // Iterative wildcard matching: on a mismatch, let the last `*` take one more character.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < a.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == a[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_patterns_match_as_iam_matches_them() {
        for yes in [
            "*",
            "*:*",
            "sts:*",
            "STS:GetSessionToken",
            "sts:GetSession*",
            "sts:Get*",
            "sts:get?essionToken",
            "s*:*token",
            " sts:GetSessionToken ",
        ] {
            assert!(iam_matches(yes, "sts:GetSessionToken"), "{yes}");
        }
        for no in [
            "sts:GetCallerIdentity",
            "iam:*",
            "sts:Get",
            "sts:*Role",
            "s3:*",
            "sts:GetSessionTokens",
        ] {
            assert!(!iam_matches(no, "sts:GetSessionToken"), "{no}");
        }
    }

    fn levels(text: &str) -> Vec<Level> {
        explain(text).unwrap().iter().map(|f| f.level).collect()
    }

    #[test]
    fn operators_and_effects() {
        let deny = |op: &str, v: &str, not_action: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Deny","NotAction":{not_action},"Resource":"*","Condition":{{"{op}":{{"aws:MultiFactorAuthPresent":"{v}"}}}}}}]}}"#
            )
        };
        let exempt = r#"["sts:GetSessionToken"]"#;
        assert_eq!(levels(&deny("BoolIfExists", "false", exempt)), [Level::Ok]);
        assert_eq!(levels(&deny("Bool", "false", exempt)), [Level::Problem]);
        assert_eq!(
            levels(&deny("BoolIfExists", "false", r#"["iam:ListMFADevices"]"#)),
            [Level::Ok, Level::Problem],
            "GetSessionToken denied without MFA"
        );
        assert_eq!(levels(&deny("Null", "true", exempt)), [Level::Note]);
        for wildcard in [r#"["sts:GetSession*"]"#, r#"["STS:get*"]"#, r#""*:*""#] {
            assert_eq!(
                levels(&deny("BoolIfExists", "false", wildcard)),
                [Level::Ok],
                "NotAction {wildcard} exempts GetSessionToken"
            );
        }
        let deny_action = |action: &str| {
            format!(
                r#"{{"Statement":[{{"Effect":"Deny","Action":{action},"Resource":"*","Condition":{{"BoolIfExists":{{"aws:MultiFactorAuthPresent":"false"}}}}}}]}}"#
            )
        };
        assert!(levels(&deny_action(r#""*:*""#)).contains(&Level::Problem));
        assert!(levels(&deny_action(r#"["sts:Get*"]"#)).contains(&Level::Problem));
        assert!(!levels(&deny_action(r#"["s3:*"]"#)).contains(&Level::Problem));
        let allow = |op: &str| {
            format!(
                r#"{{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{{"{op}":{{"aws:MultiFactorAuthPresent":true}}}}}}"#
            )
        };
        assert_eq!(levels(&allow("Bool")), [Level::Ok]);
        assert_eq!(levels(&allow("BoolIfExists")), [Level::Problem]);
        assert_eq!(
            levels(r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#),
            [Level::Note]
        );
        assert!(matches!(explain("{"), Err(PolicyError::Json(_))));
        assert!(matches!(explain("[1]"), Err(PolicyError::NoStatements)));
    }
}
