//! What the inbound side did, as `harness-adapter receive` prints it when it stops: in words
//! that stay the same from run to run (the harness shows them under the scenario's result, and
//! its tests snapshot the `receiver effects:` part).
//!
//! ```text
//! receiver effects:
//!    mail/reply/tmp: 0 file(s)
//!    …
//!    comment on octo/widgets/issue/42 by bob: "Thanks, that fixes it for me."
//!    metroplex: processing <reply-1@example.com>
//!    Moving mail/reply/new/[message] => incoming-mail/success
//! logs/mail.log:
//!    … its last 20 lines
//! ```

use std::fmt::Write as _;
use std::path::Path;

/// The folders counted, relative to the data folder.
const FOLDERS: [&str; 5] = [
    "mail/reply/tmp",
    "mail/reply/new",
    "incoming-mail/success",
    "incoming-mail/failure",
    "comments",
];
/// The logs whose tails are shown.
const LOGS: [&str; 2] = ["logs/mail.log", "logs/mail-replies/metroplex.log"];
/// How many lines of each log.
const TAIL: usize = 20;

/// The report: folder counts, comments, the processor's moves and refusals, the logs' tails.
pub(super) fn report(data: &Path) -> String {
    let mut out = summary(data);
    for log in LOGS {
        if let Ok(text) = std::fs::read_to_string(data.join(log)) {
            let _ = writeln!(out, "{log}:");
            let lines: Vec<&str> = text.lines().collect();
            for l in &lines[lines.len().saturating_sub(TAIL)..] {
                let _ = writeln!(out, "   {l}");
            }
        }
    }
    out
}

/// How many files each folder holds, the comments as the product would show them, and the
/// processor's moves and refusals with paths made relative and maildir names replaced by
/// `[message]`.
fn summary(data: &Path) -> String {
    let mut out = String::from("receiver effects:\n");
    for dir in FOLDERS {
        let count = std::fs::read_dir(data.join(dir))
            .map(|d| d.flatten().filter(|e| e.path().is_file()).count())
            .unwrap_or(0);
        let _ = writeln!(out, "   {dir}: {count} file(s)");
    }
    let mut comments: Vec<String> = std::fs::read_dir(data.join("comments"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    comments.sort();
    for text in comments {
        let Ok(c) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        let field = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_owned();
        let _ = writeln!(
            out,
            "   comment on {} by {}: {:?}",
            field("thread"),
            field("user"),
            field("body")
        );
    }
    let root = format!("{}/", data.display());
    if let Ok(log) = std::fs::read_to_string(data.join(LOGS[1])) {
        for line in log.lines() {
            let Some(at) = line.find("] ") else { continue };
            let text = maildir_names(&line[at + 2..].replace(&root, ""));
            if text.starts_with("Moving")
                || text.contains("rejected")
                || text.contains("processing")
            {
                let _ = writeln!(out, "   {text}");
            }
        }
    }
    out
}

/// Replaces maildir file names (`mail/reply/new/1700000000.M1P2Q3.host`) by `[message]`.
fn maildir_names(text: &str) -> String {
    const NEW: &str = "mail/reply/new/";
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(NEW) {
        let after = i + NEW.len();
        out.push_str(&rest[..after]);
        out.push_str("[message]");
        let end = rest[after..]
            .find([' ', ':', ','])
            .map_or(rest.len(), |e| after + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_names_become_a_placeholder() {
        assert_eq!(
            maildir_names("Moving mail/reply/new/1700000000.M1P2Q3.host => incoming-mail/success"),
            "Moving mail/reply/new/[message] => incoming-mail/success"
        );
    }

    #[test]
    fn an_empty_data_folder_reports_empty_folders_and_no_logs() {
        let dir =
            std::env::temp_dir().join(format!("harness-adapter-effects-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("comments")).expect("dir");
        std::fs::write(
            dir.join("comments/1.json"),
            r#"{"thread":"octo/widgets/issue/42","user":"bob","body":"Thanks."}"#,
        )
        .expect("comment");
        let text = report(&dir);
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert!(
            text.starts_with("receiver effects:\n   mail/reply/tmp: 0 file(s)\n"),
            "{text}"
        );
        assert!(text.contains("   comments: 1 file(s)\n"), "{text}");
        assert!(
            text.contains("   comment on octo/widgets/issue/42 by bob: \"Thanks.\"\n"),
            "{text}"
        );
        assert!(!text.contains("logs/"), "{text}");
    }
}
