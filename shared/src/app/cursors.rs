//! Page cursors: a list position (`{time:011}#{uuid}`) handed out opaque and URL-safe, so a
//! client that does not URL-encode query values still sends it back intact.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;

/// The cursor of a list position.
pub fn encode_cursor(position: &str) -> String {
    BASE64URL.encode(position.as_bytes())
}

/// The list position of a cursor [`encode_cursor`] gave out, if it is one.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let position = String::from_utf8(BASE64URL.decode(cursor).ok()?).ok()?;
    let (time, id) = position.split_once('#')?;
    (time.len() == 11 && time.bytes().all(|b| b.is_ascii_digit()) && uuid::Uuid::parse_str(id).is_ok())
        .then_some(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_url_safe_and_round_trip_only_positions() {
        let position = "01795651200#6f0c5a8e-2f1e-4c1b-9a53-0c9d3f3b1a11";
        let cursor = encode_cursor(position);
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(decode_cursor(&cursor).as_deref(), Some(position));
        assert_eq!(decode_cursor(position), None, "a raw position is not a cursor");
        assert_eq!(decode_cursor(&encode_cursor("12#x")), None);
        assert_eq!(decode_cursor("%%%"), None);
    }
}
