//! Reading CSV input in bounded memory: one record at a time, never more than a line limit
//! of one record in memory, whatever the input (a file without newlines, `/dev/zero`, a
//! pipe that never ends).
//!
//! ```text
//!  source ──► BufReader (1 MiB) ──► csv_core (RFC 4180: quotes, "" escapes, \n, \r\n, \r)
//!                                      │ at most max_line_bytes + 1 bytes of one record
//!                                      ▼
//!                     Next::Row        the record's fields, its line and byte offset
//!                     Next::TooLong    the record passed the limit: nothing of it is kept;
//!                                      `skip_rest` reads on to its end in constant memory
//!                     Next::End
//! ```
//!
//! Line numbers are those of the file (1-based; a quoted field may span lines, a record is
//! on the line where it starts). A line ends with `\n`, `\r\n` or a lone `\r` (as records
//! do; inside a quoted field only `\n` counts). Blank lines between records are skipped,
//! as by the `csv` crate, but counted, so that CRLF and CR files and files with blank
//! lines get their real line numbers. A UTF-8 byte order mark at the start is skipped.

use std::io::{self, BufRead};

/// What [`CsvInput::next`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A whole record, in [`CsvInput::record`].
    Row,
    /// A record longer than the line limit: [`CsvInput::line`] and [`CsvInput::start`]
    /// say where it starts; none of it is kept. Call [`CsvInput::skip_rest`] to read on.
    TooLong,
    /// No more records.
    End,
}

/// The fields of the record last read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CsvRecord<'a> {
    bytes: &'a [u8],
    ends: &'a [usize],
}

impl<'a> CsvRecord<'a> {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i` (panics when out of range, like a slice).
    pub(crate) fn get(&self, i: usize) -> &'a [u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    /// Every field, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// A CSV reader that holds at most one record of at most `max_line_bytes` bytes.
pub(crate) struct CsvInput<R> {
    src: R,
    core: csv_core::Reader,
    bytes: Vec<u8>,
    ends: Vec<usize>,
    nbytes: usize,
    nends: usize,
    max_line_bytes: u64,
    /// Bytes consumed from the source.
    position: u64,
    /// Line ends consumed by this reader itself (between records), not by `core`.
    skipped_newlines: u64,
    /// The last byte consumed was a `\r` ending a line: a `\n` next is part of that line
    /// end, anything else starts a new line.
    after_cr: bool,
    /// Where the current record starts: byte offset and line.
    start: u64,
    line: u64,
    /// Bytes of the current record consumed so far.
    consumed: u64,
    /// A too-long record was found and not read to its end yet.
    in_too_long: bool,
    at_end: bool,
}

impl<R: BufRead> CsvInput<R> {
    /// A reader of `src` with `delimiter` that refuses to hold a record of more than
    /// `max_line_bytes` bytes (its line ending not counted).
    pub(crate) fn new(src: R, delimiter: u8, max_line_bytes: u64) -> Self {
        CsvInput {
            src,
            core: csv_core::ReaderBuilder::new().delimiter(delimiter).build(),
            bytes: vec![0; 4096],
            ends: vec![0; 64],
            nbytes: 0,
            nends: 0,
            max_line_bytes,
            position: 0,
            skipped_newlines: 0,
            after_cr: false,
            start: 0,
            line: 1,
            consumed: 0,
            in_too_long: false,
            at_end: false,
        }
    }

    /// The record last read by [`CsvInput::next`] (empty unless it returned `Row`).
    pub(crate) fn record(&self) -> CsvRecord<'_> {
        CsvRecord {
            bytes: &self.bytes[..self.nbytes],
            ends: &self.ends[..self.nends],
        }
    }

    /// The line the record last read starts on (1-based).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The byte offset the record last read starts at (0-based).
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// Bytes read from the source so far.
    pub(crate) fn position(&self) -> u64 {
        self.position
    }

    /// The source read from.
    pub(crate) fn source(&self) -> &R {
        &self.src
    }

    /// The line limit, bytes.
    pub(crate) fn max_line_bytes(&self) -> u64 {
        self.max_line_bytes
    }

    fn current_line(&self) -> u64 {
        self.core.line() + self.skipped_newlines
    }

    /// Skip the line endings between two records, counting them (`\n`, `\r\n`, `\r`).
    /// Returns whether the source is exhausted.
    fn skip_blank_lines(&mut self) -> io::Result<bool> {
        loop {
            let buf = self.src.fill_buf()?;
            if buf.is_empty() {
                return Ok(true);
            }
            let mut n = 0;
            for &b in buf {
                match b {
                    b'\n' => {
                        self.skipped_newlines += 1;
                        self.after_cr = false;
                    }
                    b'\r' => {
                        self.skipped_newlines += u64::from(self.after_cr);
                        self.after_cr = true;
                    }
                    _ => break,
                }
                n += 1;
            }
            let more = n == buf.len();
            self.src.consume(n);
            self.position += n as u64;
            if !more {
                // A record starts here: a `\r` before it ended a line of its own.
                self.skipped_newlines += u64::from(std::mem::take(&mut self.after_cr));
                return Ok(false);
            }
        }
    }

    /// Read the next record.
    pub(crate) fn next(&mut self) -> io::Result<Next> {
        use csv_core::ReadRecordResult as R;
        self.nbytes = 0;
        self.nends = 0;
        if self.at_end {
            return Ok(Next::End);
        }
        let eof = self.skip_blank_lines()?;
        self.start = self.position;
        self.line = self.current_line();
        self.consumed = 0;
        // One byte more than the limit: the line ending of a record of exactly the limit.
        let allowance = self.max_line_bytes.saturating_add(1);
        let mut eof = eof;
        loop {
            let buf = if eof { &[][..] } else { self.src.fill_buf()? };
            let room = allowance - self.consumed;
            if !buf.is_empty() && room == 0 {
                self.in_too_long = true;
                return Ok(Next::TooLong);
            }
            let take = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let (res, nin, nout, nend) = self.core.read_record(
                &buf[..take],
                &mut self.bytes[self.nbytes..],
                &mut self.ends[self.nends..],
            );
            eof = buf.is_empty();
            self.after_cr = nin > 0 && buf[nin - 1] == b'\r';
            self.src.consume(nin);
            self.position += nin as u64;
            self.consumed += nin as u64;
            self.nbytes += nout;
            self.nends += nend;
            match res {
                R::InputEmpty => {}
                R::OutputFull => {
                    // A record's fields never take more bytes than the record.
                    let most = usize::try_from(allowance).unwrap_or(usize::MAX);
                    let n = (self.bytes.len() * 2).min(most).max(self.bytes.len() + 1);
                    self.bytes.resize(n, 0);
                }
                R::OutputEndsFull => {
                    let n = self.ends.len() * 2;
                    self.ends.resize(n, 0);
                }
                R::Record => {
                    // Its line ending (absent at the end of the input) is not counted.
                    let ending = u64::from(nin > 0);
                    if self.consumed - ending > self.max_line_bytes {
                        self.nbytes = 0;
                        self.nends = 0;
                        return Ok(Next::TooLong);
                    }
                    return Ok(Next::Row);
                }
                R::End => {
                    self.at_end = true;
                    return Ok(Next::End);
                }
            }
        }
    }

    /// After [`Next::TooLong`]: read on to the end of that record without keeping it.
    /// Returns the record's length in bytes, its line ending not counted.
    pub(crate) fn skip_rest(&mut self) -> io::Result<u64> {
        use csv_core::ReadRecordResult as R;
        let mut scratch = [0u8; 8192];
        let mut ends = [0usize; 256];
        let mut ending = 0;
        while std::mem::take(&mut self.in_too_long) {
            let buf = self.src.fill_buf()?;
            let (res, nin, _, _) = self.core.read_record(buf, &mut scratch, &mut ends);
            self.after_cr = nin > 0 && buf[nin - 1] == b'\r';
            self.src.consume(nin);
            self.position += nin as u64;
            match res {
                R::InputEmpty | R::OutputFull | R::OutputEndsFull => self.in_too_long = true,
                R::Record => ending = u64::from(nin > 0),
                R::End => self.at_end = true,
            }
        }
        self.nbytes = 0;
        self.nends = 0;
        Ok(self.position - self.start - ending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record as (line, start, fields), or `None` for a too-long one.
    type Read = Option<(u64, u64, Vec<Vec<u8>>)>;

    /// Every record of `input`.
    fn records(input: &[u8], max: u64) -> Vec<Read> {
        let mut r = CsvInput::new(input, b',', max);
        let mut out = Vec::new();
        loop {
            match r.next().unwrap() {
                Next::Row => out.push(Some((
                    r.line(),
                    r.start(),
                    r.record().iter().map(<[u8]>::to_vec).collect(),
                ))),
                Next::TooLong => {
                    out.push(None);
                    r.skip_rest().unwrap();
                }
                Next::End => return out,
            }
        }
    }

    fn row(line: u64, start: u64, fields: &[&str]) -> Read {
        Some((
            line,
            start,
            fields.iter().map(|f| f.as_bytes().to_vec()).collect(),
        ))
    }

    #[test]
    fn lines_count_blank_lines_crlf_and_quoted_newlines() {
        assert_eq!(
            records(b"h\na\n\n\nb\nc", 100),
            vec![
                row(1, 0, &["h"]),
                row(2, 2, &["a"]),
                row(5, 6, &["b"]),
                row(6, 8, &["c"])
            ]
        );
        assert_eq!(
            records(b"h\r\na\r\n\r\nb\r\n", 100),
            vec![row(1, 0, &["h"]), row(2, 3, &["a"]), row(4, 8, &["b"])]
        );
        assert_eq!(
            records(b"h\na,\"x\ny\"\nz\n", 100),
            vec![
                row(1, 0, &["h"]),
                row(2, 2, &["a", "x\ny"]),
                row(4, 10, &["z"])
            ]
        );
        assert_eq!(
            records(b"\xef\xbb\xbfh,i\n", 100),
            vec![row(1, 0, &["h", "i"])]
        );
        assert_eq!(
            records(b"h\ra\r\rb\n\rc\r\n\n\"q\r\"\rd", 100),
            vec![
                row(1, 0, &["h"]),
                row(2, 2, &["a"]),
                row(4, 5, &["b"]),
                row(6, 8, &["c"]),
                row(8, 12, &["q\r"]),
                row(9, 17, &["d"])
            ]
        );
        assert_eq!(records(b"", 100), vec![]);
        assert_eq!(records(b"\n\r\n", 100), vec![]);
    }

    #[test]
    fn a_record_of_the_limit_passes_and_one_byte_more_does_not() {
        let limit = 10;
        let exact = b"0123456789\r\nabc\n";
        assert_eq!(
            records(exact, limit),
            vec![row(1, 0, &["0123456789"]), row(2, 12, &["abc"])]
        );
        let long = b"0123456789x\nabc\n0123456789x";
        assert_eq!(records(long, limit), vec![None, row(2, 12, &["abc"]), None]);
        // A quoted record spanning lines counts all its bytes.
        let quoted = b"\"012\n456\n89x\"\nabc";
        assert_eq!(records(quoted, limit), vec![None, row(4, 14, &["abc"])]);
    }

    #[test]
    fn endless_input_is_refused_at_the_limit_without_reading_further() {
        // An endless line: `next` stops once the limit is passed.
        let mut r = CsvInput::new(io::BufReader::new(io::repeat(b'a')), b',', 1 << 20);
        assert_eq!(r.next().unwrap(), Next::TooLong);
        assert_eq!((r.line(), r.start()), (1, 0));
        assert!(r.position() <= (1 << 20) + 1, "{}", r.position());
        assert!(r.bytes.len() <= (1 << 20) + 1 && r.ends.len() <= 64);
    }
}
