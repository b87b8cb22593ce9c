//! What a notification is made of is checked before anything is built: names, numbers and
//! addresses go into headers and Message-IDs as they are, so only safe values get through.

/// A value a notification cannot be made with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    /// The input (`repo`, `number`, `commit`, `to`, `to_user` …).
    pub field: &'static str,
    /// What is wrong.
    pub message: String,
}

pub(super) fn invalid(field: &'static str, message: impl Into<String>) -> InvalidInput {
    InvalidInput {
        field,
        message: message.into(),
    }
}

pub(super) fn check_owner(name: &str, field: &'static str) -> Result<(), InvalidInput> {
    let ok = (1..=39).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(invalid(
            field,
            format!("{name:?} is not a valid name (1-39 letters, digits and inner hyphens)"),
        ))
    }
}

pub(super) fn check_repo(repo: &str) -> Result<(), InvalidInput> {
    let Some((owner, name)) = repo.split_once('/') else {
        return Err(invalid("repo", format!("{repo:?} is not OWNER/NAME")));
    };
    check_owner(owner, "repo")?;
    let ok = (1..=100).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && !name.contains("..")
        && name != ".";
    if ok {
        Ok(())
    } else {
        Err(invalid(
            "repo",
            format!(
                "{repo:?}: the repository name must be 1-100 letters, digits, '-', '_' and '.' (no '..')"
            ),
        ))
    }
}
