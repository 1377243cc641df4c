//! Every failure a request can meet, and the one place that maps it to the contract's envelope.

use std::collections::BTreeMap;

/// A dependency that did not answer in time or at all: always a 503.
#[derive(Debug, thiserror::Error)]
pub enum Unavailable {
    #[error("database: {0}")]
    Database(String),
    #[error("cache: {0}")]
    Cache(String),
    #[error("secrets: {0}")]
    Secrets(String),
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no such route")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("request body or query is not valid JSON of the expected shape")]
    Codec,
    #[error("validation failed on {field}")]
    Validation {
        field: &'static str,
        message: &'static str,
    },
    #[error("captcha id required")]
    CaptchaIdRequired,
    #[error("captcha code required")]
    CaptchaCodeRequired,
    #[error("captcha required")]
    CaptchaRequired,
    #[error("captcha invalid")]
    CaptchaInvalid,
    #[error("captcha expired")]
    CaptchaExpired,
    #[error("username taken")]
    UserExists,
    #[error("email taken")]
    EmailExists,
    #[error("phone taken")]
    PhoneExists,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("account locked")]
    AccountLocked { unlock_time: u64 },
    #[error("totp required")]
    TotpRequired,
    #[error("totp invalid")]
    TotpInvalid,
    /// Enabling TOTP with a code that does not match the pending secret (a 400, not a 401).
    #[error("totp code does not match the pending secret")]
    TotpSetupInvalid,
    /// Disabling a second factor the account does not have.
    #[error("totp not enabled")]
    TotpNotEnabled,
    #[error("token missing")]
    TokenMissing,
    #[error("invalid token format")]
    InvalidTokenFormat,
    #[error("token invalid")]
    TokenInvalid,
    #[error("token expired")]
    TokenExpired,
    #[error("refresh token required")]
    RefreshTokenRequired,
    #[error("refresh token reused")]
    RefreshTokenReused,
    #[error("dependency unavailable: {0}")]
    Unavailable(#[from] Unavailable),
    #[error("internal error: {0}")]
    Internal(String),
}

/// What a client sees: `code`, `reason`, `message`, `metadata`, plus headers some errors need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub status: u16,
    pub reason: &'static str,
    pub message: &'static str,
    pub metadata: BTreeMap<&'static str, String>,
    pub headers: Vec<(&'static str, String)>,
}

impl ApiError {
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The contract's status, reason and message for this error. Messages are fixed English
    /// sentences: causes (SQL, driver errors, hosts) are logged, never returned.
    pub fn envelope(&self) -> Envelope {
        let mut metadata = BTreeMap::new();
        let mut headers = Vec::new();
        let (status, reason, message) = match self {
            ApiError::NotFound => (404, "NOT_FOUND", "no route matches this path"),
            ApiError::MethodNotAllowed { allow } => {
                headers.push(("allow", allow.clone()));
                (405, "METHOD_NOT_ALLOWED", "method not allowed on this path")
            }
            ApiError::RateLimited { retry_after } => {
                headers.push(("retry-after", retry_after.to_string()));
                (429, "RATE_LIMITED", "too many requests, retry later")
            }
            ApiError::UnsupportedMediaType => (
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "request body must be JSON (Content-Type: application/json)",
            ),
            ApiError::Codec => (
                400,
                "CODEC",
                "request is not valid JSON or a field has the wrong type",
            ),
            ApiError::Validation { field, message } => {
                metadata.insert("field", (*field).to_string());
                (400, "VALIDATION_ERROR", *message)
            }
            ApiError::CaptchaIdRequired => (400, "CAPTCHA_ID_REQUIRED", "captcha id is required"),
            ApiError::CaptchaCodeRequired => {
                (400, "CAPTCHA_CODE_REQUIRED", "captcha code is required")
            }
            ApiError::CaptchaRequired => {
                (400, "CAPTCHA_REQUIRED", "captcha id and code are required")
            }
            ApiError::CaptchaInvalid => (400, "CAPTCHA_INVALID", "captcha is invalid"),
            ApiError::CaptchaExpired => (400, "CAPTCHA_EXPIRED", "captcha has expired"),
            ApiError::UserExists => (409, "USER_EXISTS", "username is already taken"),
            ApiError::EmailExists => (409, "EMAIL_EXISTS", "email is already registered"),
            ApiError::PhoneExists => (409, "PHONE_EXISTS", "phone is already registered"),
            ApiError::InvalidCredentials => {
                (401, "INVALID_CREDENTIALS", "invalid username or password")
            }
            ApiError::AccountLocked { unlock_time } => {
                metadata.insert("unlock_time", unlock_time.to_string());
                (403, "ACCOUNT_LOCKED", "account is locked, try again later")
            }
            ApiError::TotpRequired => (400, "TOTP_REQUIRED", "a TOTP code is required"),
            ApiError::TotpInvalid => (401, "TOTP_INVALID", "TOTP code is invalid"),
            ApiError::TotpSetupInvalid => (
                400,
                "TOTP_INVALID",
                "TOTP code does not match the pending secret",
            ),
            ApiError::TotpNotEnabled => (
                400,
                "TOTP_NOT_ENABLED",
                "TOTP is not enabled on this account",
            ),
            ApiError::TokenMissing => (401, "TOKEN_MISSING", "authorization token is missing"),
            ApiError::InvalidTokenFormat => (
                401,
                "INVALID_TOKEN_FORMAT",
                "authorization header must be 'Bearer <token>'",
            ),
            ApiError::TokenInvalid => (401, "TOKEN_INVALID", "token is invalid"),
            ApiError::TokenExpired => (401, "TOKEN_EXPIRED", "token has expired"),
            ApiError::RefreshTokenRequired => {
                (400, "REFRESH_TOKEN_REQUIRED", "refresh token is required")
            }
            ApiError::RefreshTokenReused => (
                401,
                "REFRESH_TOKEN_REUSED",
                "refresh token was already used; the session is revoked",
            ),
            ApiError::Unavailable(_) => (
                503,
                "SERVICE_UNAVAILABLE",
                "service temporarily unavailable, retry later",
            ),
            ApiError::Internal(_) => (500, "INTERNAL", "internal error"),
        };
        Envelope {
            status,
            reason,
            message,
            metadata,
            headers,
        }
    }

    /// Failures whose cause belongs in the log (the client sees only the envelope).
    pub fn is_server_fault(&self) -> bool {
        matches!(self, ApiError::Unavailable(_) | ApiError::Internal(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependency_failures_hide_their_cause() {
        let error = ApiError::from(Unavailable::Database(
            "connection to 10.0.0.5:5432 refused, password=secret".into(),
        ));
        let envelope = error.envelope();
        assert_eq!(envelope.status, 503);
        assert_eq!(envelope.reason, "SERVICE_UNAVAILABLE");
        assert!(!envelope.message.contains("10.0.0.5"));
        assert!(!envelope.message.contains("secret"));
    }

    #[test]
    fn lock_carries_unlock_time_and_405_carries_allow() {
        let locked = ApiError::AccountLocked {
            unlock_time: 1_767_225_600,
        }
        .envelope();
        assert_eq!(locked.status, 403);
        assert_eq!(locked.metadata.get("unlock_time").unwrap(), "1767225600");
        let not_allowed = ApiError::MethodNotAllowed {
            allow: "GET, DELETE".into(),
        }
        .envelope();
        assert_eq!(
            not_allowed.headers,
            vec![("allow", "GET, DELETE".to_string())]
        );
    }
}
