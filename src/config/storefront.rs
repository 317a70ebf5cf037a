//! `[[merchants]] display_name` and `shop_url`: how a merchant's shop appears on the pages
//! paygate itself shows a customer (the status page after a provider's page, the 404 page).

use super::Problem;
use super::values::{non_empty, problem};

/// The shop as its customers know it. Both are optional: without a name the pages say only
/// "Paiement", without a URL they tell the customer to close the window instead of linking back.
#[derive(Debug, Clone, Default)]
pub struct Storefront {
    /// Shown as the page's heading, e.g. "Atlas Shop" (escaped when rendered: any text works).
    pub display_name: Option<String>,
    /// The link back to the shop. Absolute http(s), no credentials: it is shown to customers.
    pub shop_url: Option<reqwest::Url>,
}

/// A name longer than this would not fit a phone screen's heading; it is a typo, not a name.
const MAX_NAME_CHARS: usize = 80;

pub(super) fn display_name(key: &str, text: String) -> Result<String, Problem> {
    let text = non_empty(key, text)?.trim().to_owned();
    if text.chars().count() > MAX_NAME_CHARS {
        return Err(problem(
            key,
            format!("must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(problem(
            key,
            "must not contain control characters".to_owned(),
        ));
    }
    Ok(text)
}

/// Unlike the base URLs paygate appends paths to, the shop's URL is kept exactly as written.
pub(super) fn shop_url(key: &str, text: &str) -> Result<reqwest::Url, Problem> {
    super::values::absolute_http_url(key, text.trim(), "https://shop.example.ma/")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            display_name("k", "  Atlas Shop ".into()).unwrap(),
            "Atlas Shop"
        );
        assert_eq!(
            display_name("k", "Café <Atlas> & Fils".into()).unwrap(),
            "Café <Atlas> & Fils"
        );
        assert!(display_name("k", "   ".into()).is_err());
        assert!(display_name("k", "x".repeat(81)).is_err());
        assert!(display_name("k", "Atlas\nShop".into()).is_err());
    }

    #[test]
    fn shop_urls_must_be_absolute_http_without_credentials() {
        assert_eq!(
            shop_url("k", "https://atlas.example.ma/boutique")
                .unwrap()
                .as_str(),
            "https://atlas.example.ma/boutique"
        );
        for bad in [
            "atlas.example.ma",
            "javascript:alert(1)",
            "ftp://atlas.example.ma/",
            "https://user:pw@atlas.example.ma/",
        ] {
            assert!(shop_url("k", bad).is_err(), "{bad}");
        }
    }
}
