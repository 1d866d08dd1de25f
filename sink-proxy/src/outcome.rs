//! What a sink reports for one chunk's share.

use crate::delivered::PartId;

#[derive(Debug)]
pub struct Outcome {
    /// Parts the destination accepted in this attempt.
    pub accepted: Vec<PartId>,
    /// `Err` with the reason when some part was not accepted: the chunk must
    /// be answered with a failure so that Fluent Bit sends it again.
    pub result: Result<(), String>,
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
