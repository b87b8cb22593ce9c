//! One line of the form `KEYWORD WORD…` as the parser hands it to the readers of the `sender`
//! and `receiver` blocks and the `outcome` line: the keyword, the words after it (each with its
//! column), and where the line is, so that a reader reports a [`ScenarioError`] itself.

use super::ScenarioError;

/// One word of a line and its 1-based column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct LineWord<'a> {
    /// The 1-based column of its first character.
    pub column: usize,
    /// The word (without its quotes, if it was quoted).
    pub text: &'a str,
}

/// A `KEYWORD WORD…` line: `sender lettre curl`, `outcome failure at AUTH 535`, or a setting
/// of a block (`encryption starttls`, `notify issue octo/widgets 42 bob bob@example.com`).
#[derive(Clone, Debug)]
pub(super) struct KeywordLine<'a> {
    /// The file (or `<inline>`), for errors.
    pub origin: &'a str,
    /// The 1-based line number.
    pub number: usize,
    /// The first word.
    pub keyword: LineWord<'a>,
    /// The words after it.
    pub values: Vec<LineWord<'a>>,
}

impl<'a> KeywordLine<'a> {
    /// The column one space after the keyword: where a missing first value would be.
    pub fn after_keyword(&self) -> usize {
        self.keyword.column + self.keyword.text.len() + 1
    }

    /// The only value, or an error saying `what` is expected (or that the line must end).
    pub fn one_value(&self, what: &str) -> Result<LineWord<'a>, ScenarioError> {
        match self.values.as_slice() {
            [v] => Ok(*v),
            [] => Err(self.missing(what)),
            [_, extra, ..] => Err(self.expected(extra, "the end of the line")),
        }
    }

    /// The error "expected `what`, found `word`", at the word.
    pub fn expected(&self, word: &LineWord<'_>, what: &str) -> ScenarioError {
        self.error_at(word.column, what, word.text)
    }

    /// The error "expected `what`, found the end of the line", one space after the keyword.
    pub fn missing(&self, what: &str) -> ScenarioError {
        self.error_at(self.after_keyword(), what, "")
    }

    /// The error "expected `what`, found `found`" at a column (an empty `found` is the end of
    /// the line).
    pub fn error_at(&self, column: usize, what: &str, found: &str) -> ScenarioError {
        ScenarioError::Syntax {
            path: self.origin.to_owned(),
            line: self.number,
            column,
            expected: what.to_owned(),
            found: if found.is_empty() {
                "the end of the line".to_owned()
            } else {
                format!("{found:?}")
            },
        }
    }
}
