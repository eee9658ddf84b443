//! Rows flowing through the pipeline to the database, through shutdown, and through the
//! spill file across restarts (each test runs on SQLite and on MariaDB).

use super::*;
use crate::db_test;

db_test!(
    rows_recorded_from_many_threads_and_tasks_are_all_stored_once_after_shutdown,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let (sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(64, 20, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let all = records(0..1_200);

        // Six plain OS threads (no runtime at all) and six tasks each record 100 rows.
        let threads: Vec<_> = all[..600]
            .chunks(100)
            .map(|part| {
                let (sink, part) = (sink.clone(), part.to_vec());
                std::thread::spawn(move || part.into_iter().for_each(|r| sink.record(r)))
            })
            .collect();
        let tasks: Vec<_> = all[600..]
            .chunks(100)
            .map(|part| {
                let (sink, part) = (sink.clone(), part.to_vec());
                tokio::spawn(async move {
                    for r in part {
                        sink.record(r);
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        tokio::task::spawn_blocking(move || threads.into_iter().for_each(|t| t.join().unwrap()))
            .await
            .unwrap();

        let stats = handle.stats();
        let report = handle.shutdown(Duration::from_secs(30)).await;
        assert_eq!(report.spilled, 0);
        assert_eq!(report.dropped, 0);
        assert_eq!(stats.written_rows(), 1_200);
        assert_eq!(
            (stats.queue_depth(), stats.buffered(), stats.dropped_rows()),
            (0, 0, 0)
        );
        assert_stored_exactly(&db, &all).await;
        assert!(!spill_file(dir.path()).exists());
    }
);

db_test!(
    a_partial_batch_is_written_after_the_flush_interval_without_a_shutdown,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let (sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(500, 100, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let rows = records(0..7);
        rows.iter().for_each(|r| sink.record(r.clone()));
        let stats = sink.stats();
        // The writer counts a batch once the database acknowledged it, which can be a moment
        // after the rows become visible to other connections.
        eventually(Duration::from_secs(10), "7 rows are written", || async {
            stats.written_rows() == 7
        })
        .await;
        assert_eq!(stored_rows(&db).await, 7);
        let report = handle.shutdown(Duration::from_secs(5)).await;
        assert_eq!(report, FlushReport::default());
        assert_stored_exactly(&db, &rows).await;
    }
);

db_test!(
    a_shutdown_with_the_database_unreachable_spills_everything_and_the_next_start_replays_it_once,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let rows = records(0..50);

        // Arrange: a run whose database never answers.
        let (sink, handle) = UsagePipeline::start(
            unreachable_db(),
            usage_cfg(20, 10, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        rows.iter().for_each(|r| sink.record(r.clone()));
        let stats = handle.stats();
        let report = handle.shutdown(Duration::from_millis(800)).await;
        assert_eq!((report.written, report.spilled, report.dropped), (0, 50, 0));
        assert!(stats.db_failures() >= 1);
        assert!(!stats.last_error().is_empty());
        assert_eq!(spill_lines(dir.path()), 50);
        let saved = std::fs::read(spill_file(dir.path())).unwrap();

        // Act: the next start, with the database back, replays the file by itself.
        let (_sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(20, 10, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let stats = handle.stats();
        eventually(
            Duration::from_secs(10),
            "the spill file is replayed",
            || async { !spill_file(dir.path()).exists() },
        )
        .await;
        assert_eq!(stats.replayed_rows(), 50);
        assert_eq!(
            handle.shutdown(Duration::from_secs(5)).await,
            FlushReport::default()
        );
        assert_stored_exactly(&db, &rows).await;

        // The same file replayed again (a crash before its removal) adds nothing.
        std::fs::write(spill_file(dir.path()), saved).unwrap();
        let (_sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(20, 10, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let report = handle.shutdown(Duration::from_secs(10)).await;
        assert_eq!((report.written, report.spilled, report.dropped), (50, 0, 0));
        assert!(!spill_file(dir.path()).exists());
        assert_stored_exactly(&db, &rows).await;
    }
);

db_test!(
    a_torn_last_line_in_the_spill_file_is_skipped_and_the_other_rows_are_replayed,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let rows = records(0..11);
        let mut text = String::new();
        for r in &rows[..10] {
            text += &serde_json::to_string(r).unwrap();
            text.push('\n');
        }
        let torn = serde_json::to_string(&rows[10]).unwrap();
        text += &torn[..torn.len() / 2];
        std::fs::write(spill_file(dir.path()), text).unwrap();

        let (_sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(4, 10, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let stats = handle.stats();
        eventually(
            Duration::from_secs(10),
            "the spill file is replayed",
            || async { !spill_file(dir.path()).exists() },
        )
        .await;
        assert_eq!(stats.replayed_rows(), 10);
        assert_eq!(stats.dropped_rows(), 1, "the torn row cannot be recovered");
        handle.shutdown(Duration::from_secs(5)).await;
        assert_stored_exactly(&db, &rows[..10]).await;
    }
);

#[tokio::test]
async fn a_row_recorded_after_shutdown_is_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (sink, handle) = UsagePipeline::start(
        unreachable_db(),
        usage_cfg(10, 10, 100),
        dir.path().into(),
        chrono_tz::UTC,
    );
    let report = handle.shutdown(Duration::from_millis(100)).await;
    assert_eq!(report, FlushReport::default());
    sink.record(sample(1));
    assert_eq!(sink.stats().dropped_rows(), 1);
    assert_eq!(sink.stats().queue_depth(), 0);
}

db_test!(
    a_dropped_handle_leaves_the_pipeline_running_until_the_last_sink_is_gone,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let (sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(500, 10_000, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let stats = handle.stats();
        drop(handle);
        let rows = records(0..5);
        rows.iter().for_each(|r| sink.record(r.clone()));
        // The flush interval is long: the rows are written by the final flush, which starts
        // when the last sink goes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(stats.written_rows(), 0);
        assert_eq!(stats.buffered(), 5);
        drop(sink);
        eventually(Duration::from_secs(10), "5 rows are written", || async {
            stats.written_rows() == 5
        })
        .await;
        assert_stored_exactly(&db, &rows).await;
        assert_eq!(stats.dropped_rows(), 0);
    }
);

db_test!(
    a_batch_stored_but_reported_failed_is_not_stored_twice_by_its_retry,
    |db| {
        // The write commits, but its outcome is lost (a timeout that fired after the commit,
        // a connection cut during the acknowledgement): the writer sees an error.
        let dir = tempfile::tempdir().unwrap();
        let (_tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = Arc::new(PipelineStats::default());
        let cfg = usage_cfg(10, 20, 10_000);
        let mut w = Writer::new(
            db.clone(),
            &cfg,
            dir.path().into(),
            chrono_tz::UTC,
            stats,
            rx,
        );
        let first = records(0..10);
        w.accept(first.clone());
        w.start_work(false).await;
        assert!(w.inflight.is_some());
        let res = writer::wait(&mut w.inflight).await;
        assert!(res.failed.is_none(), "{:?}", res.failed);
        assert_eq!(
            res.stored, 10,
            "the first write is a new batch and stores every row"
        );
        let lost_answer = isolate::Isolated {
            failed: Some(writer::WriteError::Timeout(Duration::from_secs(15))),
            ..isolate::Isolated::default()
        };
        assert_eq!(w.finish(lost_answer).await, 0);
        w.retry_at = None; // the backoff is over

        // The retry carries the same rows plus new ones; only the new ones are added.
        let second = records(10..15);
        w.accept(second.clone());
        w.batch_size = 100;
        w.start_work(false).await;
        assert!(w.inflight.is_some());
        let res = writer::wait(&mut w.inflight).await;
        assert_eq!(res.stored, 5, "{res:?}");
        assert_eq!(w.finish(res).await, 15);
        let all: Vec<_> = first.into_iter().chain(second).collect();
        assert_stored_exactly(&db, &all).await;

        // The buffer was emptied by that write: later batches are new again.
        let third = records(15..18);
        w.accept(third.clone());
        w.start_work(true).await;
        assert!(w.inflight.is_some());
        let res = writer::wait(&mut w.inflight).await;
        assert_eq!(w.finish(res).await, 3);
        let all: Vec<_> = all.into_iter().chain(third).collect();
        assert_stored_exactly(&db, &all).await;
    }
);
