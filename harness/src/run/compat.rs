//! The compatibility matrix of a run over vendor personas (`scenarios/vendors/`): one table per
//! sender, a row per persona, a column per case, and in each cell the outcome the sender reached
//! and whether it is the one the case expects. Rendered for the terminal, as Markdown and as a
//! standalone HTML page.

use std::fmt::Write as _;

use super::report::{JobResult, Verdict};
use crate::scenario::SenderKind;

/// Persona × case for one sender.
#[derive(Clone, Debug)]
pub struct CompatMatrix {
    /// The sender that drove every case.
    pub sender: SenderKind,
    /// The case names, in column order.
    pub cases: Vec<String>,
    /// One row per persona, in the order of the results.
    pub rows: Vec<CompatRow>,
}

/// One persona's row.
#[derive(Clone, Debug)]
pub struct CompatRow {
    /// The persona's name: `Gmail`.
    pub persona: String,
    /// The file it came from, as given.
    pub file: String,
    /// One cell per column; `None` where the persona has no such case.
    pub cells: Vec<Option<CompatCell>>,
}

/// One vendor × case result.
#[derive(Clone, Debug)]
pub struct CompatCell {
    /// Pass, fail, known or skip.
    pub verdict: Verdict,
    /// What the sender reached, in the words of an `outcome` line.
    pub observed: String,
    /// Why it failed (empty when it passed).
    pub problems: Vec<String>,
}

impl CompatCell {
    /// The outcome in a few words: `sent`, `AUTH 535`, `refused cleartext-auth`.
    pub fn short(&self) -> String {
        match &self.verdict {
            Verdict::Skip(_) => "skipped".into(),
            _ if self.observed == "success" => "sent".into(),
            _ => self
                .observed
                .strip_prefix("failure at ")
                .unwrap_or(&self.observed)
                .to_owned(),
        }
    }

    /// Why the cell is what it is, for a tooltip: the problems, the known reason or the skip.
    pub fn why(&self) -> String {
        match &self.verdict {
            Verdict::Pass => format!("{} (as the case expects)", self.observed),
            Verdict::Fail => self.problems.join("; "),
            Verdict::Known(why) => format!("known: {why}"),
            Verdict::Skip(why) => why.clone(),
        }
    }
}

/// The matrices of a run: one per sender that drove persona cases. Columns follow `case_order`
/// (the order the cases first appear in the files), then any other case by name.
pub fn matrices(results: &[JobResult], case_order: &[String]) -> Vec<CompatMatrix> {
    let mut senders: Vec<SenderKind> = results
        .iter()
        .filter(|r| r.case.is_some())
        .map(|r| r.sender)
        .collect();
    senders.sort();
    senders.dedup();
    senders
        .into_iter()
        .map(|sender| matrix_for(results, sender, case_order))
        .collect()
}

fn matrix_for(results: &[JobResult], sender: SenderKind, case_order: &[String]) -> CompatMatrix {
    let mine: Vec<&JobResult> = results
        .iter()
        .filter(|r| r.sender == sender && r.case.is_some())
        .collect();
    let mut cases: Vec<String> = case_order
        .iter()
        .filter(|c| {
            mine.iter()
                .any(|r| r.case.as_ref().is_some_and(|l| &l.case == *c))
        })
        .cloned()
        .collect();
    let mut others: Vec<String> = mine
        .iter()
        .filter_map(|r| r.case.as_ref().map(|l| l.case.clone()))
        .filter(|c| !cases.contains(c))
        .collect();
    others.sort();
    others.dedup();
    cases.extend(others);

    let mut rows: Vec<CompatRow> = Vec::new();
    for r in &mine {
        let label = r.case.as_ref().expect("filtered on cases");
        let file = r
            .scenario
            .rsplit_once('#')
            .map_or(r.scenario.as_str(), |(f, _)| f);
        let index = match rows.iter().position(|row| row.file == file) {
            Some(i) => i,
            None => {
                rows.push(CompatRow {
                    persona: label.persona.clone(),
                    file: file.to_owned(),
                    cells: vec![None; cases.len()],
                });
                rows.len() - 1
            }
        };
        let column = cases
            .iter()
            .position(|c| *c == label.case)
            .expect("every case has a column");
        rows[index].cells[column] = Some(CompatCell {
            verdict: r.verdict.clone(),
            observed: r.observed.clone(),
            problems: r.problems.clone(),
        });
    }
    CompatMatrix {
        sender,
        cases,
        rows,
    }
}

/// What a cell's verdict is called in the text table.
fn word(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "ok",
        Verdict::Fail => "FAIL",
        Verdict::Known(_) => "known",
        Verdict::Skip(_) => "skip",
    }
}

/// The mark for a cell's verdict in Markdown and HTML.
fn mark(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✅",
        Verdict::Fail => "❌",
        Verdict::Known(_) => "⚠️",
        Verdict::Skip(_) => "⏭️",
    }
}

impl CompatMatrix {
    /// How many cells have each verdict: (as expected, failed, known, skipped).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let cells = || self.rows.iter().flat_map(|r| r.cells.iter().flatten());
        let count = |f: fn(&Verdict) -> bool| cells().filter(|c| f(&c.verdict)).count();
        (
            count(|v| *v == Verdict::Pass),
            count(|v| *v == Verdict::Fail),
            count(|v| matches!(v, Verdict::Known(_))),
            count(|v| matches!(v, Verdict::Skip(_))),
        )
    }

    /// One line saying how the sender fared.
    pub fn summary(&self) -> String {
        let (pass, fail, known, skip) = self.counts();
        let mut out = format!(
            "{}: {} vendors × {} cases, {pass} as expected, {fail} not",
            self.sender,
            self.rows.len(),
            self.cases.len()
        );
        if known > 0 {
            let _ = write!(out, ", {known} known");
        }
        if skip > 0 {
            let _ = write!(out, ", {skip} skipped");
        }
        out
    }

    /// A plain-text table for the terminal: `ok AUTH 535`, `FAIL MAIL 250`, `-` for no case.
    pub fn to_text(&self) -> String {
        let mut table: Vec<Vec<String>> = Vec::new();
        let mut header = vec![format!("vendor ({})", self.sender)];
        header.extend(self.cases.iter().cloned());
        table.push(header);
        for row in &self.rows {
            let mut line = vec![row.persona.clone()];
            line.extend(row.cells.iter().map(|c| match c {
                Some(c) => format!("{} {}", word(&c.verdict), c.short()),
                None => "-".into(),
            }));
            table.push(line);
        }
        let widths: Vec<usize> = (0..table[0].len())
            .map(|i| {
                table
                    .iter()
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for line in &table {
            let mut text = String::new();
            for (cell, width) in line.iter().zip(&widths) {
                let pad = width - cell.chars().count();
                let _ = write!(text, "{cell}{}  ", " ".repeat(pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// The matrices as a Markdown document (a table per sender, a key, no timestamps: the same run
/// gives the same file).
pub fn markdown(matrices: &[CompatMatrix]) -> String {
    let mut out = String::from("# Compatibility matrix\n\n");
    out.push_str(
        "Written by `smtp-harness run`. Each cell is the outcome the sender reached against the \
         vendor's persona in that case: ✅ the outcome the case expects, ❌ another one, ⚠️ a \
         known limitation, ⏭️ the sender cannot play it, — the vendor has no such case (no \
         published reply text).\n",
    );
    for m in matrices {
        let _ = write!(out, "\n## {}\n\n{}\n\n", m.sender, m.summary());
        out.push_str("| vendor |");
        for c in &m.cases {
            let _ = write!(out, " {} |", md_escape(c));
        }
        out.push_str("\n|---|");
        out.push_str(&"---|".repeat(m.cases.len()));
        out.push('\n');
        for row in &m.rows {
            let _ = write!(
                out,
                "| {} (`{}`) |",
                md_escape(&row.persona),
                md_escape(&row.file)
            );
            for cell in &row.cells {
                match cell {
                    Some(c) => {
                        let _ = write!(out, " {} {} |", mark(&c.verdict), md_escape(&c.short()));
                    }
                    None => out.push_str(" — |"),
                }
            }
            out.push('\n');
        }
        let failed: Vec<(&CompatRow, &String, &CompatCell)> = m
            .rows
            .iter()
            .flat_map(|r| {
                r.cells
                    .iter()
                    .zip(&m.cases)
                    .filter_map(move |(c, name)| c.as_ref().map(|c| (r, name, c)))
            })
            .filter(|(_, _, c)| !matches!(c.verdict, Verdict::Pass))
            .collect();
        if !failed.is_empty() {
            out.push_str("\nNot as expected:\n\n");
            for (row, case, cell) in failed {
                let _ = writeln!(
                    out,
                    "- {}, {case}: {}",
                    md_escape(&row.persona),
                    md_escape(&cell.why())
                );
            }
        }
    }
    out
}

/// The matrices as a standalone HTML page (inline style, no scripts).
pub fn html(matrices: &[CompatMatrix]) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>Compatibility matrix</title>\n<style>\n\
         body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }\n\
         table { border-collapse: collapse; margin-bottom: 2em; }\n\
         th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }\n\
         th { background: #f4f4f4; }\n\
         td.pass { background: #e6f4ea; }\n\
         td.fail { background: #fce8e6; font-weight: bold; }\n\
         td.known { background: #fef7e0; }\n\
         td.skip, td.none { color: #888; }\n\
         code { font-size: 0.9em; }\n\
         </style>\n</head>\n<body>\n<h1>Compatibility matrix</h1>\n\
         <p>Written by <code>smtp-harness run</code>. Each cell is the outcome the sender reached \
         against the vendor's persona in that case: green the outcome the case expects, red \
         another one, yellow a known limitation, grey the sender cannot play it, — the vendor \
         has no such case. Hover over a cell for the details.</p>\n",
    );
    for m in matrices {
        let _ = write!(
            out,
            "<h2>{}</h2>\n<p>{}</p>\n<table>\n<thead><tr><th>vendor</th>",
            html_escape::encode_text(m.sender.name()),
            html_escape::encode_text(&m.summary())
        );
        for c in &m.cases {
            let _ = write!(out, "<th>{}</th>", html_escape::encode_text(c));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &m.rows {
            let _ = write!(
                out,
                "<tr><th>{}<br><code>{}</code></th>",
                html_escape::encode_text(&row.persona),
                html_escape::encode_text(&row.file)
            );
            for cell in &row.cells {
                match cell {
                    Some(c) => {
                        let class = match c.verdict {
                            Verdict::Pass => "pass",
                            Verdict::Fail => "fail",
                            Verdict::Known(_) => "known",
                            Verdict::Skip(_) => "skip",
                        };
                        let _ = write!(
                            out,
                            "<td class=\"{class}\" title=\"{}\">{} {}</td>",
                            html_escape::encode_double_quoted_attribute(&c.why()),
                            mark(&c.verdict),
                            html_escape::encode_text(&c.short())
                        );
                    }
                    None => out.push_str("<td class=\"none\">—</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

/// Keeps text inside one Markdown table cell: pipes escaped, line breaks flattened.
fn md_escape(text: &str) -> String {
    text.replace('|', "\\|").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::CaseLabel;

    fn result(
        file: &str,
        persona: &str,
        case: &str,
        verdict: Verdict,
        observed: &str,
    ) -> JobResult {
        JobResult {
            scenario: format!("{file}#{case}"),
            case: Some(CaseLabel {
                persona: persona.into(),
                case: case.into(),
            }),
            sender: SenderKind::adapter("appliance"),
            verdict,
            observed: observed.into(),
            problems: vec!["expected \"failure at AUTH 535\", got <success>".into()],
            details: String::new(),
            elapsed: std::time::Duration::ZERO,
            records: Vec::new(),
        }
    }

    fn sample() -> Vec<CompatMatrix> {
        let results = vec![
            result("v/a.scn", "Alpha", "success", Verdict::Pass, "success"),
            result("v/a.scn", "Alpha", "bad-password", Verdict::Fail, "success"),
            result(
                "v/b.scn",
                "B <&> \"|\"",
                "zzz",
                Verdict::Pass,
                "failure at RCPT 554",
            ),
            result(
                "v/b.scn",
                "B <&> \"|\"",
                "success",
                Verdict::Pass,
                "success",
            ),
        ];
        let order = vec!["success".to_owned(), "bad-password".to_owned()];
        matrices(&results, &order)
    }

    #[test]
    fn columns_follow_the_case_order_then_names_and_gaps_stay_empty() {
        let m = &sample()[0];
        assert_eq!(m.cases, ["success", "bad-password", "zzz"]);
        assert_eq!(m.rows.len(), 2);
        assert!(m.rows[0].cells[2].is_none());
        assert!(m.rows[1].cells[1].is_none());
        assert_eq!(m.counts(), (3, 1, 0, 0));
        let text = m.to_text();
        assert!(text.contains("FAIL sent"), "{text}");
        assert!(text.contains("ok RCPT 554"), "{text}");
    }

    #[test]
    fn markdown_and_html_escape_what_they_show() {
        let all = sample();
        let md = markdown(&all);
        assert!(md.contains("| B <&> \"\\|\" (`v/b.scn`) |"), "{md}");
        assert!(
            md.contains("- Alpha, bad-password: expected \"failure at AUTH 535\", got <success>"),
            "{md}"
        );
        let page = html(&all);
        assert!(page.contains("<th>B &lt;&amp;&gt; \"|\"<br>"), "{page}");
        assert!(!page.contains("B <&>"), "{page}");
        assert!(
            page.contains("<td class=\"fail\" title=\"expected &quot;failure at AUTH 535&quot;, got &lt;success&gt;\">"),
            "{page}"
        );
    }
}
