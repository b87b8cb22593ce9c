//! Effects on the receiver's side, read from its folder: files present, log lines written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ClientOptions;
use crate::scenario::{Effect, EffectKind};
use crate::verify::Failure;

/// Checks every effect, waiting up to `effects_wait` for them all to hold.
pub(super) async fn check(effects: &[Effect], options: &ClientOptions) -> Vec<Failure> {
    if effects.is_empty() {
        return Vec::new();
    }
    let Some(dir) = &options.effects else {
        return effects
            .iter()
            .map(|e| Failure {
                line: e.line,
                expected: e.text.clone(),
                actual: "no receiver folder was given to look in (smtp-harness send --effects-dir)"
                    .into(),
            })
            .collect();
    };
    let deadline = tokio::time::Instant::now() + options.effects_wait;
    loop {
        let failures: Vec<Failure> = effects.iter().filter_map(|e| judge(e, dir)).collect();
        if failures.is_empty() || tokio::time::Instant::now() >= deadline {
            return failures;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn judge(e: &Effect, dir: &Path) -> Option<Failure> {
    let actual = match &e.kind {
        EffectKind::Files { glob, count } => {
            let found = files(dir).into_iter().filter(|p| glob.matches(p)).count();
            (found != *count as usize).then(|| format!("{found} file(s) match"))
        }
        // The file may be a glob too (`comments/*`): some line of some match.
        EffectKind::LogLine { file, glob } => {
            let pattern = crate::pattern::Pattern::new(file.as_str());
            let candidates: Vec<String> = if pattern.is_literal() {
                vec![file.clone()]
            } else {
                files(dir)
                    .into_iter()
                    .filter(|p| pattern.matches(p))
                    .collect()
            };
            let texts: Vec<String> = candidates
                .iter()
                .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
                .collect();
            if texts.is_empty() {
                Some(format!("{file} cannot be read"))
            } else {
                (!texts.iter().any(|t| t.lines().any(|l| glob.matches(l))))
                    .then(|| format!("no line of {file} matches"))
            }
        }
    }?;
    Some(Failure {
        line: e.line,
        expected: e.text.clone(),
        actual,
    })
}

/// Every file below `dir`, as a relative `/`-separated path.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}
