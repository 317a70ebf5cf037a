//! `[telemetry]`: traces off by default, on from the file or `OTEL_EXPORTER_OTLP_ENDPOINT`.

use super::*;

#[test]
fn traces_are_off_unless_an_endpoint_is_named() {
    let off = load_text(&minimal(), &[]).unwrap();
    assert_eq!(off.telemetry.otlp_endpoint, None);
    assert_eq!(off.telemetry.sampling_ratio, 1.0);
    assert_eq!(
        Settings::load_with_env(None, &env_of(&[]))
            .unwrap()
            .telemetry
            .otlp_endpoint,
        None
    );
}

#[test]
fn the_file_wins_over_the_standard_variable_which_also_works_alone() {
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://from-env:4317")];
    let text = format!(
        "{}\n[telemetry]\notlp_endpoint = \"http://collector:4317\"\nsampling_ratio = 0.25\n",
        minimal()
    );
    let from_file = load_text(&text, &env).unwrap();
    assert_eq!(
        from_file.telemetry.otlp_endpoint.as_deref(),
        Some("http://collector:4317")
    );
    assert_eq!(from_file.telemetry.sampling_ratio, 0.25);
    let from_env = load_text(&minimal(), &env).unwrap();
    assert_eq!(
        from_env.telemetry.otlp_endpoint.as_deref(),
        Some("http://from-env:4317")
    );
    let dev = Settings::load_with_env(None, &env_of(&env)).unwrap();
    assert_eq!(
        dev.telemetry.otlp_endpoint.as_deref(),
        Some("http://from-env:4317")
    );
}

#[test]
fn a_bad_endpoint_or_ratio_is_refused_by_key() {
    let text = format!(
        "{}\n[telemetry]\notlp_endpoint = \"collector:4317\"\nsampling_ratio = 1.5\n",
        minimal()
    );
    let err = load_text(&text, &[]).unwrap_err().to_string();
    assert!(err.contains("telemetry.otlp_endpoint"), "{err}");
    assert!(err.contains("telemetry.sampling_ratio"), "{err}");
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url")];
    let err = load_text(&minimal(), &env).unwrap_err().to_string();
    assert!(err.contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{err}");
}
