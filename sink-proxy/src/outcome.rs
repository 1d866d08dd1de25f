//! What a sink reports for one chunk's share.

use crate::delivered::PartId;

#[derive(Debug)]
pub struct Outcome {
    /// Parts the destination accepted in this attempt.
    pub accepted: Vec<PartId>,
    /// `Err` when some part was not accepted: the chunk must be answered
    /// with a failure so that Fluent Bit sends it again.
    pub result: Result<(), Failure>,
}

/// Why a destination did not accept its share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    /// Retrying cannot help until something is fixed (access denied, no such
    /// stream, bad credentials); otherwise the retry budget ran out.
    pub permanent: bool,
}

impl Failure {
    pub fn context(self, what: &str) -> Self {
        Self {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
}

impl Default for Outcome {
    /// Nothing to send: complete.
    fn default() -> Self {
        Self {
            accepted: Vec::new(),
            result: Ok(()),
        }
    }
}

impl Outcome {
    pub fn complete(&self) -> bool {
        self.result.is_ok()
    }
}
