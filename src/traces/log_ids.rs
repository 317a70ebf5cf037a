//! `trace_id` and `span_id` on JSON log lines, so a line found in the logs leads to its trace
//! and a trace to its lines.
//!
//! tracing-opentelemetry keeps its ids private to its layer, reachable only through the
//! dispatcher. A formatter cannot ask the dispatcher while it formats (the thread-local one is
//! then not re-entrant), so [`TraceIdsLayer`] copies the ids into each span's extensions when
//! the span is entered (after any `set_parent`), and [`WithTraceIds`] reads them from there.

use opentelemetry::trace::{SpanId, TraceContextExt, TraceId};
use std::fmt;
use std::sync::OnceLock;
use tracing::dispatcher::WeakDispatch;
use tracing::span::Id;
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Copy)]
struct TraceIds {
    trace_id: TraceId,
    span_id: SpanId,
}

/// Put it after the OpenTelemetry layer, in the same subscriber.
#[derive(Default)]
pub struct TraceIdsLayer {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S> Layer<S> for TraceIdsLayer
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<TraceIds>().is_some() {
            return;
        }
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        // No extension guard may be held here: the OpenTelemetry layer locks them itself.
        let Some(context) = tracing_opentelemetry::get_otel_context(id, &dispatch) else {
            return;
        };
        let span_ref = context.span();
        let ids = span_ref.span_context();
        if ids.is_valid() {
            span.extensions_mut().insert(TraceIds {
                trace_id: ids.trace_id(),
                span_id: ids.span_id(),
            });
        }
    }
}

/// Wraps a JSON event format: the innermost entered span's ids go at the end of the object.
pub struct WithTraceIds<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    N: for<'writer> FormatFields<'writer> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = ctx.event_scope().and_then(|mut scope| {
            scope.find_map(|span| span.extensions().get::<TraceIds>().copied())
        });
        let Some(ids) = ids else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::with_capacity(256);
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let Some(head) = line.trim_end().strip_suffix('}') else {
            return writer.write_str(&line);
        };
        let comma = if head.trim_end().ends_with('{') {
            ""
        } else {
            ","
        };
        writeln!(
            writer,
            "{head}{comma}\"trace_id\":\"{}\",\"span_id\":\"{}\"}}",
            ids.trace_id, ids.span_id
        )
    }
}
