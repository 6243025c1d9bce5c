//! How a GitLab token stands: the contract's credential status, read from the token's expiry.

/// The contract's `GitLabCredentialStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialStatus {
    Valid,
    Expiring,
    Expired,
    Rejected,
    Unknown,
}

/// A token expiring in 30 days or less is `expiring`.
pub const EXPIRING_WITHIN_SECS: i64 = 30 * 24 * 3600;

/// Status of a token GitLab accepted, from its expiry.
pub fn status_from_expiry(expires_at: Option<i64>, now: i64) -> CredentialStatus {
    match expires_at {
        Some(at) if at <= now => CredentialStatus::Expired,
        Some(at) if at - now <= EXPIRING_WITHIN_SECS => CredentialStatus::Expiring,
        _ => CredentialStatus::Valid,
    }
}

/// GitLab's `expires_at` date means the token works through that day (UTC); we record the
/// end of it as Unix seconds. Unparsable dates give `None` rather than a wrong number.
pub fn expiry_from_date(date: Option<&str>) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(date?, &format).ok()?;
    let next = day.next_day()?;
    Some(next.midnight().assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_and_status() {
        let end_of_day = expiry_from_date(Some("2023-08-15")).unwrap();
        assert_eq!(end_of_day, 1_692_144_000); // 2023-08-16T00:00:00Z
        assert_eq!(expiry_from_date(Some("not a date")), None);
        assert_eq!(expiry_from_date(None), None);
        assert_eq!(status_from_expiry(None, 100), CredentialStatus::Valid);
        assert_eq!(status_from_expiry(Some(100), 100), CredentialStatus::Expired);
        assert_eq!(
            status_from_expiry(Some(100 + EXPIRING_WITHIN_SECS), 100),
            CredentialStatus::Expiring
        );
        assert_eq!(
            status_from_expiry(Some(101 + EXPIRING_WITHIN_SECS), 100),
            CredentialStatus::Valid
        );
    }
}
