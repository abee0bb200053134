use super::*;

#[test]
fn provider_messages_are_read_from_every_common_shape() {
    let key = "sk-secret";
    for (body, expected) in [
        (
            r#"{"error":{"message":"bad model","type":"x"}}"#,
            "bad model",
        ),
        (r#"{"error":"model not found"}"#, "model not found"),
        (
            r#"[{"error":{"code":400,"message":"gemini says no"}}]"#,
            "gemini says no",
        ),
        (r#"{"message":"plain"}"#, "plain"),
        (
            r#"{"error":{"message":"Incorrect API key provided: sk-secret"}}"#,
            "Incorrect API key provided: [redacted]",
        ),
    ] {
        assert_eq!(
            provider_message(body.as_bytes(), key).as_deref(),
            Some(expected),
            "{body}"
        );
    }
    assert_eq!(provider_message(b"<html>502</html>", key), None);
    assert_eq!(provider_message(br#"{"error":{"code":1}}"#, key), None);
    let long = format!(r#"{{"error":"{}"}}"#, "x".repeat(1000));
    assert_eq!(
        provider_message(long.as_bytes(), key)
            .unwrap()
            .chars()
            .count(),
        MAX_MESSAGE_CHARS + 1
    );
}

#[test]
fn only_a_bad_request_naming_a_parameter_that_was_sent_drops_it() {
    let both = Options {
        response_format: true,
        temperature: true,
    };
    let format = br#"{"error":{"message":"response_format is not supported"}}"#;
    let temperature = br#"{"error":{"message":"Unsupported value: 'temperature' does not support 0.2 with this model."}}"#;
    assert_eq!(
        rejected_parameter(StatusCode::BAD_REQUEST, format, both),
        Some(Optional::ResponseFormat)
    );
    assert_eq!(
        rejected_parameter(StatusCode::BAD_REQUEST, temperature, both),
        Some(Optional::Temperature)
    );
    assert_eq!(
        rejected_parameter(StatusCode::UNAUTHORIZED, format, both),
        None
    );
    let without_format = Options {
        response_format: false,
        ..both
    };
    assert_eq!(
        rejected_parameter(StatusCode::BAD_REQUEST, format, without_format),
        None
    );
    assert_eq!(
        rejected_parameter(
            StatusCode::BAD_REQUEST,
            br#"{"error":"messages is empty"}"#,
            both
        ),
        None
    );
}

#[test]
fn statuses_are_classed_and_retry_after_is_kept() {
    let e = status_error(
        StatusCode::TOO_MANY_REQUESTS,
        Some("7"),
        Some("slow down".into()),
    );
    assert_eq!(
        e,
        GenerateError::Throttled {
            reason: "the LLM answered 429 Too Many Requests: slow down (Retry-After: 7)".into(),
            retry_after: std::time::Duration::from_secs(7),
        }
    );
    // A Retry-After the server's other failures carry is only reported.
    assert!(matches!(
        status_error(StatusCode::INTERNAL_SERVER_ERROR, Some("7"), None),
        GenerateError::Retryable(r) if r.contains("Retry-After: 7")
    ));
    assert!(matches!(
        status_error(StatusCode::TOO_MANY_REQUESTS, Some("soon"), None),
        GenerateError::Retryable(_)
    ));
    assert!(matches!(
        status_error(StatusCode::BAD_GATEWAY, None, None),
        GenerateError::Retryable(_)
    ));
    assert!(matches!(
        status_error(StatusCode::NOT_FOUND, None, None),
        GenerateError::Permanent(_)
    ));
    assert!(
        matches!(status_error(StatusCode::UNAUTHORIZED, Some("1"), None), GenerateError::Permanent(r) if !r.contains("Retry-After"))
    );
}

#[test]
fn cut_off_empty_and_malformed_replies_are_retryable() {
    let cut = br#"{"choices":[{"message":{"content":"{\"files\":["},"finish_reason":"length"}]}"#;
    assert!(
        matches!(read_answer(cut), Err(GenerateError::Retryable(r)) if r.contains("finish_reason: length"))
    );
    let empty = br#"{"choices":[{"message":{"content":null},"finish_reason":"stop"}]}"#;
    assert!(matches!(
        read_answer(empty),
        Err(GenerateError::Retryable(_))
    ));
    assert!(matches!(
        read_answer(br#"{"choices":[]}"#),
        Err(GenerateError::Retryable(_))
    ));
    assert!(matches!(
        read_answer(b"<html>"),
        Err(GenerateError::Retryable(_))
    ));
    let ok =
        br#"{"choices":[{"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}"#;
    assert_eq!(read_answer(ok), Ok("hi".to_owned()));
}

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let secs = std::time::Duration::from_secs;
    assert_eq!(parse_retry_after("120", now), Some(secs(120)));
    assert_eq!(parse_retry_after(" 0 ", now), Some(secs(0)));
    assert_eq!(
        parse_retry_after("Tue, 01 Dec 2026 12:00:30 GMT", now),
        Some(secs(30))
    );
    assert_eq!(
        parse_retry_after("Tue, 01 Dec 2026 11:00:00 GMT", now),
        Some(secs(0)),
        "a date in the past means now"
    );
    assert_eq!(parse_retry_after("later", now), None);
    assert_eq!(parse_retry_after("-5", now), None);
}
