//! Level names of error or worse (`[error.levels]`), compared without regard
//! to ASCII case: shared by the text rules and the field rules.

#[derive(Debug, Clone)]
pub(crate) struct Levels(Vec<Vec<u8>>);

impl Levels {
    pub fn new(levels: &[String]) -> Self {
        Self(levels.iter().map(|l| l.to_ascii_lowercase().into_bytes()).collect())
    }

    #[inline]
    pub fn contains(&self, word: &[u8]) -> bool {
        self.0.iter().any(|l| l.eq_ignore_ascii_case(word))
    }
}
