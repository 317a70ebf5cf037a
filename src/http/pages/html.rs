//! The one HTML template of paygate's customer pages, and the escaping every value goes through.
//!
//! Self-contained on purpose: inline CSS, no script, no font, image or other request, so the
//! page works under `default-src 'none'` and shows nothing a third party could observe.

use super::lang::Lang;

/// How the outcome is drawn: a colour and a symbol beside the heading (the words say it too,
/// so colour is never the only signal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tone {
    Good,
    Bad,
    Waiting,
}

/// What one page shows. Every `&str` is plain text; [`render`] escapes all of it.
pub(crate) struct Doc<'a> {
    pub lang: Lang,
    pub shop: Option<&'a str>,
    /// Shown when there is no shop name.
    pub fallback_title: &'a str,
    pub tone: Tone,
    pub heading: &'a str,
    pub body: &'a str,
    /// Label and value pairs (amount, order reference).
    pub facts: Vec<(&'a str, String)>,
    /// The link back to the shop, or the sentence said instead.
    pub back: Result<(&'a str, &'a str), &'a str>,
}

/// `&`, `<`, `>`, `"` and `'` as entities: enough for text and for double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn render(doc: &Doc<'_>) -> String {
    let title_text = doc.shop.unwrap_or(doc.fallback_title);
    let title = escape(&format!("{} – {title_text}", doc.heading));
    let header = escape(title_text);
    let (symbol, tone) = match doc.tone {
        Tone::Good => ("✓", "good"),
        Tone::Bad => ("✕", "bad"),
        Tone::Waiting => ("…", "wait"),
    };
    let mut facts = String::new();
    for (label, value) in &doc.facts {
        // <bdi>: an amount or a reference keeps its own direction inside an Arabic sentence.
        facts.push_str(&format!(
            "<div><dt>{}</dt><dd><bdi>{}</bdi></dd></div>",
            escape(label),
            escape(value)
        ));
    }
    if !facts.is_empty() {
        facts = format!("<dl>{facts}</dl>");
    }
    let back = match doc.back {
        Ok((url, label)) => format!(
            "<a class=\"back\" href=\"{}\">{}</a>",
            escape(url),
            escape(label)
        ),
        Err(sentence) => format!("<p class=\"note\">{}</p>", escape(sentence)),
    };
    format!(
        "<!doctype html>\n<html lang=\"{lang}\" dir=\"{dir}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"robots\" content=\"noindex\">\n<title>{title}</title>\n<style>{CSS}</style>\n\
         </head>\n<body>\n<main>\n<p class=\"shop\">{header}</p>\n\
         <div class=\"outcome {tone}\"><span class=\"mark\" aria-hidden=\"true\">{symbol}</span>\
         <h1>{heading}</h1></div>\n<p>{body}</p>\n{facts}\n{back}\n</main>\n</body>\n</html>\n",
        lang = doc.lang.tag(),
        dir = doc.lang.dir(),
        heading = escape(doc.heading),
        body = escape(doc.body),
    )
}

/// Phone first (one column, large tap target); logical properties, so Arabic mirrors itself.
const CSS: &str = "\
*{box-sizing:border-box}\
html{font-size:100%;-webkit-text-size-adjust:100%}\
body{margin:0;min-height:100vh;background:#f3f4f6;color:#1f2937;\
font:1rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans','Noto Sans Arabic',Tahoma,Arial,sans-serif}\
main{max-width:30rem;margin:0 auto;padding:1.5rem 1.25rem}\
@media(min-width:36rem){main{margin-block-start:3rem;background:#fff;border-radius:.75rem;\
box-shadow:0 1px 3px rgba(0,0,0,.12);padding:2rem}}\
.shop{margin:0 0 1.25rem;font-weight:600;font-size:1.125rem;color:#374151;overflow-wrap:anywhere}\
.outcome{display:flex;align-items:center;gap:.75rem}\
.mark{flex:none;display:inline-flex;align-items:center;justify-content:center;width:2.5rem;\
height:2.5rem;border-radius:50%;color:#fff;font-size:1.25rem;font-weight:700}\
.good .mark{background:#15803d}.bad .mark{background:#b91c1c}.wait .mark{background:#a16207}\
h1{margin:0;font-size:1.5rem;line-height:1.25}\
p{margin:1rem 0}\
dl{margin:1.25rem 0;padding:0;border-block:1px solid #e5e7eb}\
dl div{display:flex;justify-content:space-between;gap:1rem;padding:.5rem 0}\
dt{color:#4b5563}dd{margin:0;font-weight:600;overflow-wrap:anywhere;text-align:end}\
.back{display:block;margin-block-start:1.5rem;padding:.875rem 1rem;border-radius:.5rem;\
background:#1d4ed8;color:#fff;text-align:center;font-weight:600;text-decoration:none}\
.back:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}\
.note{color:#4b5563}";

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(shop: &'a str, reference: &str) -> Doc<'a> {
        Doc {
            lang: Lang::Ar,
            shop: Some(shop),
            fallback_title: "الدفع",
            tone: Tone::Good,
            heading: "تم قبول الدفع",
            body: "تم قبول دفعتك.",
            facts: vec![("رقم الطلب", reference.to_owned())],
            back: Ok(("https://shop.example.ma/?a=1&b=\"2\"", "العودة إلى المتجر")),
        }
    }

    #[test]
    fn every_value_is_escaped() {
        let html = render(&doc("<script>alert(1)</script>", "A&B'\"<i>"));
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("A&amp;B&#39;&quot;&lt;i&gt;"));
        assert!(html.contains("href=\"https://shop.example.ma/?a=1&amp;b=&quot;2&quot;\""));
    }

    #[test]
    fn arabic_pages_are_right_to_left_and_load_nothing() {
        let html = render(&doc("Atlas Shop", "CMD-1"));
        assert!(html.contains("<html lang=\"ar\" dir=\"rtl\">"));
        for external in ["src=", "<link", "@import", "url(", "<script"] {
            assert!(!html.contains(external), "{external}");
        }
    }
}
