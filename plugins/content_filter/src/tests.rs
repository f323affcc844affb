use serde_json::json;

use crate::config::Settings;
use crate::filter::{Filter, Outcome};

fn filter(v: serde_json::Value) -> Filter {
    let s: Settings = serde_json::from_value(v).unwrap();
    Filter::build(&s).unwrap()
}

#[test]
fn prebuilt_patterns_mask_and_block() {
    let f = filter(json!({"patterns": [
        {"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"},
        {"pattern_type": "prebuilt", "pattern_name": "us_ssn", "action": "BLOCK"},
        {"pattern_type": "regex", "pattern": r"\b[A-Z]{3}-\d{4}\b", "name": "employee_id", "action": "MASK"}
    ]}));
    assert_eq!(f.check("hello"), Outcome::Clean);
    assert_eq!(f.check("mail a.b@example.com or ABC-1234"), Outcome::Masked("mail [EMAIL_REDACTED] or [EMPLOYEE_ID_REDACTED]".into()));
    match f.check("my ssn is 123-45-6789") {
        Outcome::Blocked(reason, details) => {
            assert_eq!(reason, "Content blocked: us_ssn pattern detected");
            assert_eq!(details["pattern"], "us_ssn");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_prebuilt_pattern_compiles_and_matches_an_example() {
    let examples = [
        ("email", "x john.doe@corp.io y"),
        ("us_ssn", "123-45-6789"),
        ("us_ssn_no_dash", "123456789"),
        ("us_phone", "call (415) 555-0134"),
        ("visa", "4111 1111 1111 1111"),
        ("mastercard", "5500-0000-0000-0004"),
        ("amex", "3782 822463 10005"),
        ("discover", "6011000990139424"),
        ("credit_card", "4111111111111111"),
        ("aws_access_key", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_key", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        ("github_token", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
        ("slack_token", "xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx"),
        ("generic_api_key", "api_key: abcdefghijklmnopqrstuvwxyz"),
        ("openai_api_key", "sk-proj-abcdefghijklmnopqrstuvwx"),
        ("ipv4", "10.0.0.255"),
        ("url", "see https://example.com/x"),
        ("iban", "DE89 3704 0044 0532 0130 00"),
        ("passport_us", "C12345678"),
        ("passport_uk", "passport number 123456789"),
        ("br_cpf", "123.456.789-09"),
        ("au_abn", "51 824 753 556"),
        ("street_address", "1600 Pennsylvania Avenue"),
    ];
    assert_eq!(examples.len(), crate::patterns::PREBUILT.len(), "every prebuilt pattern has an example");
    for (name, text) in examples {
        let f = filter(json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": name, "action": "BLOCK"}]}));
        assert!(matches!(f.check(text), Outcome::Blocked(..)), "{name} should match {text:?}");
    }
    let f = filter(json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "phone", "action": "BLOCK"}]}));
    assert!(matches!(f.check("555-123-4567"), Outcome::Blocked(..)), "the documented alias `phone` works");
}

#[test]
fn blocked_words_are_case_insensitive_substrings_with_descriptions() {
    let f = filter(json!({"blocked_words": [
        {"keyword": "Confidential", "action": "BLOCK", "description": "Sensitive internal information"},
        {"keyword": "project x", "action": "MASK"}
    ]}));
    match f.check("this is CONFIDENTIALLY marked") {
        Outcome::Blocked(reason, d) => {
            assert_eq!(reason, "Content blocked: keyword 'confidential' detected (Sensitive internal information)");
            assert_eq!(d["keyword"], "confidential");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.check("about Project X today"), Outcome::Masked("about [KEYWORD_REDACTED] today".into()));
}

#[test]
fn blocked_words_file_content_comes_from_the_proxy() {
    let f = filter(json!({
        "blocked_words_file": "words.yaml",
        "blocked_words_file_content": "blocked_words:\n  - keyword: secret sauce\n    action: MASK\n",
        "keyword_redaction_tag": "***"
    }));
    assert_eq!(f.check("the secret sauce is"), Outcome::Masked("the *** is".into()));
    let s: Settings = serde_json::from_value(json!({"blocked_words_file": "words.yaml"})).unwrap();
    assert!(Filter::build(&s).err().unwrap().contains("was not provided"));
}

#[test]
fn categories_respect_thresholds_whole_words_and_exceptions() {
    let f = filter(json!({"categories": [{"category": "harmful_violence", "action": "BLOCK", "severity_threshold": "medium"}]}));
    match f.check("Tell me how to kill someone quietly") {
        Outcome::Blocked(reason, d) => {
            assert!(reason.contains("harmful_violence category keyword 'how to kill someone'"), "{reason}");
            assert_eq!(d["severity"], "high");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.check("a violent storm"), Outcome::Clean, "low-severity words are below the medium threshold");
    assert_eq!(f.check("the stable stabilised"), Outcome::Clean, "single words match whole words only");
    assert_eq!(f.check("a news report about a massacre"), Outcome::Clean, "exceptions exempt the text");
    let f = filter(json!({"severity_threshold": "low", "categories": [{"category": "violence", "action": "MASK"}]}));
    assert_eq!(f.check("a violent storm"), Outcome::Masked("a [KEYWORD_REDACTED] storm".into()));
    for c in ["hate", "self_harm", "sexual"] {
        let f = filter(json!({"categories": [{"category": c}]}));
        let sample = match c {
            "hate" => "they are subhuman",
            "self_harm" => "I want to end my life",
            _ => "write an explicit sex scene",
        };
        assert!(matches!(f.check(sample), Outcome::Blocked(..)), "{c}");
    }
}

#[test]
fn configuration_errors_name_the_entry() {
    let bad = |v: serde_json::Value| {
        let s: Result<Settings, _> = serde_json::from_value(v);
        match s {
            Err(e) => e.to_string(),
            Ok(s) => Filter::build(&s).err().unwrap_or_default(),
        }
    };
    assert!(
        bad(json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "nope", "action": "BLOCK"}]}))
            .contains("Unknown pattern name: 'nope'")
    );
    assert!(
        bad(json!({"patterns": [{"pattern_type": "regex", "pattern": "(", "action": "BLOCK"}]})).contains("patterns[0]: invalid regex")
    );
    assert!(bad(json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "email", "action": "ZAP"}]})).contains("BLOCK or MASK"));
    assert!(bad(json!({"categories": [{"category": "astrology"}]})).contains("unknown category \"astrology\""));
}

#[test]
fn a_ten_thousand_token_prompt_is_checked_in_linear_time() {
    let f = filter(json!({
        "patterns": [
            {"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"},
            {"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"},
            {"pattern_type": "prebuilt", "pattern_name": "aws_access_key", "action": "BLOCK"}
        ],
        "blocked_words": [{"keyword": "forbidden", "action": "BLOCK"}],
        "categories": [{"category": "violence"}, {"category": "hate"}, {"category": "self_harm"}, {"category": "sexual"}]
    }));
    let text = "The quick brown fox jumps over the lazy dog near the riverbank. ".repeat(640);
    assert!(text.len() > 40_000);
    assert_eq!(f.check(&text), Outcome::Clean);
}

#[test]
#[ignore = "timing probe: cargo test --release -p litellm_content_filter -- --ignored --nocapture"]
fn probe_ten_thousand_token_timing() {
    let f = filter(json!({
        "patterns": [
            {"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"},
            {"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"},
            {"pattern_type": "prebuilt", "pattern_name": "aws_access_key", "action": "BLOCK"},
            {"pattern_type": "prebuilt", "pattern_name": "us_ssn", "action": "BLOCK"}
        ],
        "blocked_words": [{"keyword": "confidential", "action": "BLOCK"}],
        "categories": [{"category": "violence"}, {"category": "hate"}, {"category": "self_harm"}, {"category": "sexual"}]
    }));
    let text = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ".repeat(540);
    for _ in 0..3 {
        let t = std::time::Instant::now();
        for _ in 0..100 {
            assert_eq!(f.check(&text), Outcome::Clean);
        }
        eprintln!("check on {} bytes: {:?}", text.len(), t.elapsed() / 100);
    }
}

#[test]
#[ignore = "timing probe"]
fn probe_parts() {
    let text = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ".repeat(540);
    for (label, cfg) in [
        ("email", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "email", "action": "MASK"}]})),
        ("credit_card", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "credit_card", "action": "BLOCK"}]})),
        ("aws", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "aws_access_key", "action": "BLOCK"}]})),
        ("ssn", json!({"patterns": [{"pattern_type": "prebuilt", "pattern_name": "us_ssn", "action": "BLOCK"}]})),
        ("words", json!({"blocked_words": [{"keyword": "confidential", "action": "BLOCK"}]})),
        (
            "categories",
            json!({"categories": [{"category": "violence"}, {"category": "hate"}, {"category": "self_harm"}, {"category": "sexual"}]}),
        ),
    ] {
        let f = filter(cfg);
        let t = std::time::Instant::now();
        for _ in 0..50 {
            f.check(&text);
        }
        eprintln!("{label}: {:?}", t.elapsed() / 50);
    }
}

#[test]
#[ignore = "timing probe"]
fn probe_aho() {
    use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
    let text = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ".repeat(540);
    let words: Vec<&str> = vec![
        "how to kill someone",
        "torture",
        "massacre",
        "stab",
        "strangle",
        "subhuman",
        "porn",
        "suicidal",
        "history of",
        "news report",
        "kill myself",
    ];
    for (label, kind, ci) in [
        ("dfa ci", Some(AhoCorasickKind::DFA), true),
        ("auto ci", None, true),
        ("dfa cs", Some(AhoCorasickKind::DFA), false),
        ("auto cs", None, false),
    ] {
        let ac = AhoCorasick::builder().ascii_case_insensitive(ci).match_kind(MatchKind::LeftmostLongest).kind(kind).build(&words).unwrap();
        let t = std::time::Instant::now();
        for _ in 0..50 {
            std::hint::black_box(ac.find_iter(&text).count());
        }
        eprintln!("{label}: {:?}", t.elapsed() / 50);
    }
}

#[test]
#[ignore = "timing probe"]
fn probe_regex_modes() {
    let text = "The quick brown fox jumps over the lazy dog near the quiet riverbank today. ".repeat(540);
    for name in ["email", "credit_card", "us_ssn", "aws_access_key"] {
        let src = crate::patterns::lookup(name).unwrap();
        let r = regex::RegexBuilder::new(src).unicode(false).build().unwrap();
        let set = regex::RegexSetBuilder::new([src]).unicode(false).build().unwrap();
        let t = std::time::Instant::now();
        for _ in 0..50 {
            std::hint::black_box(r.is_match(&text));
        }
        let a = t.elapsed() / 50;
        let t = std::time::Instant::now();
        for _ in 0..50 {
            std::hint::black_box(set.matches(&text).matched_any());
        }
        eprintln!("{name}: is_match {a:?}, set {:?}", t.elapsed() / 50);
    }
}
