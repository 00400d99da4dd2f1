//! The runtime's tracing spans: a task's submit, run and finish, and the transfer of
//! its value between nodes, are visible to any `tracing` subscriber, with user events
//! nested under the task that emitted them.

mod support;

use doreisa::core::TaskOptions;
use std::sync::{Arc, Mutex};
use support::*;
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Records the names of the spans created, and of the span each event was in.
#[derive(Clone, Default)]
struct SpanLog {
    spans: Arc<Mutex<Vec<String>>>,
    events_in: Arc<Mutex<Vec<(String, String)>>>,
}

impl<S> Layer<S> for SpanLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        self.spans
            .lock()
            .unwrap()
            .push(attrs.metadata().name().to_string());
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.event_span(event) {
            let mut message = String::new();
            event.record(
                &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    if field.name() == "message" {
                        message = format!("{value:?}");
                    }
                },
            );
            self.events_in
                .lock()
                .unwrap()
                .push((span.name().to_string(), message));
        }
    }
}

doreisa::core::remote! {
    /// Logs an event, then returns a value too large to travel inline.
    pub fn noisy(seed: u8) -> Vec<u8> {
        tracing::info!("inside the user task");
        vec![seed; 128 * 1024]
    }
}

#[test]
fn tasks_and_transfers_have_spans() {
    let log = SpanLog::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(log.clone()))
        .unwrap();
    let mut registry = registry();
    noisy::register(&mut registry);
    let cluster = doreisa::core::Cluster::start(
        doreisa::core::ClusterConfig::default()
            .nodes(2)
            .compute_threads(1),
        registry,
    )
    .unwrap();
    let driver = cluster.driver().clone();
    let remote = cluster.nodes()[1];
    let value = noisy::remote_with(&driver, TaskOptions::on(remote), 7).unwrap();
    assert_eq!(driver.get(&value).unwrap(), vec![7u8; 128 * 1024]);
    drop(value);
    assert_drained(&cluster);

    let spans = log.spans.lock().unwrap().clone();
    for name in [
        "task.submit",
        "task.run",
        "task.finish",
        "object.send",
        "object.receive",
    ] {
        assert!(
            spans.iter().any(|s| s == name),
            "no {name} span in {spans:?}"
        );
    }
    let events = log.events_in.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|(span, message)| span == "task.run" && message.contains("inside the user task")),
        "{events:?}"
    );
}
