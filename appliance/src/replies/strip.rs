//! What is left of a reply once the quoted notification and the signature are gone: the text
//! above the first "On … wrote:" line (two-line forms and a few languages too), an Outlook
//! "-----Original Message-----" or `____` separator with its `From:` block, or a signature
//! delimiter (`-- `); and no `>` quoted lines anywhere.

/// The reply's own text: quotes, attribution lines and the signature removed, surrounding
/// blank lines trimmed, line endings made `\n`.
pub fn strip_reply(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = text.split('\n').collect();
    let mut kept: Vec<&str> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let next = lines.get(i + 1).copied().unwrap_or("");
        if ends_the_reply(line, next) {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    while kept.last().is_some_and(|l| l.is_empty()) {
        kept.pop();
    }
    let start = kept
        .iter()
        .position(|l| !l.is_empty())
        .unwrap_or(kept.len());
    kept[start..].join("\n")
}

/// Whether `line` (followed by `next`) starts the quoted part or the signature.
fn ends_the_reply(line: &str, next: &str) -> bool {
    let trimmed = line.trim();
    if line == "-- " || trimmed == "--" {
        return true;
    }
    let lower = trimmed.to_lowercase();
    if lower.contains("original message") && lower.starts_with("-----") {
        return true;
    }
    if trimmed.len() >= 10 && trimmed.chars().all(|c| c == '_') {
        return true; // Outlook's separator before its From:/Sent: block
    }
    if lower.starts_with("from:") && next.trim().to_lowercase().starts_with("sent:") {
        return true;
    }
    let attribution = |l: &str| {
        let l = l.trim_end().to_lowercase();
        l.ends_with("wrote:")
            || l.ends_with("a écrit :")
            || l.ends_with("a écrit:")
            || l.ends_with("schrieb:")
    };
    let starts = lower.starts_with("on ") || lower.starts_with("le ") || lower.starts_with("am ");
    starts && (attribution(trimmed) || (!next.trim().is_empty() && attribution(next)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_attributions_go() {
        let text = "Thanks, that fixes it.\r\n\r\nOn Tue, May 1, 2024 at 12:00 PM Alice <notifications@x> wrote:\r\n> Widgets fall over\r\n> more\r\n";
        assert_eq!(strip_reply(text), "Thanks, that fixes it.");
        let two_lines = "Yes.\nOn Tue, May 1, 2024 at 12:00 PM Alice Liddell <\nnoreply@appliance.example.com> wrote:\n> x";
        assert_eq!(strip_reply(two_lines), "Yes.");
        let inline = "I agree\n> quoted\nwith this\n";
        assert_eq!(strip_reply(inline), "I agree\nwith this");
    }

    #[test]
    fn signatures_and_outlook_go() {
        assert_eq!(strip_reply("Body\n\n-- \nBob\nACME"), "Body");
        assert_eq!(
            strip_reply("Body\n\n-----Original Message-----\nFrom: x\nSent: y\n\nold"),
            "Body"
        );
        assert_eq!(
            strip_reply("Body\n________________________________\nFrom: x"),
            "Body"
        );
        assert_eq!(
            strip_reply("Body\nFrom: Alice\nSent: Tuesday\nTo: x"),
            "Body"
        );
        assert_eq!(
            strip_reply("Merci\nLe mar. 1 mai 2024, Alice a écrit :\n> x"),
            "Merci"
        );
    }

    #[test]
    fn ordinary_text_stays() {
        let text = "On second thought, this is fine.\nSee -- the docs.\nFrom: here on";
        assert_eq!(strip_reply(text), text);
        assert_eq!(strip_reply("\n\n  \n"), "");
    }
}
