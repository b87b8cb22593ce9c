//! What notifications keep in the data directory: the reply key (`secrets/reply-key`) and the
//! reply directory (`reply-ids.json`), which gives users and threads the small numeric ids that
//! reply tokens carry.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::token::ReplyKey;
use super::{Recipient, Thread};
use crate::datadir::DataDir;
use crate::fsutil;

/// The reply key's file inside the data directory.
pub const KEY_PATH: &str = "secrets/reply-key";
/// The reply directory's file inside the data directory.
pub const DIRECTORY_PATH: &str = "reply-ids.json";

/// Why the reply key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file (or its directory) cannot be read or created.
    #[error("cannot read or create the reply key {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file does not hold 64 hex digits.
    #[error("the reply key {} is damaged (it must hold 64 hex digits)", path.display())]
    Damaged {
        /// The key file.
        path: PathBuf,
    },
}

/// Reads the data directory's reply key, creating it on first use: 32 random bytes written as
/// 64 hex digits to `DATA_DIR/secrets/reply-key`, mode 0600, in a directory of mode 0700.
/// Concurrent first uses agree on one key (the file is created with a hard link, which fails
/// if another process got there first, and then that key is read).
///
/// # Errors
/// [`KeyError`] when the file cannot be read or created, or is damaged.
pub fn load_or_create_key(data_dir: &DataDir) -> Result<ReplyKey, KeyError> {
    let path = data_dir.root().join(KEY_PATH);
    let io_error = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    match fs::read_to_string(&path) {
        Ok(text) => return ReplyKey::from_hex(&text).ok_or(KeyError::Damaged { path }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(e)),
    }
    let dir = path.parent().expect("the key path has a directory");
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io_error)?;
    let key = ReplyKey::generate().map_err(io_error)?;
    let suffix = hex::encode(fsutil::random_bytes::<6>().map_err(io_error)?);
    let tmp = dir.join(format!(".reply-key.{}.{suffix}", std::process::id()));
    fsutil::create_synced(&tmp, format!("{}\n", key.to_hex()).as_bytes(), 0o600)
        .map_err(io_error)?;
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            fsutil::sync_dir(dir).map_err(io_error)?;
            Ok(key)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(&path).map_err(io_error)?;
            ReplyKey::from_hex(&text).ok_or(KeyError::Damaged { path })
        }
        Err(e) => Err(io_error(e)),
    }
}

/// The reply directory: small numeric ids for user names and threads, so that a reply token
/// fits in an email local part. It stands in for the product's database (where users and
/// threads have ids already): ids are given out in order from 1 and never change, and the
/// inbound side turns a token's ids back into names with [`ReplyDirectory::user`] and
/// [`ReplyDirectory::thread`].
///
/// The file is `DATA_DIR/reply-ids.json`; changes are made under an exclusive `flock` on
/// `reply-ids.lock` and written atomically.
#[derive(Clone, Debug)]
pub struct ReplyDirectory {
    path: PathBuf,
    lock_path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Ids {
    /// User names; the id is the index plus one.
    users: Vec<String>,
    /// Thread paths (`owner/repo/issue/42`); the id is the index plus one.
    threads: Vec<String>,
    /// The addresses notifications were sent to, per user name (lower case): the addresses
    /// a reply from that user may come from.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    addresses: BTreeMap<String, Vec<String>>,
}

impl ReplyDirectory {
    /// The reply directory of a data directory.
    pub fn in_data_dir(data_dir: &DataDir) -> Self {
        ReplyDirectory::new(data_dir.root().join(DIRECTORY_PATH))
    }

    /// A reply directory kept in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let lock_path = path.with_extension("lock");
        ReplyDirectory { path, lock_path }
    }

    /// The ids of `user` and `thread`, given out now if they have none yet.
    ///
    /// # Errors
    /// When the file cannot be read, parsed or written, or the ids are used up.
    pub fn ids_for(&self, user: &str, thread: &Thread) -> io::Result<(u32, u32)> {
        let thread = thread.path();
        if let Ok(ids) = self.read()
            && let (Some(u), Some(t)) =
                (position(&ids.users, user), position(&ids.threads, &thread))
        {
            return Ok((u, t));
        }
        let _lock = self.lock()?;
        self.ids_for_locked(user, &thread)
    }

    /// Gives out ids while the lock is held.
    fn ids_for_locked(&self, user: &str, thread: &str) -> io::Result<(u32, u32)> {
        let thread = thread.to_owned();
        let mut ids = self.read()?;
        let (u, new_user) = match position(&ids.users, user) {
            Some(u) => (u, false),
            None => {
                ids.users.push(user.to_owned());
                (next_id(ids.users.len())?, true)
            }
        };
        let (t, new_thread) = match position(&ids.threads, &thread) {
            Some(t) => (t, false),
            None => {
                ids.threads.push(thread);
                (next_id(ids.threads.len())?, true)
            }
        };
        if new_user || new_thread {
            self.write(&ids)?;
        }
        Ok((u, t))
    }

    /// As [`ReplyDirectory::ids_for`], and records the recipient's address as one the user's
    /// replies may come from.
    ///
    /// # Errors
    /// When the file cannot be read, parsed or written, or the ids are used up.
    pub fn ids_for_recipient(
        &self,
        recipient: &Recipient,
        thread: &Thread,
    ) -> io::Result<(u32, u32)> {
        let user = recipient.login();
        let address = recipient.address().to_ascii_lowercase();
        let known = |ids: &Ids| {
            ids.addresses
                .get(user)
                .is_some_and(|list| list.contains(&address))
        };
        if let Ok(ids) = self.read()
            && known(&ids)
            && let (Some(u), Some(t)) = (
                position(&ids.users, user),
                position(&ids.threads, &thread.path()),
            )
        {
            return Ok((u, t));
        }
        let _lock = self.lock()?;
        let (u, t) = self.ids_for_locked(user, &thread.path())?;
        let mut ids = self.read()?;
        if !known(&ids) {
            ids.addresses
                .entry(user.to_owned())
                .or_default()
                .push(address);
            self.write(&ids)?;
        }
        Ok((u, t))
    }

    /// The addresses notifications to `user` were sent to (lower case), oldest first.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn addresses(&self, user: &str) -> io::Result<Vec<String>> {
        Ok(self
            .read()?
            .addresses
            .get(user)
            .cloned()
            .unwrap_or_default())
    }

    /// The user name with this id.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn user(&self, id: u32) -> io::Result<Option<String>> {
        Ok(self.read()?.users.get(index(id)).cloned())
    }

    /// The thread with this id.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn thread(&self, id: u32) -> io::Result<Option<Thread>> {
        Ok(self
            .read()?
            .threads
            .get(index(id))
            .and_then(|p| Thread::parse_path(p).ok()))
    }

    fn read(&self) -> io::Result<Ids> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ids::default()),
            Err(e) => Err(e),
        }
    }

    fn write(&self, ids: &Ids) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(ids).map_err(io::Error::other)?;
        let tmp = self
            .path
            .with_extension(format!("json.tmp.{}", std::process::id()));
        fsutil::replace_synced(&self.path, &tmp, &json, 0o600)
    }

    fn lock(&self) -> io::Result<fs::File> {
        if let Some(dir) = self.lock_path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)?;
        file.lock()?;
        Ok(file)
    }
}

fn position(list: &[String], item: &str) -> Option<u32> {
    list.iter()
        .position(|x| x == item)
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn next_id(len: usize) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::other("the reply directory is full"))
}

fn index(id: u32) -> usize {
    (id as usize).wrapping_sub(1)
}
