//! What a build request must carry to be recorded (a full commit id, a valid ref name), and the
//! skip rules GitLab users expect: `[skip ci]` / `[ci skip]` in the head commit, `ci.skip` pushed.

use serde_json::Value;

/// A full commit id: 40 hex characters (SHA-1), or 64 (SHA-256 repositories).
pub fn is_commit_sha(sha: &str) -> bool {
    matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether `name` is a full ref git would accept (`git check-ref-format`'s rules): under
/// `refs/`, no empty or dot-led component, no `..`, no control characters, space, `~^:?*[\`,
/// no `@{`, not ending in `.` or `.lock`.
pub fn is_ref_name(name: &str) -> bool {
    let forbidden = |c: char| c.is_control() || c == ' ' || "~^:?*[\\\x7f".contains(c);
    name.starts_with("refs/")
        && name.len() <= 1024
        && !name.ends_with('/')
        && !name.ends_with('.')
        && !name.contains("..")
        && !name.contains("@{")
        && !name.chars().any(forbidden)
        && name
            .split('/')
            .all(|part| !part.is_empty() && !part.starts_with('.') && !part.ends_with(".lock"))
}

/// Why a build request's commit or ref cannot be recorded.
pub fn check_commit(sha: &str, git_ref: &str) -> Result<(), String> {
    if !is_commit_sha(sha) {
        return Err("the commit id is not 40 or 64 hexadecimal characters".into());
    }
    if !is_ref_name(git_ref) {
        return Err("the ref is not a valid git ref name".into());
    }
    Ok(())
}

/// Whether a commit message asks CI to skip it.
fn message_skips(message: &str) -> bool {
    let lower = message.to_lowercase();
    lower.contains("[skip ci]") || lower.contains("[ci skip]")
}

/// The reason to skip a delivery GitLab itself would not run a pipeline for, if any: the
/// `ci.skip` push option, or a skip marker in the head commit's message (the push's commit
/// `sha`, or the merge request's last commit).
pub fn skip_reason(payload: &Value, sha: &str) -> Option<String> {
    let option = payload.pointer("/push_options/ci/skip");
    if option.is_some_and(|v| v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s.is_empty() || s == "true")) {
        return Some("skipped: the push option ci.skip was set".into());
    }
    let head_message = payload
        .get("commits")
        .and_then(Value::as_array)
        .and_then(|commits| {
            commits
                .iter()
                .find(|c| c.get("id").and_then(Value::as_str) == Some(sha))
        })
        .or_else(|| payload.pointer("/object_attributes/last_commit"))
        .and_then(|c| c.get("message"))
        .and_then(Value::as_str);
    head_message
        .filter(|m| message_skips(m))
        .map(|_| "skipped: the head commit asks for [skip ci]".into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn commit_ids_are_full_hex() {
        assert!(is_commit_sha(&"a".repeat(40)));
        assert!(is_commit_sha(&"0123456789abcdefABCDEF".repeat(3)[..64]));
        assert!(!is_commit_sha("abc"));
        assert!(!is_commit_sha(&"g".repeat(40)));
        assert!(!is_commit_sha(&"a".repeat(41)));
    }

    #[test]
    fn ref_names_follow_git() {
        for good in [
            "refs/heads/main",
            "refs/tags/v1.2",
            "refs/merge-requests/3/head",
            "refs/heads/feat/x-y_z",
        ] {
            assert!(is_ref_name(good), "{good}");
        }
        for bad in [
            "main",
            "refs/heads/a..b",
            "refs/heads/a b",
            "refs/heads/x.lock",
            "refs/heads/.hidden",
            "refs/heads/x~1",
            "refs/heads/x^",
            "refs/heads/a:b",
            "refs/heads/@{u}",
            "refs/heads/",
            "refs/heads/x.",
            "refs/heads//x",
        ] {
            assert!(!is_ref_name(bad), "{bad}");
        }
    }

    #[test]
    fn skip_markers_in_the_head_commit_or_the_push_option_skip() {
        let sha = "a".repeat(40);
        let push = |message: &str| json!({"commits": [{"id": "b".repeat(40), "message": "[skip ci] old"}, {"id": sha, "message": message}]});
        assert!(skip_reason(&push("Fix [Skip CI]"), &sha).is_some());
        assert!(skip_reason(&push("[CI SKIP] docs"), &sha).is_some());
        assert_eq!(
            skip_reason(&push("fix the build"), &sha),
            None,
            "only the head commit counts"
        );
        let option = json!({"push_options": {"ci": {"skip": true}}, "commits": []});
        assert!(skip_reason(&option, &sha).is_some());
        let mr = json!({"object_attributes": {"last_commit": {"id": sha, "message": "wip [skip ci]"}}});
        assert!(skip_reason(&mr, &sha).is_some());
    }
}
