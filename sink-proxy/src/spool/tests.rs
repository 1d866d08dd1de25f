use super::*;

fn settings(name: &str, max_bytes: u64, segment_bytes: u64) -> Settings {
    let dir = std::env::temp_dir().join(format!("spool-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    Settings {
        dir,
        max_bytes,
        segment_bytes,
    }
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = frame::open_frame(payload.len());
    f.extend_from_slice(payload);
    frame::seal(&mut f, 1_000);
    f
}

/// Everything readable from the committed position on, committing as it
/// goes (as a drain does), and the damaged bytes skipped.
fn drain(q: &Queue) -> (Vec<Vec<u8>>, u64) {
    let mut out = Vec::new();
    let mut damaged = 0;
    let mut at = q.position();
    for _ in 0..100_000 {
        match q.read(at).unwrap() {
            Read::Entry { payload, next, .. } => {
                out.push(payload);
                at = next;
            }
            Read::Damaged { bytes, next } => {
                damaged += bytes;
                at = next;
            }
            Read::Moved { next } => at = next,
            Read::Empty => break,
        }
        q.commit(at).unwrap();
    }
    (out, damaged)
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn entries_come_back_in_order_per_queue_and_delivered_segments_are_deleted() {
    let s = settings("order", 1 << 30, 256);
    let (spool, rec) = Spool::open(&s, &["a", "b"]).unwrap();
    assert_eq!(rec.pending_bytes, 0);
    for i in 0..50u32 {
        let body = format!("entry {i} {}", "x".repeat(i as usize));
        spool
            .append(vec![(0, frame(body.as_bytes())), (1, frame(&i.to_le_bytes()))])
            .await
            .unwrap();
    }
    assert!(segment_files(&s.dir.join("a")).len() > 5, "rolled over");
    let (a, damaged) = drain(spool.queue(0).unwrap());
    assert_eq!(damaged, 0);
    let want: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("entry {i} {}", "x".repeat(i)).into_bytes())
        .collect();
    assert_eq!(a, want);
    assert_eq!(segment_files(&s.dir.join("a")).len(), 1, "only the tail is left");
    // What is left on disk: queue b's entries and queue a's tail segment.
    let tail_a = std::fs::metadata(&segment_files(&s.dir.join("a"))[0]).unwrap().len();
    assert_eq!(spool.used(), 50 * (frame::HEADER as u64 + 4) + tail_a);
    let (b, _) = drain(spool.queue(1).unwrap());
    assert_eq!(b.len(), 50);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_restart_resumes_after_the_last_commit() {
    let s = settings("restart", 1 << 30, 1 << 20);
    {
        let (spool, _) = Spool::open(&s, &["q"]).unwrap();
        for i in 0..10u8 {
            spool.append(vec![(0, frame(&[i]))]).await.unwrap();
        }
        let q = spool.queue(0).unwrap();
        let mut at = q.position();
        for _ in 0..4 {
            let Read::Entry { next, .. } = q.read(at).unwrap() else {
                panic!()
            };
            at = next;
        }
        q.commit(at).unwrap();
        // Dropped without a clean shutdown, like kill -9 (no cursor fsync).
    }
    let (spool, rec) = Spool::open(&s, &["q"]).unwrap();
    assert!(rec.cursor_lost.is_empty() && rec.torn_bytes == 0);
    let (got, _) = drain(spool.queue(0).unwrap());
    assert_eq!(got, (4..10u8).map(|i| vec![i]).collect::<Vec<_>>());
    drop(spool);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_torn_tail_is_cut_and_damage_in_between_is_skipped_and_counted() {
    let s = settings("damage", 1 << 30, 1 << 20);
    {
        let (spool, _) = Spool::open(&s, &["q"]).unwrap();
        for i in 0..6u8 {
            spool.append(vec![(0, frame(&[i; 100]))]).await.unwrap();
        }
    }
    let seg = segment_files(&s.dir.join("q")).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let frame_len = frame::HEADER + 100;
    // Flip a byte in entry 2, and leave half an entry at the end (torn).
    bytes[2 * frame_len + frame::HEADER + 5] ^= 0x40;
    let torn = frame(&[9; 100]);
    bytes.extend_from_slice(&torn[..60]);
    std::fs::write(&seg, &bytes).unwrap();

    let (spool, rec) = Spool::open(&s, &["q"]).unwrap();
    assert_eq!(rec.torn_bytes, 60);
    let (got, damaged) = drain(spool.queue(0).unwrap());
    assert_eq!(got, [0u8, 1, 3, 4, 5].iter().map(|&i| vec![i; 100]).collect::<Vec<_>>());
    assert_eq!(damaged, frame_len as u64, "exactly the damaged entry");
    // The spool goes on taking entries after the repair.
    spool.append(vec![(0, frame(b"after"))]).await.unwrap();
    assert_eq!(drain(spool.queue(0).unwrap()).0, vec![b"after".to_vec()]);
    drop(spool);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn a_segment_cut_short_loses_only_what_was_cut() {
    let s = settings("cut", 1 << 30, 300);
    {
        let (spool, _) = Spool::open(&s, &["q"]).unwrap();
        for i in 0..9u8 {
            spool.append(vec![(0, frame(&[i; 100]))]).await.unwrap();
        }
    }
    // Three segments of three entries; cut the middle one mid-entry.
    let segs = segment_files(&s.dir.join("q"));
    assert_eq!(segs.len(), 3);
    let f = std::fs::OpenOptions::new().write(true).open(&segs[1]).unwrap();
    f.set_len((frame::HEADER + 100 + 50) as u64).unwrap();
    let (spool, _) = Spool::open(&s, &["q"]).unwrap();
    let (got, damaged) = drain(spool.queue(0).unwrap());
    let firsts: Vec<u8> = got.iter().map(|p| p[0]).collect();
    assert_eq!(firsts, vec![0, 1, 2, 3, 6, 7, 8]);
    assert_eq!(damaged, 50);
    drop(spool);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn full_refuses_all_or_nothing_and_delivery_makes_room() {
    // Entries of 300 bytes; the tail segment of a delivered queue stays.
    let s = settings("full", 1400, 100);
    let (spool, _) = Spool::open(&s, &["a", "b"]).unwrap();
    let f = || frame(&[7; 280]);
    spool.append(vec![(0, f()), (1, f())]).await.unwrap();
    spool.append(vec![(0, f())]).await.unwrap();
    let used = spool.used();
    let e = spool.append(vec![(0, f()), (1, f())]).await.unwrap_err();
    assert!(matches!(e, AppendError::Full { .. }), "{e:?}");
    assert_eq!(spool.used(), used, "nothing of a refused append stays");
    drain(spool.queue(0).unwrap());
    assert!(spool.used() < used);
    spool.append(vec![(0, f()), (1, f())]).await.unwrap();
    drop(spool);
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test]
async fn one_process_per_spool() {
    let s = settings("lock", 1 << 20, 1 << 20);
    let (spool, _) = Spool::open(&s, &["q"]).unwrap();
    let e = Spool::open(&s, &["q"]).err().unwrap();
    assert!(e.to_string().contains("in use"), "{e}");
    drop(spool);
    assert!(Spool::open(&s, &["q"]).is_ok());
    std::fs::remove_dir_all(&s.dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appends_share_fsyncs_and_each_lands_once() {
    let s = settings("group", 1 << 30, 4096);
    let (spool, _) = Spool::open(&s, &["q"]).unwrap();
    let spool = Arc::new(spool);
    let tasks: Vec<_> = (0..200u32)
        .map(|i| {
            let spool = spool.clone();
            tokio::spawn(async move { spool.append(vec![(0, frame(&i.to_le_bytes()))]).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (got, _) = drain(spool.queue(0).unwrap());
    let mut ids: Vec<u32> = got
        .iter()
        .map(|p| u32::from_le_bytes(p.as_slice().try_into().unwrap()))
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..200).collect::<Vec<_>>());
    std::fs::remove_dir_all(&s.dir).unwrap();
}
