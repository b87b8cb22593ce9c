//! The thread a comment belongs to: an issue, a pull request or a commit of a repository, and
//! the names it goes by (its path in the reply directory and in Message-IDs, its web page, how
//! a subject refers to it).

use std::fmt;

use super::input::{InvalidInput, check_repo, invalid};

/// What a thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadKind {
    /// An issue.
    Issue,
    /// A pull request.
    PullRequest,
    /// A commit.
    Commit,
}

impl ThreadKind {
    /// The name used in thread paths and Message-IDs: `issue`, `pull`, `commit`.
    pub fn name(self) -> &'static str {
        match self {
            ThreadKind::Issue => "issue",
            ThreadKind::PullRequest => "pull",
            ThreadKind::Commit => "commit",
        }
    }

    /// For people: `issue`, `pull request`, `commit`.
    pub fn description(self) -> &'static str {
        match self {
            ThreadKind::Issue => "issue",
            ThreadKind::PullRequest => "pull request",
            ThreadKind::Commit => "commit",
        }
    }
}

/// A thread of comments: an issue, a pull request or a commit in a repository. Built through
/// the checked constructors, so every field can go into a header as it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Thread {
    repo: String,
    kind: ThreadKind,
    /// The number (issues, pull requests) or the full lower-case SHA (commits).
    key: String,
}

impl Thread {
    /// Issue `number` of `repo` (`owner/name`).
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or number 0.
    pub fn issue(repo: &str, number: u64) -> Result<Thread, InvalidInput> {
        Thread::numbered(repo, ThreadKind::Issue, number)
    }

    /// Pull request `number` of `repo`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or number 0.
    pub fn pull_request(repo: &str, number: u64) -> Result<Thread, InvalidInput> {
        Thread::numbered(repo, ThreadKind::PullRequest, number)
    }

    /// Commit `sha` (7-40 hex digits) of `repo`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad repository name or SHA.
    pub fn commit(repo: &str, sha: &str) -> Result<Thread, InvalidInput> {
        check_repo(repo)?;
        if !(7..=40).contains(&sha.len()) || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(
                "commit",
                format!("{sha:?} is not a commit SHA (7-40 hex digits)"),
            ));
        }
        Ok(Thread {
            repo: repo.to_owned(),
            kind: ThreadKind::Commit,
            key: sha.to_ascii_lowercase(),
        })
    }

    fn numbered(repo: &str, kind: ThreadKind, number: u64) -> Result<Thread, InvalidInput> {
        check_repo(repo)?;
        if number == 0 {
            return Err(invalid("number", "must be 1 or more"));
        }
        Ok(Thread {
            repo: repo.to_owned(),
            kind,
            key: number.to_string(),
        })
    }

    /// Reads a thread path as [`Thread::path`] writes it: `owner/repo/issue/42`,
    /// `owner/repo/pull/7`, `owner/repo/commit/SHA`.
    ///
    /// # Errors
    /// [`InvalidInput`] naming `thread`, or what the constructors refuse.
    pub fn parse_path(path: &str) -> Result<Thread, InvalidInput> {
        let parts: Vec<&str> = path.split('/').collect();
        let [owner, name, kind, key] = parts[..] else {
            return Err(invalid(
                "thread",
                format!("{path:?} is not OWNER/REPO/KIND/ID"),
            ));
        };
        let repo = format!("{owner}/{name}");
        let number = || {
            key.parse::<u64>()
                .map_err(|_| invalid("thread", format!("{key:?} is not a number")))
        };
        match kind {
            "issue" => Thread::issue(&repo, number()?),
            "pull" => Thread::pull_request(&repo, number()?),
            "commit" => Thread::commit(&repo, key),
            _ => Err(invalid("thread", format!("unknown kind {kind:?}"))),
        }
    }

    /// The repository, `owner/name`.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// The kind of thread.
    pub fn kind(&self) -> ThreadKind {
        self.kind
    }

    /// The issue or pull request number.
    pub fn number(&self) -> Option<u64> {
        match self.kind {
            ThreadKind::Commit => None,
            _ => self.key.parse().ok(),
        }
    }

    /// The commit's SHA.
    pub fn sha(&self) -> Option<&str> {
        (self.kind == ThreadKind::Commit).then_some(self.key.as_str())
    }

    /// `owner/repo/issue/42`: the thread's name in the reply directory and the local part of
    /// its root Message-ID.
    pub fn path(&self) -> String {
        format!("{}/{}/{}", self.repo, self.kind.name(), self.key)
    }

    /// The path of its web page: `owner/repo/issues/42`, `owner/repo/pull/7`,
    /// `owner/repo/commit/SHA`.
    pub fn web_path(&self) -> String {
        let segment = match self.kind {
            ThreadKind::Issue => "issues",
            ThreadKind::PullRequest => "pull",
            ThreadKind::Commit => "commit",
        };
        format!("{}/{segment}/{}", self.repo, self.key)
    }

    /// How a subject refers to it: `#42`, or the short SHA `abc1234`.
    pub fn short_ref(&self) -> String {
        match self.kind {
            ThreadKind::Commit => self.key.chars().take(7).collect(),
            _ => format!("#{}", self.key),
        }
    }
}

impl fmt::Display for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads() {
        let t = Thread::issue("octo/widgets", 42).unwrap();
        assert_eq!(t.path(), "octo/widgets/issue/42");
        assert_eq!(t.web_path(), "octo/widgets/issues/42");
        assert_eq!(t.short_ref(), "#42");
        assert_eq!(Thread::parse_path(&t.path()), Ok(t));
        let c = Thread::commit("octo/.github", "ABCDEF0123456789").unwrap();
        assert_eq!(c.path(), "octo/.github/commit/abcdef0123456789");
        assert_eq!(c.short_ref(), "abcdef0");
        assert_eq!(c.sha(), Some("abcdef0123456789"));
        assert_eq!(Thread::parse_path(&c.path()), Ok(c));
        let p = Thread::pull_request("a/b", 7).unwrap();
        assert_eq!(p.web_path(), "a/b/pull/7");
        assert_eq!(p.number(), Some(7));
        for bad in [
            "", "a", "a/", "/b", "-a/b", "a/b/c", "a/..", "a/b c", "a/x..y", "a<b>/c",
        ] {
            assert!(Thread::issue(bad, 1).is_err(), "{bad:?}");
        }
        assert!(Thread::issue("a/b", 0).is_err());
        assert!(Thread::commit("a/b", "abc").is_err());
        assert!(Thread::commit("a/b", "zzzzzzz").is_err());
        assert!(Thread::parse_path("a/b/wiki/1").is_err());
    }
}
