//! Positioned diagnostics for the user's files (JSON, TypeScript, stack frames):
//! `path:line:col`, the message, and a code frame with a caret, rendered by miette.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};

/// One problem at one place of one file. `line` and `column` are 1-based, as editors show them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    /// Path as the user should see it (relative to the app root where possible).
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: Option<String>,
    /// The file's text, for the code frame; `None` when it could not be read. Not sent
    /// between processes: the link command reads the file again.
    #[serde(skip)]
    pub source: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at a byte offset of `source`.
    pub fn at_offset(file: &Path, source: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_col(source, offset);
        Self {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            help: None,
            source: Some(source.to_string()),
        }
    }

    /// A diagnostic at a 1-based line and column of `source` (when known).
    pub fn at_line_col(
        file: &Path,
        source: Option<&str>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            file: file.to_path_buf(),
            line: line.max(1),
            column: column.max(1),
            message: message.into(),
            help: None,
            source: source.map(str::to_string),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The code frame with a caret (and the help, if any); colour only when asked.
    pub fn frame(&self, color: bool) -> String {
        let Some(source) = &self.source else {
            return self.help.as_ref().map(|h| format!("  help: {h}")).unwrap_or_default();
        };
        let offset = offset_of(source, self.line, self.column);
        let report = Framed {
            message: self.message.clone(),
            help: self.help.clone(),
            src: NamedSource::new(self.file.display().to_string(), source.clone()),
            span: (offset, 0).into(),
        };
        let theme = if color { GraphicalTheme::unicode() } else { GraphicalTheme::unicode_nocolor() };
        let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
        let mut out = String::new();
        if handler.render_report(&mut out, &report).is_err() {
            return self.to_string();
        }
        // miette repeats the message above the frame; the caller prints it once, positioned.
        let frame: Vec<&str> = out.lines().skip_while(|l| !l.contains("╭─[")).collect();
        frame.join("\n").trim_end().to_string()
    }

    /// `path:line:col: message`, then the code frame (see [`Diagnostic::frame`]).
    pub fn render_full(&self, color: bool) -> String {
        let frame = self.frame(color);
        if frame.is_empty() {
            self.to_string()
        } else {
            format!("{self}\n{frame}")
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.line, self.column, self.message)
    }
}

impl std::error::Error for Diagnostic {}

/// The miette report behind [`Diagnostic::render`].
#[derive(Debug)]
struct Framed {
    message: String,
    help: Option<String>,
    src: NamedSource<String>,
    span: SourceSpan,
}

impl fmt::Display for Framed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Framed {}

impl miette::Diagnostic for Framed {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        Some(&self.src)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(Some("here".into()), self.span))))
    }
}

/// 1-based (line, column) of a byte offset; columns count characters.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = &source[..floor_char_boundary(source, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Byte offset of a 1-based (line, column), clamped to the text.
pub fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match source[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return source.len(),
        }
    }
    let line_text = source[start..].split('\n').next().unwrap_or("");
    let col_bytes: usize = line_text.chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
    start + col_bytes
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_round_trips() {
        let src = "{\n  \"a\": 1,\n  \"bé\": x\n}";
        let off = src.find('x').unwrap();
        assert_eq!(line_col(src, off), (3, 9));
        assert_eq!(offset_of(src, 3, 9), off);
        assert_eq!(line_col(src, 0), (1, 1));
    }

    #[test]
    fn render_shows_position_and_frame() {
        let src = "{\n  \"memory\": 12x\n}\n";
        let d = Diagnostic::at_line_col(Path::new("node/service.json"), Some(src), 2, 15, "expected `,` or `}`");
        let out = d.render_full(false);
        assert!(out.contains("node/service.json:2:15: expected `,` or `}`"), "{out}");
        assert!(out.contains("\"memory\": 12x"), "{out}");
    }
}
