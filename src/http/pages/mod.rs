//! The pages paygate itself shows a shop's customer: the payment's status when the shop gave no
//! `return_url`, and the 404 / 503 / 500 pages of the return route.
//!
//! Small, in the customer's language (French, Arabic right to left, English), with the shop's
//! name, the amount as money, the outcome in plain words and a link back to the shop. They show
//! no internal id: the shop's own order reference is the one reference a customer and the shop
//! share (the payment id goes to the shop in the redirect, never on screen). Locked down with
//! [`headers`]: nothing loads, nothing frames the page, nothing is cached or leaks a referrer.

mod html;
mod lang;
mod money;
mod text;

pub(crate) use lang::Lang;

use crate::config::Storefront;
use crate::domain::{Payment, PaymentStatus};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use html::{Doc, Tone};
use text::{Said, text};

/// The status page of `payment`, for a shop that gave no `return_url`.
pub(crate) fn status(payment: &Payment, shop: &Storefront, lang: Lang) -> Response {
    let t = text(lang);
    let (tone, said) = outcome(payment.status, lang);
    let mut facts = vec![(t.amount, money::format(payment.amount, lang))];
    if !payment.merchant_reference.trim().is_empty() {
        facts.push((t.order, payment.merchant_reference.clone()));
    }
    page(StatusCode::OK, shop, lang, tone, said, facts)
}

/// Nothing to show at this address. Worded so that it never claims a payment does not exist:
/// the payment may well exist and the link be mangled (a wrong outcome segment, say).
pub(crate) fn not_found(shop: &Storefront, lang: Lang) -> Response {
    let said = &text(lang).not_found;
    page(
        StatusCode::NOT_FOUND,
        shop,
        lang,
        Tone::Waiting,
        said,
        Vec::new(),
    )
}

/// The database could not be read: worth a reload.
pub(crate) fn unavailable(shop: &Storefront, lang: Lang) -> Response {
    let said = &text(lang).unavailable;
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        shop,
        lang,
        Tone::Waiting,
        said,
        Vec::new(),
    )
}

pub(crate) fn error(shop: &Storefront, lang: Lang) -> Response {
    let said = &text(lang).error;
    let code = StatusCode::INTERNAL_SERVER_ERROR;
    page(code, shop, lang, Tone::Waiting, said, Vec::new())
}

/// What the customer is told for each status. A payment still open is "being checked": the
/// customer has done their part, and paying again is what must not happen.
fn outcome(status: PaymentStatus, lang: Lang) -> (Tone, &'static Said) {
    use PaymentStatus as S;
    let t = text(lang);
    match status {
        S::Authorized | S::PartiallyCaptured | S::Captured | S::PartiallyRefunded => {
            (Tone::Good, &t.accepted)
        }
        S::Refunded => (Tone::Good, &t.refunded),
        S::Voided => (Tone::Bad, &t.cancelled),
        S::Declined => (Tone::Bad, &t.declined),
        S::Failed => (Tone::Bad, &t.failed),
        S::RequiresAction | S::Pending => (Tone::Waiting, &t.pending),
    }
}

fn page(
    code: StatusCode,
    shop: &Storefront,
    lang: Lang,
    tone: Tone,
    said: &Said,
    facts: Vec<(&str, String)>,
) -> Response {
    let t = text(lang);
    let doc = Doc {
        lang,
        shop: shop.display_name.as_deref(),
        fallback_title: t.payment,
        tone,
        heading: said.heading,
        body: said.body,
        facts,
        back: shop
            .shop_url
            .as_ref()
            .map(|url| (url.as_str(), t.back))
            .ok_or(t.close),
    };
    let mut response = (code, Html(html::render(&doc))).into_response();
    headers(response.headers_mut());
    response
}

/// The headers of every customer-facing answer of the return route, redirects included (a
/// `Referrer-Policy` on a 303 also covers the request it leads to).
pub(crate) fn headers(h: &mut axum::http::HeaderMap) {
    let set: [(HeaderName, &'static str); 5] = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ];
    for (name, value) in set {
        h.insert(name, HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_words_in_every_language() {
        for lang in Lang::ALL {
            for status in PaymentStatus::ALL {
                let (_, said) = outcome(status, lang);
                assert!(!said.heading.is_empty() && !said.body.is_empty());
            }
        }
        let (tone, said) = outcome(PaymentStatus::Declined, Lang::Fr);
        assert_eq!((tone, said.heading), (Tone::Bad, "Paiement refusé"));
        let (tone, said) = outcome(PaymentStatus::Captured, Lang::Ar);
        assert_eq!((tone, said.heading), (Tone::Good, "تم قبول الدفع"));
    }
}
