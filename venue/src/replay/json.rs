//! A small borrowing JSON scanner for the recorder's lines: total (errors, never
//! panics), allocation free, and fast because it only tokenises what Binance sends
//! (objects, arrays, strings without escapes, numbers, true/false/null).

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum JsonError {
    #[error("unexpected end of input")]
    Eof,
    #[error("unexpected byte {byte:#04x} at {pos}")]
    Unexpected { byte: u8, pos: usize },
    #[error("string escapes are not supported (at {0})")]
    Escape(usize),
    #[error("nesting deeper than 32")]
    TooDeep,
}

pub struct Scanner<'a> {
    b: &'a [u8],
    pub pos: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Scanner { b, pos: 0 }
    }

    #[inline]
    pub fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\r' || c == b'\n' {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    #[inline]
    pub fn peek(&mut self) -> Result<u8, JsonError> {
        self.ws();
        self.b.get(self.pos).copied().ok_or(JsonError::Eof)
    }

    #[inline]
    pub fn expect(&mut self, c: u8) -> Result<(), JsonError> {
        let got = self.peek()?;
        if got != c {
            return Err(JsonError::Unexpected {
                byte: got,
                pos: self.pos,
            });
        }
        self.pos += 1;
        Ok(())
    }

    /// After a value inside an object/array: `,` → true (more), closing `end` → false.
    #[inline]
    pub fn more(&mut self, end: u8) -> Result<bool, JsonError> {
        let c = self.peek()?;
        self.pos += 1;
        if c == b',' {
            Ok(true)
        } else if c == end {
            Ok(false)
        } else {
            Err(JsonError::Unexpected {
                byte: c,
                pos: self.pos - 1,
            })
        }
    }

    /// A string's raw bytes (between the quotes).
    #[inline]
    pub fn string(&mut self) -> Result<&'a [u8], JsonError> {
        self.expect(b'"')?;
        let start = self.pos;
        let rest = self.b.get(start..).ok_or(JsonError::Eof)?;
        for (i, &c) in rest.iter().enumerate() {
            if c == b'"' {
                self.pos = start + i + 1;
                return Ok(&rest[..i]);
            }
            if c == b'\\' {
                return Err(JsonError::Escape(start + i));
            }
        }
        Err(JsonError::Eof)
    }

    /// A bare token (number, true, false, null): its bytes.
    #[inline]
    pub fn atom(&mut self) -> Result<&'a [u8], JsonError> {
        self.ws();
        let start = self.pos;
        while let Some(&c) = self.b.get(self.pos) {
            if c == b','
                || c == b'}'
                || c == b']'
                || c == b' '
                || c == b'\n'
                || c == b'\r'
                || c == b'\t'
            {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            return match self.b.get(start) {
                Some(&byte) => Err(JsonError::Unexpected { byte, pos: start }),
                None => Err(JsonError::Eof),
            };
        }
        Ok(&self.b[start..self.pos])
    }

    /// The raw bytes of any value (for arrays parsed later), validated structurally.
    pub fn raw_value(&mut self) -> Result<&'a [u8], JsonError> {
        self.ws();
        let start = self.pos;
        self.skip_value(0)?;
        Ok(&self.b[start..self.pos])
    }

    /// Skip one value. Containers are skipped by a tight bracket-and-quote scan (no
    /// recursion, so no depth limit is needed); their contents are not validated here,
    /// only what is later decoded is.
    pub fn skip_value(&mut self, _depth: u32) -> Result<(), JsonError> {
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let b = self.b;
                let mut i = self.pos;
                let mut depth = 0u32;
                let mut in_str = false;
                while i < b.len() {
                    let c = b[i];
                    if in_str {
                        if c == b'"' {
                            in_str = false;
                        } else if c == b'\\' {
                            return Err(JsonError::Escape(i));
                        }
                    } else {
                        match c {
                            b'"' => in_str = true,
                            b'[' | b'{' => depth += 1,
                            b']' | b'}' => {
                                depth -= 1;
                                if depth == 0 {
                                    self.pos = i + 1;
                                    return Ok(());
                                }
                            }
                            _ => {}
                        }
                    }
                    i += 1;
                }
                return Err(JsonError::Eof);
            }
            _ => {
                self.atom()?;
            }
        }
        Ok(())
    }
}

/// (price text, qty text).
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// Iterate `[["price","qty"],…]` pairs from the raw array bytes.
pub struct PairIter<'a> {
    s: Scanner<'a>,
    started: bool,
    done: bool,
}

impl<'a> PairIter<'a> {
    pub fn new(raw: &'a [u8]) -> Self {
        PairIter {
            s: Scanner::new(raw),
            started: false,
            done: raw.is_empty(),
        }
    }

    /// Next (price text, qty text); `Ok(None)` at the end.
    #[inline]
    pub fn next_pair(&mut self) -> Result<Option<Pair<'a>>, JsonError> {
        if self.done {
            return Ok(None);
        }
        if !self.started {
            self.started = true;
            self.s.expect(b'[')?;
            if self.s.peek()? == b']' {
                self.done = true;
                return Ok(None);
            }
        } else if !self.s.more(b']')? {
            self.done = true;
            return Ok(None);
        }
        self.s.expect(b'[')?;
        let p = self.s.string()?;
        self.s.expect(b',')?;
        let q = self.s.string()?;
        self.s.expect(b']')?;
        Ok(Some((p, q)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_errors() {
        let mut it = PairIter::new(br#"[["1.0","2"],["3","0.000"]]"#);
        assert_eq!(it.next_pair().unwrap(), Some((&b"1.0"[..], &b"2"[..])));
        assert_eq!(it.next_pair().unwrap(), Some((&b"3"[..], &b"0.000"[..])));
        assert_eq!(it.next_pair().unwrap(), None);
        let mut e = PairIter::new(br#"[]"#);
        assert_eq!(e.next_pair().unwrap(), None);
        let mut bad = PairIter::new(br#"[["1","#);
        assert!(bad.next_pair().is_err());
        let mut s = Scanner::new(br#"{"a":[1,{"b":null}],"c":"x\"y"}"#);
        // The backslash is byte 26 of the text.
        assert_eq!(s.skip_value(0), Err(JsonError::Escape(26)));
        let mut deep = Vec::new();
        deep.extend(std::iter::repeat_n(b'[', 40));
        assert_eq!(Scanner::new(&deep).skip_value(0), Err(JsonError::Eof));
        let mut s = Scanner::new(br#"[1,["a]",{"x":[]}]],"#);
        s.skip_value(0).unwrap();
        assert_eq!(s.pos, 19);
    }
}
