//! Master Data's `where` grammar, parsed by a small recursive-descent parser into an
//! expression, then turned into SQL over the documents' JSON. The grammar (from VTEX's docs):
//! `field=value`, `field<>value`, `field<value`, `field>value`, `field between A AND B`,
//! `field is null` (and `is not null`), `*` wildcards in values, `AND` / `OR` / `NOT` and
//! parentheses; values bare (`John`, `42`, `2024-01-01`) or quoted (`'John Smith'`, `"x"`).
//! An error carries the 1-based column it was found at. A `where` holds at most
//! [`MAX_CONDITIONS`] conditions and nests parentheses and NOTs at most [`MAX_NESTING`] deep,
//! so neither the parser, the SQL built from it nor SQLite's own parser recurses without bound.

use rusqlite::types::Value as SqlValue;

/// The most conditions (`field=value`, `between`, `is null`) a `where` may join.
pub const MAX_CONDITIONS: usize = 256;
/// How deep parentheses and `NOT`s may nest in a `where`.
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare { field: String, op: Op, value: Literal },
    Between { field: String, low: Literal, high: Literal },
    IsNull { field: String, negated: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
}

/// A value as written: bare values may be numbers or booleans, quoted ones are text.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bare(String),
    Quoted(String),
}

/// A malformed `where`, at a 1-based column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// The message with the `where` and a caret under the column.
    pub fn render(&self, source: &str) -> String {
        format!(
            "invalid where at column {}: {}\n  {source}\n  {}^",
            self.column,
            self.message,
            " ".repeat(self.column.saturating_sub(1))
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Op(Op),
    Word(String),
    Quoted(String),
    End,
}

struct Lexer {
    toks: Vec<(Tok, usize)>,
    at: usize,
    /// Open parentheses and NOTs around the token at `at`.
    nesting: usize,
    /// Conditions read so far.
    conditions: usize,
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::Open, col));
                i += 1
            }
            ')' => {
                out.push((Tok::Close, col));
                i += 1
            }
            '=' => {
                out.push((Tok::Op(Op::Eq), col));
                i += 1
            }
            '<' if chars.get(i + 1) == Some(&'>') => {
                out.push((Tok::Op(Op::Ne), col));
                i += 2
            }
            '<' => {
                out.push((Tok::Op(Op::Lt), col));
                i += 1
            }
            '>' => {
                out.push((Tok::Op(Op::Gt), col));
                i += 1
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(ParseError { column: col, message: format!("unclosed {quote} quote") });
                        }
                        // A doubled quote inside stands for one.
                        Some(&q) if q == quote && chars.get(i + 1) == Some(&quote) => {
                            text.push(q);
                            i += 2
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            text.push(ch);
                            i += 1
                        }
                    }
                }
                out.push((Tok::Quoted(text), col));
            }
            _ => {
                let start = i;
                while i < chars.len() && !chars[i].is_whitespace() && !"()=<>'\"".contains(chars[i]) {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), col));
            }
        }
    }
    out.push((Tok::End, chars.len() + 1));
    Ok(out)
}

/// Parses a `where`; the empty string (or only spaces) is no condition.
pub fn parse(src: &str) -> Result<Option<Expr>, ParseError> {
    let mut p = Lexer { toks: lex(src)?, at: 0, nesting: 0, conditions: 0 };
    if p.peek() == &Tok::End {
        return Ok(None);
    }
    let e = p.or()?;
    match p.peek() {
        Tok::End => Ok(Some(e)),
        Tok::Close => Err(p.error("unexpected `)`: no `(` opened it")),
        _ => Err(p.error("expected AND, OR or the end of the condition")),
    }
}

fn keyword(t: &Tok, k: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(k))
}

impl Lexer {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].0
    }
    fn column(&self) -> usize {
        self.toks[self.at].1
    }
    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError { column: self.column(), message: message.into() }
    }

    /// Goes one parenthesis or NOT deeper (the token at `at` opens it).
    fn enter(&mut self) -> Result<(), ParseError> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(self
                .error(format!("the condition is too complex: parentheses and NOT nest at most {MAX_NESTING} deep")));
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.and()?;
        while keyword(self.peek(), "or") {
            self.bump();
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.not()?;
        while keyword(self.peek(), "and") {
            self.bump();
            left = Expr::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, ParseError> {
        if keyword(self.peek(), "not") {
            self.enter()?;
            self.bump();
            let e = Expr::Not(Box::new(self.not()?));
            self.nesting -= 1;
            return Ok(e);
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Open => {
                self.enter()?;
                self.bump();
                let e = self.or()?;
                if self.peek() != &Tok::Close {
                    return Err(self.error("expected `)`"));
                }
                self.bump();
                self.nesting -= 1;
                Ok(e)
            }
            Tok::Word(w) => {
                if ["and", "or"].iter().any(|k| w.eq_ignore_ascii_case(k)) {
                    return Err(self.error(format!("expected a field name before `{w}`")));
                }
                let col = self.column();
                if !w.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) || w.starts_with('.') {
                    return Err(ParseError { column: col, message: format!("`{w}` is not a field name") });
                }
                self.conditions += 1;
                if self.conditions > MAX_CONDITIONS {
                    return Err(self.error(format!(
                        "the condition is too complex: a where joins at most {MAX_CONDITIONS} conditions with AND and OR"
                    )));
                }
                self.bump();
                self.condition(w)
            }
            Tok::End => Err(self.error("expected a condition (field=value) here, found the end")),
            _ => Err(self.error("expected a field name")),
        }
    }

    fn condition(&mut self, field: String) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Op(op) => {
                self.bump();
                let value = self.value()?;
                Ok(Expr::Compare { field, op, value })
            }
            t if keyword(&t, "between") => {
                self.bump();
                let low = self.value()?;
                if !keyword(self.peek(), "and") {
                    return Err(self.error("expected AND between the two bounds of `between`"));
                }
                self.bump();
                let high = self.value()?;
                Ok(Expr::Between { field, low, high })
            }
            t if keyword(&t, "is") => {
                self.bump();
                let negated = keyword(self.peek(), "not");
                if negated {
                    self.bump();
                }
                if !keyword(self.peek(), "null") {
                    return Err(self.error("expected `null` after `is`"));
                }
                self.bump();
                Ok(Expr::IsNull { field, negated })
            }
            _ => Err(self.error(format!("expected =, <>, <, >, between or is after the field `{field}`"))),
        }
    }

    fn value(&mut self) -> Result<Literal, ParseError> {
        match self.peek().clone() {
            Tok::Quoted(q) => {
                self.bump();
                Ok(Literal::Quoted(q))
            }
            Tok::Word(w) if !["and", "or"].iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                self.bump();
                Ok(Literal::Bare(w))
            }
            Tok::End => Err(self.error("expected a value, found the end")),
            _ => Err(self.error("expected a value")),
        }
    }
}

/// The SQL expression reading `field` (dotted for nested objects) from a document.
pub fn field_sql(field: &str) -> String {
    let mut path = String::from("$");
    for part in field.split('.') {
        // Field names hold only [A-Za-z0-9_-] (checked by the parser or by `valid_field`).
        path.push_str(&format!(".\"{part}\""));
    }
    format!("json_extract(doc, '{path}')")
}

/// Whether `field` may be used in SQL built by `field_sql` (sort and fields come from callers).
pub fn valid_field(field: &str) -> bool {
    !field.is_empty()
        && field.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || "_-".contains(c)))
}

/// The fields an expression reads (so that they get an index).
pub fn fields(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::And(a, b) | Expr::Or(a, b) => {
            fields(a, out);
            fields(b, out);
        }
        Expr::Not(a) => fields(a, out),
        Expr::Compare { field, .. } | Expr::Between { field, .. } | Expr::IsNull { field, .. } => {
            out.push(field.clone())
        }
    }
}

/// The value as SQL sees it in an order comparison: a bare number is a number.
fn ordered(v: &Literal) -> SqlValue {
    match v {
        Literal::Bare(b) => match b.parse::<f64>() {
            Ok(n) if n.is_finite() => SqlValue::Real(n),
            _ => SqlValue::Text(b.clone()),
        },
        Literal::Quoted(q) => SqlValue::Text(q.clone()),
    }
}

/// A `where` value with `*` wildcards as a LIKE pattern (escape `\\`): `*` is `%`, and the
/// pattern characters `%`, `_` and `\\` of the value match themselves. Both backends use it.
pub fn like_pattern(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '*' => vec!['%'],
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

/// `field = value` in SQL: a bare number or boolean matches the number (or boolean) and the
/// text; `*` is a wildcard (SQLite's LIKE: case-insensitive for ASCII letters).
fn equals(f: &str, v: &Literal, params: &mut Vec<SqlValue>) -> String {
    let text = match v {
        Literal::Bare(b) | Literal::Quoted(b) => b,
    };
    if text.contains('*') {
        let pattern = like_pattern(text);
        params.push(SqlValue::Text(pattern));
        return format!("{f} LIKE ? ESCAPE '\\'");
    }
    if let Literal::Bare(b) = v {
        let typed = match b.as_str() {
            "true" => Some(SqlValue::Integer(1)),
            "false" => Some(SqlValue::Integer(0)),
            _ => b.parse::<f64>().ok().filter(|n| n.is_finite()).map(SqlValue::Real),
        };
        if let Some(t) = typed {
            params.push(t);
            params.push(SqlValue::Text(b.clone()));
            return format!("{f} IN (?, ?)");
        }
    }
    params.push(SqlValue::Text(text.clone()));
    format!("{f} = ?")
}

/// The expression as an SQL condition, with its parameters appended to `params`.
pub fn to_sql(e: &Expr, params: &mut Vec<SqlValue>) -> String {
    match e {
        Expr::And(a, b) => format!("({} AND {})", to_sql(a, params), to_sql(b, params)),
        Expr::Or(a, b) => format!("({} OR {})", to_sql(a, params), to_sql(b, params)),
        Expr::Not(a) => format!("(NOT coalesce({}, 0))", to_sql(a, params)),
        Expr::Compare { field, op, value } => {
            let f = field_sql(field);
            match op {
                Op::Eq => format!("({})", equals(&f, value, params)),
                Op::Ne => format!("({f} IS NULL OR NOT ({}))", equals(&f, value, params)),
                Op::Lt | Op::Gt => {
                    params.push(ordered(value));
                    format!("({f} {} ?)", if *op == Op::Lt { "<" } else { ">" })
                }
            }
        }
        Expr::Between { field, low, high } => {
            params.push(ordered(low));
            params.push(ordered(high));
            format!("({} BETWEEN ? AND ?)", field_sql(field))
        }
        Expr::IsNull { field, negated } => {
            format!("({} IS {}NULL)", field_sql(field), if *negated { "NOT " } else { "" })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(field: &str, op: Op, v: &str) -> Expr {
        Expr::Compare { field: field.into(), op, value: Literal::Bare(v.into()) }
    }

    #[test]
    fn parses_each_form() {
        assert_eq!(parse("a=1").unwrap(), Some(cmp("a", Op::Eq, "1")));
        assert_eq!(parse("a<>x").unwrap(), Some(cmp("a", Op::Ne, "x")));
        assert_eq!(parse("a < 3").unwrap(), Some(cmp("a", Op::Lt, "3")));
        assert_eq!(parse("a>3").unwrap(), Some(cmp("a", Op::Gt, "3")));
        assert_eq!(
            parse("age between 10 AND 20").unwrap(),
            Some(Expr::Between {
                field: "age".into(),
                low: Literal::Bare("10".into()),
                high: Literal::Bare("20".into())
            })
        );
        assert_eq!(parse("email is null").unwrap(), Some(Expr::IsNull { field: "email".into(), negated: false }));
        assert_eq!(parse("email IS NOT NULL").unwrap(), Some(Expr::IsNull { field: "email".into(), negated: true }));
        assert_eq!(
            parse("name='John Smith'").unwrap(),
            Some(Expr::Compare { field: "name".into(), op: Op::Eq, value: Literal::Quoted("John Smith".into()) })
        );
        assert_eq!(parse("  ").unwrap(), None);
    }

    #[test]
    fn and_binds_tighter_than_or_and_parentheses_group() {
        let e = parse("a=1 OR b=2 AND c=3").unwrap().unwrap();
        assert_eq!(
            e,
            Expr::Or(
                Box::new(cmp("a", Op::Eq, "1")),
                Box::new(Expr::And(Box::new(cmp("b", Op::Eq, "2")), Box::new(cmp("c", Op::Eq, "3"))))
            )
        );
        let e = parse("(a=1 OR b=2) and c=3").unwrap().unwrap();
        assert!(matches!(e, Expr::And(_, _)));
        assert!(matches!(parse("not (a=1)").unwrap().unwrap(), Expr::Not(_)));
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = parse("a=1 AND").unwrap_err();
        assert_eq!(e.column, 8, "{e:?}");
        let e = parse("firstName= AND b=1").unwrap_err();
        assert_eq!(e.column, 12, "{e:?}");
        assert!(e.message.contains("expected a value"), "{e:?}");
        let e = parse("(a=1 OR b=2").unwrap_err();
        assert_eq!(e.column, 12);
        assert!(e.message.contains("`)`"));
        let e = parse("a=1)").unwrap_err();
        assert_eq!(e.column, 4);
        let e = parse("a between 1 2").unwrap_err();
        assert_eq!(e.column, 13);
        assert!(e.message.contains("AND"));
        let e = parse("a is 3").unwrap_err();
        assert_eq!(e.column, 6);
        let e = parse("name='open").unwrap_err();
        assert_eq!(e.column, 6);
        let e = parse("a=1 b=2").unwrap_err();
        assert_eq!(e.column, 5);
        let rendered = parse("a=1 AND").unwrap_err().render("a=1 AND");
        assert!(rendered.ends_with("\n  a=1 AND\n         ^"), "{rendered}");
    }

    #[test]
    fn a_where_too_complex_is_refused_at_the_column_where_it_becomes_so() {
        let ors = |n: usize| (0..n).map(|i| format!("a={i}")).collect::<Vec<_>>().join(" OR ");
        assert!(parse(&ors(MAX_CONDITIONS)).is_ok());
        let src = ors(5000);
        let e = parse(&src).unwrap_err();
        let column = ors(MAX_CONDITIONS).len() + " OR ".len() + 1;
        assert_eq!(e.column, column, "{e:?}");
        assert!(e.message.contains("too complex") && e.message.contains("at most 256 conditions"), "{e:?}");

        let nested = |n: usize| format!("{}a=1{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&nested(MAX_NESTING)).is_ok());
        let e = parse(&nested(100_000)).unwrap_err();
        assert_eq!(e.column, MAX_NESTING + 1, "{e:?}");
        assert!(e.message.contains("nest at most 32 deep"), "{e:?}");
        let nots = |n: usize| format!("{}a=1", "NOT ".repeat(n));
        assert!(parse(&nots(MAX_NESTING)).is_ok());
        assert_eq!(parse(&nots(100_000)).unwrap_err().column, MAX_NESTING * 4 + 1);
        // Nesting is counted where it is, not in total: many groups side by side are fine.
        let groups = (0..100).map(|i| format!("(a={i})")).collect::<Vec<_>>().join(" OR ");
        assert!(parse(&groups).is_ok());
    }

    #[test]
    fn sql_binds_values_and_wildcards() {
        let mut p = Vec::new();
        let sql = to_sql(&parse("name=Jo* AND age>3").unwrap().unwrap(), &mut p);
        assert_eq!(
            sql,
            "((json_extract(doc, '$.\"name\"') LIKE ? ESCAPE '\\') AND (json_extract(doc, '$.\"age\"') > ?))"
        );
        assert_eq!(p, vec![SqlValue::Text("Jo%".into()), SqlValue::Real(3.0)]);
        let mut p = Vec::new();
        assert_eq!(to_sql(&parse("a.b=1").unwrap().unwrap(), &mut p), "(json_extract(doc, '$.\"a\".\"b\"') IN (?, ?))");
    }
}
