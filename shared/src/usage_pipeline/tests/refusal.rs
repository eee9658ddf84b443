//! Rows the database refuses never block the others (SPEC §5): the batch is split until the
//! refused row is found, the good rows are stored and the refused one is set aside in the
//! dead-letter file, counted.

use super::*;
use crate::db::columns;
use crate::db_test;
use crate::usage_pipeline::dead_letter::DeadLetter;
use crate::usage_pipeline::isolate::write_isolating;

fn dead_letters(dir: &Path) -> Vec<DeadLetter> {
    std::fs::read_to_string(dir.join(DEAD_LETTER_FILE_NAME))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A row no database takes: its time has no calendar day.
fn unwritable(i: i64) -> UsageRecord {
    UsageRecord {
        created_at: i64::MAX - i,
        ..crate::db::usage::tests::sample(i)
    }
}

db_test!(
    a_refused_row_is_set_aside_and_every_other_row_of_its_batch_is_stored,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let (sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(50, 20, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        let good = records(0..40);
        for (i, r) in good.iter().enumerate() {
            sink.record(r.clone());
            if i == 17 {
                sink.record(unwritable(900));
            }
        }
        // Rows recorded after the refusal are written too: nothing waits behind it.
        let later = records(40..45);
        let stats = sink.stats();
        eventually(
            Duration::from_secs(20),
            "the refused row is set aside",
            || {
                let s = stats.clone();
                async move { s.dead_letter_rows() == 1 }
            },
        )
        .await;
        for r in &later {
            sink.record(r.clone());
        }
        let all: Vec<_> = good.iter().chain(&later).cloned().collect();
        eventually(Duration::from_secs(20), "every good row is stored", || {
            let db = db.clone();
            async move { stored_rows(&db).await == 45 }
        })
        .await;
        let report = handle.shutdown(Duration::from_secs(10)).await;
        assert_eq!(report.dropped, 0);
        assert_stored_exactly(&db, &all).await;
        let letters = dead_letters(dir.path());
        assert_eq!(letters.len(), 1, "{letters:?}");
        assert_eq!(letters[0].row, unwritable(900));
        assert!(
            letters[0].error.contains("created_at"),
            "{}",
            letters[0].error
        );
        assert_eq!(stats.dead_letter_rows(), 1);
        assert_eq!(stats.dropped_rows(), 0);
    }
);

db_test!(
    a_refused_row_in_the_spill_file_does_not_stop_its_replay,
    |db| {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = records(0..30);
        rows.insert(11, unwritable(901));
        spill::append(&spill_file(dir.path()), &rows).unwrap();
        let (_sink, handle) = UsagePipeline::start(
            db.clone(),
            usage_cfg(100, 20, 10_000),
            dir.path().into(),
            chrono_tz::UTC,
        );
        eventually(
            Duration::from_secs(20),
            "the spill file is replayed",
            || {
                let p = spill_file(dir.path());
                async move { !p.exists() }
            },
        )
        .await;
        handle.shutdown(Duration::from_secs(10)).await;
        rows.remove(11);
        assert_stored_exactly(&db, &rows).await;
        assert_eq!(dead_letters(dir.path()).len(), 1);
    }
);

/// The server's own refusal (a value wider than its column), which the relay's clamping makes
/// impossible for its own rows, is isolated the same way.
#[tokio::test]
async fn mysql_refusing_a_too_wide_value_costs_only_that_row() {
    let Some(t) = crate::testing::mysql().await else {
        return;
    };
    let mut rows = records(0..9);
    rows[4].model = "m".repeat(columns::MODEL + 1);
    let out = write_isolating(&t.db, &rows, chrono_tz::UTC, Batch::New).await;
    assert!(out.failed.is_none(), "{:?}", out.failed);
    assert_eq!(out.refused.len(), 1, "{:?}", out.refused);
    assert_eq!(out.refused[0].0, 4);
    assert!(
        out.refused[0].1.contains("too long"),
        "{}",
        out.refused[0].1
    );
    assert_eq!(out.stored, 8);
    rows.remove(4);
    assert_stored_exactly(&t.db, &rows).await;
}

/// The widths the relay clamps to are the widths of the MySQL schema.
#[tokio::test]
async fn the_column_widths_module_matches_the_mysql_schema() {
    let Some(t) = crate::testing::mysql().await else {
        return;
    };
    let Db::MySql(pool) = &t.db else {
        unreachable!()
    };
    for (table, cols) in [
        ("usage_logs", columns::USAGE_LOG_TEXT_COLUMNS),
        ("usage_daily", &[("model", columns::MODEL)][..]),
        ("usage_hourly", &[("model", columns::MODEL)][..]),
    ] {
        for (col, width) in cols {
            let got: u64 = sqlx::query_scalar(
                "SELECT CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?",
            )
            .bind(table)
            .bind(col)
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(got, *width as u64, "{table}.{col}");
        }
    }
}
