//! The frame every page shares: head (stylesheets, libraries, scripts),
//! a header with the site's name and menu, `<main>`, and a footer with the
//! year, the owner and links to the LICENSE and README.

use std::fmt::Write as _;

use super::{
    Site,
    html::{escape, href, shorten},
};

/// The id of every page's `<main>`, the skip link's target.
pub const MAIN_ID: &str = "main-content";

/// A whole page around `main`. `prefix` leads back to the site root from
/// the page's folder; `nav` holds ready-escaped targets and plain labels.
pub fn layout(
    site: &Site<'_>,
    prefix: &str,
    title: &str,
    nav: &[(String, String)],
    main: &str,
) -> String {
    let mut head = String::new();
    for library in &site.mentions.libraries {
        if let Some(css) = library.stylesheet {
            let _ = writeln!(
                head,
                "<link rel=\"stylesheet\" href=\"{css}\" crossorigin=\"anonymous\">"
            );
        }
    }
    for style in &site.styles {
        let _ = writeln!(
            head,
            "<link rel=\"stylesheet\" href=\"{}\">",
            href(prefix, style)
        );
    }
    for library in &site.mentions.libraries {
        if let Some(js) = library.script {
            let _ = writeln!(
                head,
                "<script src=\"{js}\" defer crossorigin=\"anonymous\"></script>"
            );
        }
    }
    for script in &site.scripts {
        let _ = writeln!(
            head,
            "<script src=\"{}\" defer></script>",
            href(prefix, script)
        );
    }
    let mut links = String::new();
    for (target, label) in nav.iter().take(8) {
        let _ = writeln!(links, "<li><a href=\"{target}\">{}</a></li>", escape(label));
    }
    let owner = escape(site.owner());
    format!(
        "<!doctype html>
<html lang=\"en\">
<head>
<meta charset=\"utf-8\">
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">
<meta name=\"color-scheme\" content=\"light dark\">
<meta name=\"description\" content=\"{description}\">
<title>{title}</title>
{head}</head>
<body>
<a class=\"skip-link\" href=\"#{MAIN_ID}\">Skip to content</a>
<header class=\"site-header\">
<div class=\"container\">
<a class=\"brand\" href=\"{home}\">{brand}</a>
<nav aria-label=\"Main\">
<ul>
{links}</ul>
</nav>
</div>
</header>
<main id=\"{MAIN_ID}\" class=\"container\">
{main}</main>
<footer class=\"site-footer\">
<div class=\"container\">
<p>© <span data-year>{year}</span> {owner}. Released under the <a href=\"{license}\">MIT License</a>. <a href=\"{readme}\">About this site</a>.</p>
</div>
</footer>
</body>
</html>
",
        description = escape(&shorten(&site.outline.lead, 160)),
        title = escape(title),
        home = href(prefix, "index.html"),
        brand = escape(&site.outline.title),
        year = site.year,
        license = href(prefix, "LICENSE"),
        readme = href(prefix, "README.md"),
    )
}
