//! Model and dataset cards: the publisher's Markdown rendered with pulldown-cmark, then passed
//! through ammonia's allow-list. A card is hostile input, so:
//! - raw HTML in the Markdown is shown as text, never parsed as markup;
//! - links keep only `http`, `https` and `mailto` URLs and get `rel="nofollow noopener noreferrer"`;
//! - images are never loaded by the page: each becomes a button that shows it on a click (the
//!   page script swaps it for the `<img>`), so opening a card tells no remote host who read it;
//! - nesting deeper than [`MAX_DEPTH`] is flattened (its text kept) and a card longer than
//!   [`MAX_CARD_BYTES`] is cut, so no card can make rendering slow or the page enormous;
//! - headings move one level down, under the page's own `h1`.

use std::{borrow::Cow, collections::HashSet};

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// Longest card rendered, in bytes; the rest is replaced by a note.
pub const MAX_CARD_BYTES: usize = 128 * 1024;

/// Deepest nesting of block and inline containers kept.
pub const MAX_DEPTH: usize = 16;

/// The card's Markdown as sanitized HTML, safe to place in a page as is.
pub fn render(markdown: &str) -> String {
    let (text, cut) = truncate(markdown, MAX_CARD_BYTES);
    let mut html = String::with_capacity(text.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, Bounded::new(Parser::new_ext(text, options())));
    if cut {
        html.push_str("<p><em>The rest of this card is longer than the hub shows.</em></p>");
    }
    sanitizer().clean(&html).to_string()
}

fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
}

/// `text` cut at a character boundary at most `max` bytes in, and whether anything was cut.
fn truncate(text: &str, max: usize) -> (&str, bool) {
    if text.len() <= max {
        return (text, false);
    }
    let end = (0..=max).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
    (&text[..end], true)
}

/// The allow-list: the tags CommonMark produces (no forms, media, frames, scripts or styles),
/// the image buttons, and no attribute that can carry script.
fn sanitizer() -> ammonia::Builder<'static> {
    let mut builder = ammonia::Builder::default();
    builder
        .tags(HashSet::from([
            "a",
            "blockquote",
            "br",
            "code",
            "del",
            "em",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "li",
            "ol",
            "p",
            "pre",
            "strong",
            "table",
            "tbody",
            "td",
            "th",
            "thead",
            "tr",
            "ul",
            "sup",
            "input",
            "button",
            "section",
            "div",
        ]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow noopener noreferrer"))
        .generic_attributes(HashSet::new())
        .tag_attributes(
            [
                ("a", ["href", "title"].as_slice()),
                ("th", &["align"]),
                ("td", &["align"]),
                ("ol", &["start"]),
                ("input", &["type", "checked", "disabled"]),
                ("button", &["type", "class", "data-reveal-image", "data-src", "data-alt"]),
                ("sup", &["class", "id"]),
                ("div", &["class", "id"]),
            ]
            .into_iter()
            .map(|(tag, attributes)| (tag, attributes.iter().copied().collect()))
            .collect(),
        )
        .id_prefix(Some("card-"))
        .set_tag_attribute_value("input", "disabled", "");
    builder
}

/// pulldown-cmark's events with raw HTML turned into text, images into reveal buttons and
/// containers beyond [`MAX_DEPTH`] dropped (their contents kept).
struct Bounded<'a, I> {
    inner: I,
    depth: usize,
    /// Depths of the containers dropped, to drop their ends too.
    dropped: Vec<usize>,
    /// While inside an image: its URL and the alt text so far.
    image: Option<(CowStr<'a>, String)>,
}

impl<'a, I: Iterator<Item = Event<'a>>> Bounded<'a, I> {
    fn new(inner: I) -> Self {
        Self { inner, depth: 0, dropped: Vec::new(), image: None }
    }
}

impl<'a, I: Iterator<Item = Event<'a>>> Iterator for Bounded<'a, I> {
    type Item = Event<'a>;

    fn next(&mut self) -> Option<Event<'a>> {
        loop {
            let event = self.inner.next()?;
            if let Some((url, alt)) = &mut self.image {
                match event {
                    Event::End(TagEnd::Image) => {
                        let html = image_button(url, alt);
                        self.image = None;
                        return Some(Event::Html(html.into()));
                    }
                    Event::Text(text) | Event::Code(text) => alt.push_str(&text),
                    _ => {}
                }
                continue;
            }
            return Some(match event {
                Event::Start(Tag::Image { dest_url, .. }) => {
                    self.image = Some((dest_url, String::new()));
                    continue;
                }
                Event::Start(Tag::Heading { level, id, classes, attrs }) => {
                    // The page's own `h1` names the asset: the card's headings sit below it.
                    self.depth += 1;
                    Event::Start(Tag::Heading { level: demoted(level), id, classes, attrs })
                }
                Event::End(TagEnd::Heading(level)) => {
                    self.depth = self.depth.saturating_sub(1);
                    Event::End(TagEnd::Heading(demoted(level)))
                }
                Event::Start(tag) => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        self.dropped.push(self.depth);
                        continue;
                    }
                    Event::Start(tag)
                }
                Event::End(end) => {
                    let depth = self.depth;
                    self.depth = self.depth.saturating_sub(1);
                    if self.dropped.last() == Some(&depth) {
                        self.dropped.pop();
                        continue;
                    }
                    Event::End(end)
                }
                Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
                other => other,
            });
        }
    }
}

/// One heading level down: `h1` → `h2`, …, `h6` stays `h6`.
fn demoted(level: HeadingLevel) -> HeadingLevel {
    match level {
        HeadingLevel::H1 => HeadingLevel::H2,
        HeadingLevel::H2 => HeadingLevel::H3,
        HeadingLevel::H3 => HeadingLevel::H4,
        HeadingLevel::H4 => HeadingLevel::H5,
        HeadingLevel::H5 | HeadingLevel::H6 => HeadingLevel::H6,
    }
}

/// The button that stands for an image until the reader asks for it; only `http(s)` images.
fn image_button(url: &str, alt: &str) -> String {
    let alt = if alt.trim().is_empty() { "image" } else { alt.trim() };
    let remote = url.starts_with("https://") || url.starts_with("http://");
    if !remote {
        return format!("<em>[{}]</em>", escape(alt));
    }
    let host = url.split('/').nth(2).unwrap_or_default();
    format!(
        "<button type=\"button\" class=\"reveal\" data-reveal-image=\"\" data-src=\"{}\" data-alt=\"{}\">Show image “{}” from {}</button>",
        escape(url),
        escape(alt),
        escape(alt),
        escape(host)
    )
}

fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_commonmark() {
        let html = render(
            "# Finches\n\nSome *songs* and a [paper](https://example.org/p).\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        );
        assert!(html.contains("<h2>Finches</h2>"), "headings sit below the page's h1: {html}");
        assert!(html.contains("<em>songs</em>"));
        assert!(
            html.contains(r#"<a href="https://example.org/p" rel="nofollow noopener noreferrer">paper</a>"#),
            "{html}"
        );
        assert!(html.contains("<td>2</td>"));
    }

    #[test]
    fn raw_html_is_text() {
        let html = render(
            "hello <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n<div onclick=\"x()\">d</div>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<div onclick"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{html}");
        assert!(html.contains("onerror=alert(1)"), "the text stays readable: {html}");
    }

    #[test]
    fn script_urls_are_dropped() {
        for link in [
            "[x](javascript:alert(1))",
            "[x](JaVaScRiPt:alert(1))",
            "[x](data:text/html,<script>)",
            "[x](vbscript:y)",
            "<javascript:alert(1)>",
        ] {
            let html = render(link);
            assert!(!html.to_lowercase().contains("javascript:") || !html.contains("href"), "{link}: {html}");
            assert!(!html.contains("href=\"data:"), "{link}: {html}");
            assert!(!html.contains("href=\"vbscript:"), "{link}: {html}");
        }
    }

    #[test]
    fn images_wait_for_a_click() {
        let html = render(
            "![a finch](https://img.example/f.png \"t\") ![local](/etc/passwd) ![x\" onerror=\"y](https://a.example/\"onload=\"z)",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains(r#"data-src="https://img.example/f.png""#), "{html}");
        assert!(html.contains("from img.example"), "{html}");
        assert!(html.contains("<em>[local]</em>"), "{html}");
        // Quotes in the URL and the alt text stay inside their attributes.
        assert!(html.contains(r#"data-src="https://a.example/&quot;onload=&quot;z""#), "{html}");
        assert!(html.contains(r#"data-alt="x&quot; onerror=&quot;y""#), "{html}");
    }

    #[test]
    fn a_huge_card_is_cut() {
        let card = "word ".repeat(1024 * 1024 / 5 + 1);
        assert!(card.len() > 1024 * 1024);
        let html = render(&card);
        assert!(html.len() < MAX_CARD_BYTES + 4096, "{}", html.len());
        assert!(html.contains("longer than the hub shows"));
        // A cut in the middle of a multi-byte character stays valid.
        let (cut, _) = truncate("ééé", 3);
        assert_eq!(cut, "é");
    }

    #[test]
    fn deep_nesting_is_flattened() {
        let quotes = format!("{} deep", ">".repeat(10_000));
        let html = render(&quotes);
        assert!(html.contains("deep"));
        assert!(
            html.matches("<blockquote>").count() <= MAX_DEPTH,
            "{}",
            html.matches("<blockquote>").count()
        );
        let lists = (0..10_000).map(|i| format!("{}- item {i}\n", "  ".repeat(i))).collect::<String>();
        let html = render(&lists);
        assert!(html.matches("<ul>").count() <= MAX_DEPTH);
        let emphasis = format!("{}x{}", "*_".repeat(5_000), "_*".repeat(5_000));
        assert!(render(&emphasis).contains('x'));
    }

    #[test]
    fn replacement_characters_render() {
        let lossy = String::from_utf8_lossy(b"caf\xe9 \xff\xfe card");
        let html = render(&lossy);
        assert!(html.contains("caf\u{fffd}"), "{html}");
    }
}
