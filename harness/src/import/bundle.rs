//! A support bundle: a `.tar.gz` carrying `enterprise-manage-logs/unicorn.log`.

use std::io::Read;

use super::ImportError;

/// The member of the bundle that carries the conversation log.
pub(super) const MEMBER: &str = "enterprise-manage-logs/unicorn.log";

/// The log's text and its path inside the bundle.
pub(super) fn unicorn_log(bytes: &[u8], path: &str) -> Result<(String, String), ImportError> {
    let bad = |what: String| ImportError::Input {
        path: path.to_owned(),
        message: what,
    };
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a readable .tar.gz: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a readable .tar.gz: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("a bad member name: {e}")))?
            .to_string_lossy()
            .into_owned();
        if name == MEMBER || name.ends_with(&format!("/{MEMBER}")) {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| bad(format!("{name}: cannot read it as UTF-8 text: {e}")))?;
            return Ok((text, name));
        }
    }
    Err(bad(format!("the bundle has no {MEMBER}")))
}
