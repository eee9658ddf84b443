//! Building Prometheus's model (`prometheus::proto`) from our numbers: families of counters,
//! gauges and histograms with their labels.

use std::sync::atomic::{AtomicU64, Ordering};

use prometheus::proto::{self, MetricFamily, MetricType};

use super::histogram::Histogram;

pub(super) type Labels<'a> = Vec<(&'a str, String)>;

pub(super) fn metric(labels: Labels<'_>) -> proto::Metric {
    let mut m = proto::Metric::default();
    m.set_label(
        labels
            .into_iter()
            .map(|(k, v)| {
                let mut p = proto::LabelPair::default();
                p.set_name(k.to_string());
                p.set_value(v);
                p
            })
            .collect(),
    );
    m
}

pub(super) fn family(
    name: &str,
    help: &str,
    kind: MetricType,
    metrics: Vec<proto::Metric>,
) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_string());
    f.set_help(help.to_string());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

pub(super) fn values(
    name: &str,
    help: &str,
    kind: MetricType,
    rows: Vec<(Labels<'_>, f64)>,
) -> MetricFamily {
    let metrics = rows
        .into_iter()
        .map(|(labels, v)| {
            let mut m = metric(labels);
            if kind == MetricType::GAUGE {
                let mut g = proto::Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            } else {
                let mut c = proto::Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
            m
        })
        .collect();
    family(name, help, kind, metrics)
}

pub(super) fn counter(name: &str, help: &str, rows: Vec<(Labels<'_>, f64)>) -> MetricFamily {
    values(name, help, MetricType::COUNTER, rows)
}

pub(super) fn gauge(name: &str, help: &str, rows: Vec<(Labels<'_>, f64)>) -> MetricFamily {
    values(name, help, MetricType::GAUGE, rows)
}

pub(super) fn load(c: &AtomicU64) -> f64 {
    c.load(Ordering::Relaxed) as f64
}

pub(super) fn class_label(c: u8) -> String {
    format!("{c}xx")
}

pub(super) fn histograms(name: &str, help: &str, h: &[Histogram; 2]) -> MetricFamily {
    let metrics = [("false", &h[0]), ("true", &h[1])]
        .into_iter()
        .map(|(stream, h)| {
            let mut m = metric(vec![("stream", stream.to_string())]);
            m.set_histogram(h.to_proto());
            m
        })
        .collect();
    family(name, help, MetricType::HISTOGRAM, metrics)
}
