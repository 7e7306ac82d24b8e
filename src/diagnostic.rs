//! Positioned diagnostics for the user's files (JSON, TypeScript, stack frames):
//! `path:line:col`, the message, and a code frame with a caret, rendered by miette.

use std::fmt;
use std::path::{Path, PathBuf};

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan,
    SpanContents,
};

/// One problem at one place of one file. `line` and `column` are 1-based, as editors show them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
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
        let src = Excerpt::new(self.file.display().to_string(), source, self.line, self.column);
        let report =
            Framed { message: self.message.clone(), help: self.help.clone(), span: (src.caret, 0).into(), src };
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
    src: Excerpt,
    span: SourceSpan,
}

/// Characters of a line shown on each side of the caret; the rest is cut with `…`, so a
/// minified (or hostile) one-line file of megabytes shows as one short line.
const HALF_WIDTH: usize = 60;

/// The lines of the code frame (the caret's and one on each side), cut around the caret's
/// column, reporting to miette the line numbers and column they have in the whole file.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// Byte offset of the caret in `text`.
    caret: usize,
    /// 1-based line and column of the caret in the file.
    line: usize,
    column: usize,
}

impl Excerpt {
    fn new(name: String, source: &str, line: usize, column: usize) -> Self {
        let at = offset_of(source, line, column);
        let line_start = source[..at].rfind('\n').map_or(0, |i| i + 1);
        let first_start = if line_start == 0 { 0 } else { source[..line_start - 1].rfind('\n').map_or(0, |i| i + 1) };
        let line_end = source[at..].find('\n').map_or(source.len(), |i| at + i);
        let last_end = match source.get(line_end + 1..) {
            Some(rest) => rest.find('\n').map_or(source.len(), |i| line_end + 1 + i),
            None => line_end,
        };
        let caret_char = source[line_start..at].chars().count();
        let (mut text, mut caret) = (String::new(), 0);
        let mut start = first_start;
        for (i, full) in source[first_start..last_end].split('\n').enumerate() {
            if i > 0 {
                text.push('\n');
            }
            // Lines that fit are shown whole; longer ones keep the window around the caret's
            // column (the same on every line, so the lines stay aligned).
            let count = full.chars().count();
            let from = if count <= 2 * HALF_WIDTH {
                0
            } else {
                caret_char.saturating_sub(HALF_WIDTH).min(count - 2 * HALF_WIDTH)
            };
            let to = if count <= 2 * HALF_WIDTH { count } else { from + 2 * HALF_WIDTH };
            if from > 0 {
                text.push('…');
            }
            let shown = &full[char_offset(full, from)..];
            if start == line_start {
                caret = text.len() + char_offset(shown, caret_char.saturating_sub(from));
            }
            text.push_str(&shown[..char_offset(shown, to - from)]);
            if count > to {
                text.push('…');
            }
            start += full.len() + 1;
        }
        let first_line = line.saturating_sub(1) - usize::from(first_start < line_start);
        Excerpt { name, text, first_line, caret, line, column }
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        // The caret alone is read for the header's `file:line:col`: say where it is in the file.
        let (line, column) = if span.offset() == self.caret && before == 0 && after == 0 {
            (self.line - 1, self.column - 1)
        } else {
            (inner.line() + self.first_line, inner.column())
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
    }
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
    start + char_offset(line_text, column.saturating_sub(1))
}

/// Byte offset of the `n`th character of `s` (0-based), or its length. Lines may be megabytes
/// long: ASCII is answered at once, and the rest is a plain byte loop (char iterator adaptors
/// are slow in debug builds, where the test suite runs).
fn char_offset(s: &str, n: usize) -> usize {
    let b = s.as_bytes();
    if b[..n.min(b.len())].is_ascii() {
        return n.min(b.len());
    }
    let (mut i, mut seen) = (0, 0);
    while i < b.len() {
        // Every byte but a UTF-8 continuation byte starts a character.
        if b[i] & 0xC0 != 0x80 {
            if seen == n {
                return i;
            }
            seen += 1;
        }
        i += 1;
    }
    b.len()
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
    fn long_lines_are_cut_around_the_caret() {
        let mut src = format!("{{\"a\": \"{}\", ", "x".repeat(5_000_000));
        let at = src.len();
        src.push_str("\"b\": bad, \"c\": \"");
        src.push_str(&"y".repeat(5_000_000));
        src.push_str("\"}\n{}\n");
        let (line, column) = line_col(&src, at + 5);
        let d = Diagnostic::at_line_col(Path::new("node/service.json"), Some(&src), line, column, "expected value");
        let out = d.render_full(false);
        assert!(out.len() < 2000, "{} bytes:\n{}", out.len(), &out[..2000.min(out.len())]);
        assert!(out.contains(&format!("╭─[node/service.json:1:{column}]")), "{out}");
        assert!(out.contains("…xxx") && out.contains("\"b\": bad") && out.contains("yyy…"), "{out}");
        assert!(out.contains(" 2 │ {}"), "the next line, numbered: {out}");
        // The caret sits under `bad`.
        let lines: Vec<&str> = out.lines().collect();
        let code = lines.iter().find(|l| l.contains("\"b\": bad")).unwrap();
        let mark = lines.iter().find(|l| l.contains('▲')).unwrap();
        let col = |s: &str, pat: &str| s[..s.find(pat).unwrap()].chars().count();
        assert_eq!(col(mark, "▲"), col(code, "bad"), "{out}");
    }

    #[test]
    fn char_offsets() {
        assert_eq!(char_offset("abc", 2), 2);
        assert_eq!(char_offset("abc", 9), 3);
        assert_eq!(char_offset("aéb", 2), 3);
        assert_eq!(char_offset("aéb", 3), 4);
        assert_eq!(char_offset("", 0), 0);
    }

    #[test]
    fn frame_numbers_lines_of_the_whole_file() {
        let src = "{\n  \"a\": 1,\n  \"b\": x\n}\n";
        let d = Diagnostic::at_line_col(Path::new("f.json"), Some(src), 3, 8, "bad");
        let out = d.render_full(false);
        assert!(out.contains("╭─[f.json:3:8]") && out.contains(" 2 │   \"a\": 1,") && out.contains(" 4 │ }"), "{out}");
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
