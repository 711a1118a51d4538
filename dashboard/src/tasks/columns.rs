//! Compact column storage for [`super::TaskSet`]: interned strings (a dictionary of
//! distinct values, rows hold `u32` ids), one-buffer string arenas with end offsets, and
//! a plain bitset.

use rustc_hash::FxHashMap;

/// The id rows hold when an optional value is missing.
pub const NONE: u32 = u32::MAX;

/// Distinct strings of one column; rows refer to them by id (insertion order).
#[derive(Debug, Default, Clone)]
pub struct Dict {
    values: Vec<Box<str>>,
    index: FxHashMap<Box<str>, u32>,
}

impl Dict {
    /// The id of `value`, adding it on first sight.
    pub fn intern(&mut self, value: &str) -> u32 {
        if let Some(&id) = self.index.get(value) {
            return id;
        }
        let id = u32::try_from(self.values.len()).unwrap_or(NONE - 1);
        self.values.push(value.into());
        self.index.insert(value.into(), id);
        id
    }

    /// The id of an optional value ([`NONE`] when missing).
    pub fn intern_opt(&mut self, value: Option<&str>) -> u32 {
        value.map_or(NONE, |v| self.intern(v))
    }

    pub fn find(&self, value: &str) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// The value of `id`; empty for [`NONE`] or an unknown id.
    pub fn get(&self, id: u32) -> &str {
        self.values.get(id as usize).map_or("", |v| v)
    }

    pub fn opt(&self, id: u32) -> Option<&str> {
        (id != NONE).then(|| self.get(id))
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Each id's position in the sorted order of the values.
    pub fn ranks(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.values.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.get(a).cmp(self.get(b)));
        let mut ranks = vec![0; order.len()];
        for (rank, id) in order.into_iter().enumerate() {
            ranks[id as usize] = rank as u32;
        }
        ranks
    }

    pub fn heap_bytes(&self) -> usize {
        let text: usize = self.values.iter().map(|v| v.len()).sum();
        // The values and the index each hold the text once, plus a pointer pair per entry.
        2 * text + self.values.len() * 48
    }
}

/// One string per row, in one buffer.
#[derive(Debug, Default, Clone)]
pub struct Strs {
    bytes: String,
    ends: Vec<usize>,
}

impl Strs {
    pub fn push(&mut self, s: &str) {
        self.bytes.push_str(s);
        self.ends.push(self.bytes.len());
    }

    pub fn get(&self, row: usize) -> &str {
        let start = if row == 0 { 0 } else { self.ends[row - 1] };
        &self.bytes[start..self.ends[row]]
    }

    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * std::mem::size_of::<usize>()
    }
}

/// An optional string per row, cut to a display length.
#[derive(Debug, Default, Clone)]
pub struct OptStrs {
    strs: Strs,
    some: Vec<bool>,
}

impl OptStrs {
    pub fn push(&mut self, s: Option<&str>, max_bytes: usize) {
        self.strs.push(s.map_or("", |s| cut(s, max_bytes)));
        self.some.push(s.is_some());
    }

    pub fn get(&self, row: usize) -> Option<&str> {
        self.some[row].then(|| self.strs.get(row))
    }

    pub fn heap_bytes(&self) -> usize {
        self.strs.heap_bytes() + self.some.capacity()
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A fixed-size set of row numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitset {
    words: Vec<u64>,
    len: usize,
}

impl Bitset {
    pub fn new(len: usize) -> Self {
        Bitset {
            words: vec![0; len.div_ceil(64)],
            len,
        }
    }

    pub fn set(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn contains(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dicts_intern_and_rank() {
        let mut d = Dict::default();
        assert_eq!(d.intern("b"), 0);
        assert_eq!(d.intern("a"), 1);
        assert_eq!(d.intern("b"), 0);
        assert_eq!(d.intern_opt(None), NONE);
        assert_eq!(d.opt(NONE), None);
        assert_eq!(d.get(1), "a");
        assert_eq!(d.ranks(), vec![1, 0]);
        assert_eq!(d.find("c"), None);
    }

    #[test]
    fn arenas_keep_rows_apart_and_cut_at_char_boundaries() {
        let mut s = OptStrs::default();
        s.push(Some("héllo"), 2);
        s.push(None, 10);
        s.push(Some(""), 10);
        assert_eq!(s.get(0), Some("h"));
        assert_eq!(s.get(1), None);
        assert_eq!(s.get(2), Some(""));
        let mut b = Bitset::new(130);
        b.set(0);
        b.set(129);
        assert!(b.contains(129) && !b.contains(128) && !b.contains(500));
        assert_eq!(b.count(), 2);
    }
}
