//! Where each value of a RON document starts, by path (`actors[2].core`).
//!
//! `ron` reports a position for syntax and type errors, but once a document has parsed, the
//! values carry no spans. Validation errors (a core that is not online, a duplicate name) must
//! still point at the line and column, so this module scans the text a second time with a small
//! tokenizer and records the start of every value under a path:
//!
//! - struct fields: `supervision.intensity.max_restarts`
//! - list elements: `actors[0]`, `housekeeping_cores[1]`
//! - map entries: `params.threshold`
//! - tuple elements: `.0`, `.1`; `Some(x)` is transparent (the path of `x` is the path of the
//!   option), so an `Option` field is found under the field's own name.
//!
//! The scan is best effort: on text it does not understand it stops and keeps what it found.
//! It only runs on text `ron` has already accepted, so in practice it understands all of it.

use std::collections::HashMap;

/// A 1-based line and column (columns count characters, like `ron`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl std::fmt::Display for Pos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Value start positions by path.
#[derive(Clone, Debug, Default)]
pub struct Locations {
    by_path: HashMap<String, Pos>,
}

impl Locations {
    /// Scan `src`.
    pub fn scan(src: &str) -> Self {
        let tokens = tokenize(src);
        let mut parser = Parser {
            tokens: &tokens,
            at: 0,
            out: HashMap::new(),
            depth: 0,
        };
        parser.skip_attributes();
        parser.value(String::new());
        Locations {
            by_path: parser.out,
        }
    }

    /// Where the value at `path` starts.
    pub fn get(&self, path: &str) -> Option<Pos> {
        self.by_path.get(path).copied()
    }

    /// The first of `paths` that is known (e.g. the field, else its parent struct).
    pub fn first(&self, paths: &[&str]) -> Option<Pos> {
        paths.iter().find_map(|p| self.get(p))
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Punct(char),
    /// A string, number, char or other scalar; the text does not matter here.
    Scalar(String),
}

/// Tokens with their start position.
fn tokenize(src: &str) -> Vec<(Tok, Pos)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut col) = (0usize, 1usize, 1usize);
    // Advance one char, keeping line/column.
    let step = |i: &mut usize, line: &mut usize, col: &mut usize| {
        if chars[*i] == '\n' {
            *line += 1;
            *col = 1;
        } else {
            *col += 1;
        }
        *i += 1;
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        if c.is_whitespace() {
            step(&mut i, &mut line, &mut col);
        } else if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                step(&mut i, &mut line, &mut col);
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            // Block comments nest in RON.
            let mut depth = 0usize;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    step(&mut i, &mut line, &mut col);
                    step(&mut i, &mut line, &mut col);
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    step(&mut i, &mut line, &mut col);
                    step(&mut i, &mut line, &mut col);
                    if depth == 0 {
                        break;
                    }
                } else {
                    step(&mut i, &mut line, &mut col);
                }
            }
        } else if c == '"' || (c == 'b' && chars.get(i + 1) == Some(&'"')) {
            if c == 'b' {
                step(&mut i, &mut line, &mut col);
            }
            step(&mut i, &mut line, &mut col);
            // The text matters only for map keys; escapes are kept as written.
            let mut text = String::new();
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    text.push(chars[i]);
                    step(&mut i, &mut line, &mut col);
                }
                if i < chars.len() {
                    text.push(chars[i]);
                    step(&mut i, &mut line, &mut col);
                }
            }
            if i < chars.len() {
                step(&mut i, &mut line, &mut col);
            }
            out.push((Tok::Scalar(text), pos));
        } else if (c == 'r' || c == 'b')
            && matches!(chars.get(i + 1), Some('#') | Some('"'))
            && is_raw_string_start(&chars, i)
        {
            // r"..." / r#"..."# / br#"..."#
            if c == 'b' {
                step(&mut i, &mut line, &mut col);
            }
            step(&mut i, &mut line, &mut col); // r
            let mut hashes = 0;
            while i < chars.len() && chars[i] == '#' {
                hashes += 1;
                step(&mut i, &mut line, &mut col);
            }
            step(&mut i, &mut line, &mut col); // opening quote
            'raw: while i < chars.len() {
                if chars[i] == '"' && (1..=hashes).all(|k| chars.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        step(&mut i, &mut line, &mut col);
                    }
                    break 'raw;
                }
                step(&mut i, &mut line, &mut col);
            }
            out.push((Tok::Scalar(String::new()), pos));
        } else if c == '\'' {
            step(&mut i, &mut line, &mut col);
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    step(&mut i, &mut line, &mut col);
                }
                if i < chars.len() {
                    step(&mut i, &mut line, &mut col);
                }
            }
            if i < chars.len() {
                step(&mut i, &mut line, &mut col);
            }
            out.push((Tok::Scalar(String::new()), pos));
        } else if c.is_alphabetic() || c == '_' {
            let mut ident = String::new();
            // Raw identifiers: r#name
            if c == 'r' && chars.get(i + 1) == Some(&'#') {
                step(&mut i, &mut line, &mut col);
                step(&mut i, &mut line, &mut col);
            }
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                ident.push(chars[i]);
                step(&mut i, &mut line, &mut col);
            }
            out.push((Tok::Ident(ident), pos));
        } else if c.is_ascii_digit() || ((c == '-' || c == '+') && i + 1 < chars.len()) {
            let mut text = String::new();
            text.push(c);
            step(&mut i, &mut line, &mut col);
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '+' | '-'))
            {
                text.push(chars[i]);
                step(&mut i, &mut line, &mut col);
            }
            out.push((Tok::Scalar(text), pos));
        } else {
            out.push((Tok::Punct(c), pos));
            step(&mut i, &mut line, &mut col);
        }
    }
    out
}

fn is_raw_string_start(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    if chars[i] == 'b' {
        if chars.get(j) != Some(&'r') {
            return false;
        }
        j += 1;
    }
    while chars.get(j) == Some(&'#') {
        j += 1;
    }
    chars.get(j) == Some(&'"')
}

/// Nesting limit: deeper documents are not scanned further (a limit on every loop).
const MAX_DEPTH: usize = 64;

struct Parser<'t> {
    tokens: &'t [(Tok, Pos)],
    at: usize,
    out: HashMap<String, Pos>,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at).map(|(t, _)| t)
    }

    fn peek2(&self) -> Option<&Tok> {
        self.tokens.get(self.at + 1).map(|(t, _)| t)
    }

    fn pos(&self) -> Option<Pos> {
        self.tokens.get(self.at).map(|(_, p)| *p)
    }

    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }

    /// `#![enable(...)]` lines at the top of a file.
    fn skip_attributes(&mut self) {
        while self.is_punct('#') {
            // # ! [ ... ]
            let mut depth = 0i32;
            while let Some(tok) = self.peek() {
                let tok = tok.clone();
                self.at += 1;
                match tok {
                    Tok::Punct('[') => depth += 1,
                    Tok::Punct(']') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    fn record(&mut self, path: &str) {
        if let Some(pos) = self.pos() {
            self.out.entry(path.to_string()).or_insert(pos);
        }
    }

    /// Parse one value at `path`. Returns false when the text stops making sense.
    fn value(&mut self, path: String) -> bool {
        if self.depth >= MAX_DEPTH {
            return false;
        }
        self.depth += 1;
        let ok = self.value_inner(path);
        self.depth -= 1;
        ok
    }

    fn value_inner(&mut self, path: String) -> bool {
        if matches!(
            self.peek(),
            Some(Tok::Ident(_) | Tok::Scalar(_) | Tok::Punct('(' | '[' | '{'))
        ) {
            self.record(&path);
        }
        match self.peek().cloned() {
            Some(Tok::Ident(name)) => {
                self.at += 1;
                if self.is_punct('(') {
                    // `Some(x)` is transparent; other names are struct or variant names.
                    self.group(&path, ')', name == "Some")
                } else {
                    true
                }
            }
            Some(Tok::Punct('(')) => self.group(&path, ')', false),
            Some(Tok::Punct('[')) => self.group(&path, ']', false),
            Some(Tok::Punct('{')) => self.map(&path),
            Some(Tok::Scalar(_)) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    /// `( ... )` or `[ ... ]`; the opening token is current.
    fn group(&mut self, path: &str, close: char, transparent: bool) -> bool {
        self.at += 1; // opening bracket
        let mut index = 0usize;
        loop {
            if self.is_punct(close) {
                self.at += 1;
                return true;
            }
            let child = if close == ']' {
                format!("{path}[{index}]")
            } else if let (Some(Tok::Ident(key)), Some(Tok::Punct(':'))) =
                (self.peek().cloned(), self.peek2())
            {
                self.at += 2;
                join(path, &key)
            } else if transparent {
                path.to_string()
            } else {
                join(path, &index.to_string())
            };
            if !self.value(child) {
                return false;
            }
            index += 1;
            if self.is_punct(',') {
                self.at += 1;
            } else if !self.is_punct(close) {
                return false;
            }
        }
    }

    /// `{ key: value, ... }`: the key's text (strings unquoted) names the entry.
    fn map(&mut self, path: &str) -> bool {
        self.at += 1;
        loop {
            if self.is_punct('}') {
                self.at += 1;
                return true;
            }
            let key = match self.peek().cloned() {
                Some(Tok::Ident(k)) | Some(Tok::Scalar(k)) => k,
                _ => return false,
            };
            self.at += 1;
            if !self.is_punct(':') {
                return false;
            }
            self.at += 1;
            if !self.value(join(path, &key)) {
                return false;
            }
            if self.is_punct(',') {
                self.at += 1;
            } else if !self.is_punct('}') {
                return false;
            }
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: usize, col: usize) -> Option<Pos> {
        Some(Pos { line, col })
    }

    #[test]
    fn finds_fields_list_elements_and_options() {
        let src = r##"#![enable(implicit_some)]
// a comment with "quotes" and (parens)
Topology(
    engine: "e1", /* block /* nested */ comment */
    actors: [
        (name: "a", core: 1, idle: Backoff(min_sleep_us: 50)),
        (
            name: "b",
            core: 0,
            sched_fifo: Some((priority: 10)),
        ),
    ],
    venue: Some(Tcp(order_addr: "127.0.0.1:1", md_addr: r#"x"y"#)),
    map: { "k": 1, other: [2, 3] },
)
"##;
        let loc = Locations::scan(src);
        assert_eq!(loc.get(""), p(3, 1));
        assert_eq!(loc.get("engine"), p(4, 13));
        assert_eq!(loc.get("actors"), p(5, 13));
        assert_eq!(loc.get("actors[0]"), p(6, 9));
        assert_eq!(loc.get("actors[0].core"), p(6, 27));
        assert_eq!(loc.get("actors[0].idle.min_sleep_us"), p(6, 58));
        assert_eq!(loc.get("actors[1].name"), p(8, 19));
        assert_eq!(loc.get("actors[1].core"), p(9, 19));
        assert_eq!(loc.get("actors[1].sched_fifo.priority"), p(10, 41));
        assert_eq!(loc.get("venue.md_addr"), p(13, 57));
        assert_eq!(loc.get("map.k"), p(14, 17));
        assert_eq!(loc.get("map.other[1]"), p(14, 31));
        assert_eq!(loc.get("actors[2]"), None);
    }

    #[test]
    fn stops_quietly_on_nonsense() {
        let loc = Locations::scan("Topology(engine: \"x\", actors: [ ) ");
        assert_eq!(loc.get("engine"), p(1, 18));
        assert_eq!(loc.get("actors[0]"), None);
    }
}
