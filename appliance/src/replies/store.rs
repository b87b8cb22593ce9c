//! The comments recorded from replies: a durable store, one file per comment in
//! `DATA_DIR/comments/`, named after the comment's key (a hash of the reply's Message-ID, or of
//! the whole file when it has none). A comment is written to a temporary file, fsynced, and
//! linked to its name with `link(2)`, which fails when the name exists: recording the same
//! reply twice (a re-run after a crash, two processors at once) finds it there and records
//! nothing, so no comment is ever posted twice.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::fsutil;

/// A comment made by replying to a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// What makes the reply unique: `message-id:<ID>` or `sha256:<HEX>` of the file.
    pub key: String,
    /// The reply's Message-ID, if it had one.
    pub message_id: Option<String>,
    /// The issue or pull request (or commit): `owner/repo/issue/42`.
    pub thread: String,
    /// The user who replied (the one the notification was sent to).
    pub user: String,
    /// The address the reply came from.
    pub from: String,
    /// The comment's text: the reply without quotes or signature.
    pub body: String,
    /// When it was recorded, milliseconds since the Unix epoch.
    pub recorded_at_ms: u64,
    /// The maildir file it came from.
    pub source: String,
}

impl Comment {
    /// The key of a reply: its Message-ID, or a hash of the whole message when it has none.
    pub fn key_for(message_id: Option<&str>, raw: &[u8]) -> String {
        match message_id {
            Some(id) if !id.trim().is_empty() => format!("message-id:{}", id.trim()),
            _ => format!("sha256:{}", hex::encode(Sha256::digest(raw))),
        }
    }
}

/// What [`CommentStore::record`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The comment is now recorded.
    New,
    /// A comment with this key was already recorded (this one, or another with its key).
    Already(Box<Comment>),
}

/// The store in one directory.
#[derive(Clone, Debug)]
pub struct CommentStore {
    dir: PathBuf,
}

impl CommentStore {
    /// The store in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CommentStore { dir: dir.into() }
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, key: &str) -> PathBuf {
        let hash = hex::encode(Sha256::digest(key.as_bytes()));
        self.dir.join(format!("{}.json", &hash[..40]))
    }

    /// The comment recorded with this key, if any.
    ///
    /// # Errors
    /// When the file exists but cannot be read or parsed.
    pub fn get(&self, key: &str) -> io::Result<Option<Comment>> {
        match fs::read(self.path_of(key)) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records a comment durably, unless one with its key is there already.
    ///
    /// # Errors
    /// When the directory or file cannot be written (nothing is recorded then).
    pub fn record(&self, comment: &Comment) -> io::Result<Recorded> {
        if let Some(existing) = self.get(&comment.key)? {
            return Ok(Recorded::Already(Box::new(existing)));
        }
        fs::create_dir_all(&self.dir)?;
        let path = self.path_of(&comment.key);
        let suffix = hex::encode(fsutil::random_bytes::<6>()?);
        let tmp = self
            .dir
            .join(format!(".tmp-{}-{suffix}", std::process::id()));
        let json = serde_json::to_vec(comment).map_err(io::Error::other)?;
        fsutil::create_synced(&tmp, &json, 0o600)?;
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                fsutil::sync_dir(&self.dir)?;
                Ok(Recorded::New)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => match self.get(&comment.key)? {
                Some(existing) => Ok(Recorded::Already(Box::new(existing))),
                None => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Every comment, oldest first.
    ///
    /// # Errors
    /// When the directory or a comment cannot be read.
    pub fn list(&self) -> io::Result<Vec<Comment>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut comments = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.ends_with(".json") && !n.starts_with('.')) {
                let bytes = fs::read(&path)?;
                let comment: Comment = serde_json::from_slice(&bytes)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                comments.push(comment);
            }
        }
        comments.sort_by(|a, b| (a.recorded_at_ms, &a.key).cmp(&(b.recorded_at_ms, &b.key)));
        Ok(comments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(key: &str, body: &str) -> Comment {
        Comment {
            key: key.into(),
            message_id: None,
            thread: "a/b/issue/1".into(),
            user: "bob".into(),
            from: "bob@example.com".into(),
            body: body.into(),
            recorded_at_ms: 1,
            source: "f".into(),
        }
    }

    #[test]
    fn records_once_per_key() {
        let dir = std::env::temp_dir().join(format!("appliance-comments-{}", std::process::id()));
        let store = CommentStore::new(&dir);
        assert_eq!(store.record(&comment("k1", "one")).unwrap(), Recorded::New);
        match store.record(&comment("k1", "two")).unwrap() {
            Recorded::Already(c) => assert_eq!(c.body, "one"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.record(&comment("k2", "two")).unwrap(), Recorded::New);
        assert_eq!(store.list().unwrap().len(), 2);
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            2,
            "no temporary file left"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys() {
        assert_eq!(Comment::key_for(Some("a@b"), b"x"), "message-id:a@b");
        assert!(Comment::key_for(None, b"x").starts_with("sha256:"));
        assert_ne!(Comment::key_for(None, b"x"), Comment::key_for(None, b"y"));
    }
}
