//! Any body: the parser must not panic, every row it keeps must be well formed, and whatever it
//! accepted must serialize to text that parses back to the same points; a series index kept
//! across inputs (warm with earlier inputs' series, small enough to be dropped now and then)
//! must give exactly the plain parse's result.
#![no_main]

use std::cell::RefCell;

use _native::batch::PointBatch;
use _native::lineproto::{parse, serialize, Precision, SeriesIndex};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static INDEX: RefCell<SeriesIndex> = RefCell::new(SeriesIndex::new(1 << 16));
}

fn check(b: &PointBatch) {
    let n = b.len();
    assert_eq!(b.series.len(), n);
    assert_eq!(b.measurement.codes.len(), n);
    assert!(b.tags.iter().all(|c| c.codes.len() == n));
    assert!(b
        .fields
        .iter()
        .all(|c| c.valid.len() == n && c.data.len() == n));
    assert!((0..n).all(|i| !b.row_fields(i).is_empty()));
}

fuzz_target!(|data: &[u8]| {
    let out = parse(data, Precision::Nanosecond, 0);
    check(&out.batch);
    INDEX.with(|idx| {
        let got = idx.borrow_mut().parse(data, Precision::Nanosecond, 0, 1);
        assert_eq!(got.errors, out.errors);
        assert!(got.batch.same_points(&out.batch));
        assert_eq!(got.batch.series_keys, out.batch.series_keys);
    });
    for e in &out.errors {
        assert!(e.line >= 1 && e.column >= 1);
    }
    if out.errors.is_empty() {
        if let Ok(text) = serialize(&out.batch, Precision::Nanosecond) {
            let again = parse(&text, Precision::Nanosecond, 0);
            assert!(
                again.errors.is_empty(),
                "{:?}",
                String::from_utf8_lossy(&text)
            );
            assert!(again.batch.same_points(&out.batch));
        }
    }
});
