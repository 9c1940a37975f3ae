//! One source's lines, capped (issue 16: "keep a capped ring buffer per source"): the oldest
//! lines go first once the buffer holds [`MAX_LINES`] lines or [`MAX_BYTES`] bytes, whichever
//! comes first. Pure; the store numbers the lines.

use std::collections::VecDeque;

use serde::Serialize;

/// Lines kept per source.
pub const MAX_LINES: usize = 10_000;
/// Bytes kept per source, counted as each line's text plus [`LINE_OVERHEAD`].
pub const MAX_BYTES: usize = 4 << 20;
/// A longer line is cut here (one line must not take a whole buffer).
pub const MAX_LINE: usize = 16 << 10;
/// What a line costs besides its text: its number, time and the `String` itself.
pub const LINE_OVERHEAD: usize = std::mem::size_of::<Line>();

/// One line of a source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Its checkpoint: unique and increasing across every source of one daemon run.
    pub seq: u64,
    /// When the container wrote it (ms since the epoch; when it reached the daemon if the
    /// runtime gave no time).
    pub ts: u64,
    pub text: String,
}

impl Line {
    /// A line with `text` cut to [`MAX_LINE`] bytes (at a character boundary, with "…").
    pub fn new(seq: u64, ts: u64, mut text: String) -> Self {
        if text.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            text.push('…');
        }
        // What is counted is what is held (a line read into a larger buffer keeps none of it).
        text.shrink_to_fit();
        Self { seq, ts, text }
    }

    pub fn cost(&self) -> usize {
        LINE_OVERHEAD + self.text.len()
    }
}

/// How much a ring keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub lines: usize,
    pub bytes: usize,
}

impl Default for Cap {
    fn default() -> Self {
        Self { lines: MAX_LINES, bytes: MAX_BYTES }
    }
}

/// The last lines of one source, in order of `seq`.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    lines: VecDeque<Line>,
    bytes: usize,
    cap: Cap,
    /// The `seq` of the newest line dropped for room (0: none yet).
    dropped_to: u64,
}

impl Ring {
    pub fn new(cap: Cap) -> Self {
        Self { cap, ..Self::default() }
    }

    /// Appends `line` (its `seq` greater than any before) and drops the oldest lines over the cap.
    pub fn push(&mut self, line: Line) {
        debug_assert!(self.lines.back().is_none_or(|l| l.seq < line.seq), "seq must increase");
        self.bytes += line.cost();
        self.lines.push_back(line);
        while self.lines.len() > self.cap.lines || (self.bytes > self.cap.bytes && self.lines.len() > 1) {
            let Some(old) = self.lines.pop_front() else { break };
            self.bytes -= old.cost();
            self.dropped_to = old.seq;
        }
    }

    /// The lines after checkpoint `seq`, oldest first.
    pub fn after(&self, seq: u64) -> impl DoubleEndedIterator<Item = &Line> {
        self.lines.range(self.lines.partition_point(|l| l.seq <= seq)..)
    }

    /// Whether lines after checkpoint `seq` were dropped: a client there has a gap.
    pub fn lost_after(&self, seq: u64) -> bool {
        self.dropped_to > seq
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn first_seq(&self) -> Option<u64> {
        self.lines.front().map(|l| l.seq)
    }

    pub fn last_seq(&self) -> Option<u64> {
        self.lines.back().map(|l| l.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(lines: usize, bytes: usize, texts: &[&str]) -> Ring {
        let mut r = Ring::new(Cap { lines, bytes });
        for (i, t) in texts.iter().enumerate() {
            r.push(Line::new(i as u64 + 1, 0, (*t).to_owned()));
        }
        r
    }

    fn seqs<'a>(lines: impl Iterator<Item = &'a Line>) -> Vec<u64> {
        lines.map(|l| l.seq).collect()
    }

    #[test]
    fn the_oldest_lines_go_first_at_the_line_cap() {
        let r = ring(3, usize::MAX, &["a", "b", "c", "d", "e"]);
        assert_eq!(seqs(r.after(0)), [3, 4, 5]);
        assert_eq!((r.first_seq(), r.last_seq(), r.len()), (Some(3), Some(5), 3));
        assert_eq!(r.bytes(), 3 * (LINE_OVERHEAD + 1));
    }

    #[test]
    fn the_oldest_lines_go_first_at_the_byte_cap_whichever_comes_first() {
        let cost = LINE_OVERHEAD + 10;
        let r = ring(100, 3 * cost, &["0123456789"; 7]);
        assert_eq!(seqs(r.after(0)), [5, 6, 7], "three lines fit in the bytes");
        assert!(r.bytes() <= 3 * cost);
        let big = ring(100, cost, &["x", &"y".repeat(50)]);
        assert_eq!(seq_texts(&big), [(2, 50)], "a line bigger than the cap is kept alone");
    }

    fn seq_texts(r: &Ring) -> Vec<(u64, usize)> {
        r.after(0).map(|l| (l.seq, l.text.len())).collect()
    }

    #[test]
    fn a_client_resumes_after_its_checkpoint_and_learns_of_a_gap() {
        let r = ring(3, usize::MAX, &["a", "b", "c", "d", "e"]);
        assert_eq!(seqs(r.after(3)), [4, 5]);
        assert_eq!(seqs(r.after(5)), Vec::<u64>::new(), "up to date");
        assert_eq!(seqs(r.after(99)), Vec::<u64>::new());
        assert!(!r.lost_after(2), "3, 4, 5 are all kept");
        assert!(r.lost_after(1), "2 was dropped");
        assert!(!ring(3, usize::MAX, &["a"]).lost_after(0), "nothing dropped yet");
    }

    #[test]
    fn checkpoints_need_not_be_contiguous() {
        let mut r = Ring::new(Cap::default());
        for seq in [2, 7, 9] {
            r.push(Line::new(seq, 0, "x".into()));
        }
        assert_eq!(seqs(r.after(3)), [7, 9]);
        assert_eq!(seqs(r.after(7)), [9]);
    }

    #[test]
    fn long_lines_are_cut_at_a_character_boundary() {
        let l = Line::new(1, 0, "é".repeat(MAX_LINE));
        assert!(l.text.len() <= MAX_LINE + '…'.len_utf8());
        assert!(l.text.ends_with('…'));
        assert_eq!(Line::new(1, 0, "short".into()).text, "short");
    }

    #[test]
    fn the_default_cap_is_ten_thousand_lines_or_four_mib() {
        let mut r = Ring::new(Cap::default());
        for seq in 1..=12_000 {
            r.push(Line::new(seq, 0, "a short line".into()));
        }
        assert_eq!(r.len(), MAX_LINES);
        let mut r = Ring::new(Cap::default());
        for seq in 1..=2_000 {
            r.push(Line::new(seq, 0, "x".repeat(4096)));
        }
        assert!(r.len() < 1_100 && r.bytes() <= MAX_BYTES, "{} lines, {} bytes", r.len(), r.bytes());
    }
}
