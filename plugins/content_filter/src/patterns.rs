//! The prebuilt patterns, by LiteLLM's `pattern_name`. Our own regexes for
//! the same kinds of data. They spell out letter case themselves (`[A-Za-z]`,
//! `(?i:...)` on keywords) instead of compiling case-insensitively, which
//! keeps the regex engine's literal prefilters.

/// `(pattern_name, regex)`.
pub const PREBUILT: &[(&str, &str)] = &[
    ("email", r"\b[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}\b"),
    ("us_ssn", r"\b\d{3}-\d{2}-\d{4}\b"),
    (
        "us_ssn_no_dash",
        r"\b(?:00[1-9]|0[1-9]\d|[1-578]\d{2}|6[0-57-9]\d|66[0-57-9])(?:0[1-9]|[1-9]\d)(?:000[1-9]|00[1-9]\d|0[1-9]\d{2}|[1-9]\d{3})\b",
    ),
    ("us_phone", r"(?:\+?1[\s.\-]?)?(?:\(\d{3}\)|\b\d{3})[\s.\-]?\d{3}[\s.\-]\d{4}\b"),
    ("visa", r"\b4\d{3}(?:[\s\-]?\d{4}){3}\b"),
    ("mastercard", r"\b5[1-5]\d{2}(?:[\s\-]?\d{4}){3}\b"),
    ("amex", r"\b3[47]\d{2}[\s\-]?\d{6}[\s\-]?\d{5}\b"),
    ("discover", r"\b6(?:011|5\d{2})(?:[\s\-]?\d{4}){3}\b"),
    ("credit_card", r"\b(?:4\d{3}|5[1-5]\d{2}|6(?:011|5\d{2}))(?:[\s\-]?\d{4}){3}\b|\b3[47]\d{2}[\s\-]?\d{6}[\s\-]?\d{5}\b"),
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("aws_secret_key", r"(?i:aws_secret_access_key|secret_access_key|aws_secret)\s*[:=]\s*[A-Za-z0-9/+=]{40}"),
    ("github_token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}\b|\bgithub_pat_[A-Za-z0-9_]{22,}\b"),
    ("slack_token", r"\bxox[pboar]-[0-9]{10,13}-[0-9]{10,13}(?:-[A-Za-z0-9]{24,32})?\b"),
    ("generic_api_key", r"\b(?i:api[_\-\s]?key)\b\s*[:=\s]\s*['\x22]?[A-Za-z0-9_\-]{20,}"),
    ("openai_api_key", r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}\b"),
    ("ipv4", r"\b(?:(?:25[0-5]|2[0-4]\d|1\d{2}|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d{2}|[1-9]?\d)\b"),
    ("url", r"\b(?i:https?://|www\.)[^\s<>\x22']+"),
    ("iban", r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){2,7}(?:\s?[A-Z0-9]{1,3})?\b"),
    ("passport_us", r"\b[A-Z]\d{8}\b"),
    ("passport_uk", r"\b(?i:passport(?:\s+(?:no|number|#))?)[:\s]+\d{9}\b"),
    ("br_cpf", r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b"),
    ("au_abn", r"\b\d{2}\s?\d{3}\s?\d{3}\s?\d{3}\b"),
    (
        "street_address",
        r"\b\d{1,6}\s+(?:[A-Za-z0-9.'\-]+\s+){1,4}(?i:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl)\b\.?",
    ),
];

/// Prebuilt patterns that cannot match text without an ASCII digit; checked
/// with one byte scan before running their regexes.
pub const NEEDS_DIGIT: &[&str] = &[
    "us_ssn",
    "us_ssn_no_dash",
    "us_phone",
    "visa",
    "mastercard",
    "amex",
    "discover",
    "credit_card",
    "ipv4",
    "passport_us",
    "passport_uk",
    "br_cpf",
    "au_abn",
    "street_address",
    "iban",
];

/// LiteLLM documentation spellings that name a pattern above.
pub const ALIASES: &[(&str, &str)] = &[("phone", "us_phone"), ("ssn", "us_ssn"), ("credit_card_number", "credit_card")];

/// The regex of a prebuilt pattern.
pub fn lookup(name: &str) -> Option<&'static str> {
    let name = ALIASES.iter().find(|(a, _)| *a == name).map(|(_, n)| *n).unwrap_or(name);
    PREBUILT.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Every prebuilt name, for error messages.
pub fn names() -> Vec<&'static str> {
    PREBUILT.iter().map(|(n, _)| *n).collect()
}
