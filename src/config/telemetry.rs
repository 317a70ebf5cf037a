//! The `[telemetry]` table: where traces go (OTLP over gRPC) and what share of them is kept.
//!
//! Traces are off unless an endpoint is named, in the file (`otlp_endpoint`) or, as every
//! OpenTelemetry SDK reads it, in `OTEL_EXPORTER_OTLP_ENDPOINT`. The file wins: it is the
//! reviewed configuration, the variable the fallback a platform injects.

use super::build::{Env, Problems, env_var};
use super::raw::RawTelemetry;
use super::values::{http_url, problem};

/// Tracing export, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    /// OTLP/gRPC collector, e.g. `http://collector:4317`; `None`: no traces are exported.
    pub otlp_endpoint: Option<String>,
    /// Share of new traces kept (0 to 1). A caller's sampled `traceparent` is always followed
    /// (parent-based), so a trace the shop keeps is kept whole.
    pub sampling_ratio: f64,
}

pub(super) const DEFAULT_TELEMETRY: TelemetrySettings = TelemetrySettings {
    otlp_endpoint: None,
    sampling_ratio: 1.0,
};

pub(super) fn telemetry(raw: &RawTelemetry, p: &mut Problems) -> Option<TelemetrySettings> {
    // Both checked before either can end the function, so one run reports both problems.
    let endpoint = raw
        .otlp_endpoint
        .as_deref()
        .map(|text| p.check(endpoint("telemetry.otlp_endpoint", text)));
    let ratio = raw
        .sampling_ratio
        .unwrap_or(DEFAULT_TELEMETRY.sampling_ratio);
    let ratio = if (0.0..=1.0).contains(&ratio) {
        Some(ratio)
    } else {
        let message = format!("must be between 0 and 1, got {ratio}");
        p.push("telemetry.sampling_ratio", message);
        None
    };
    Some(TelemetrySettings {
        otlp_endpoint: super::build::built(endpoint)?,
        sampling_ratio: ratio?,
    })
}

/// Fills the endpoint from `OTEL_EXPORTER_OTLP_ENDPOINT` when the file names none.
pub(super) fn endpoint_from_env(env: Env<'_>, p: &mut Problems) -> Option<String> {
    let text = env_var(env, "OTEL_EXPORTER_OTLP_ENDPOINT")?;
    p.check(endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", &text))
}

/// An absolute http(s) URL, kept as written (the exporter adds the gRPC path itself).
fn endpoint(key: &str, text: &str) -> Result<String, super::Problem> {
    http_url(key, text)?;
    if text.trim() != text {
        return Err(problem(key, format!("has surrounding spaces: {text:?}")));
    }
    Ok(text.to_owned())
}
