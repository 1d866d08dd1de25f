//! Any bytes as a record: no panic, and the output is always the drop, the
//! record unchanged, or the record with exactly the mark added; the scan
//! over escaped text answers as the reference scan does; and the memo
//! changes nothing: the input, each of its lines, then the input again go
//! through one memo (the second time it is remembered) and answer as
//! without it.
#![no_main]

use firelens_filter::{Class, Classifier, Memo};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static CLASSIFIER: OnceLock<Classifier> = OnceLock::new();
static REFERENCE: OnceLock<Classifier> = OnceLock::new();
const MARK: &[u8] = br#""log_class":"error""#;

fuzz_target!(|data: &[u8]| {
    let c = CLASSIFIER.get_or_init(Classifier::builtin);
    let (mut scratch, mut out) = (Vec::new(), Vec::new());
    match c.apply(data, &mut scratch, &mut out) {
        Ok(Class::Health) => assert!(out.is_empty()),
        Ok(Class::Other) => assert_eq!(out, data),
        Ok(Class::Error) => {
            // Added (with or without a comma), or an existing value replaced.
            let grew = out.len() - data.len().min(out.len());
            assert!(
                out == data
                    || grew == MARK.len()
                    || grew == MARK.len() + 1
                    || out.windows(MARK.len()).any(|w| w == MARK)
            );
            assert!(out.len() <= data.len() + MARK.len() + 1);
        }
        Err(_) => {}
    }
    // Classifying is the same question as applying.
    let class = c.classify(data, &mut scratch);
    assert_eq!(class, c.apply(data, &mut scratch, &mut out).unwrap_or(Class::Other));
    let reference = REFERENCE.get_or_init(|| Classifier::builtin().reference());
    let mut reference_out = Vec::new();
    assert_eq!(
        reference.apply(data, &mut scratch, &mut reference_out).ok(),
        c.apply(data, &mut scratch, &mut out).ok()
    );
    assert_eq!(reference_out, out);
    let mut memo = Memo::new();
    let (mut with_memo, mut without) = (Vec::new(), Vec::new());
    let pieces = std::iter::once(data)
        .chain(data.split(|&b| b == b'\n'))
        .chain(std::iter::once(data));
    for piece in pieces {
        let a = c.apply_with(piece, &mut memo, &mut scratch, &mut with_memo).ok();
        let b = c.apply(piece, &mut scratch, &mut without).ok();
        assert_eq!((a, &with_memo), (b, &without));
    }
});
