//! The frame every page shares: head (stylesheets, libraries, scripts),
//! a header with the site's name and menu, `<main>`, and a footer with the
//! year, the owner and links to the LICENSE and README.

use maud::{Markup, PreEscaped, html};

use super::{
    Site,
    html::{Text, href, shorten},
};

/// The id of every page's `<main>`, the skip link's target.
pub const MAIN_ID: &str = "main-content";

/// Lower-case, as the pages have always had it (maud's `DOCTYPE` is not).
const DOCTYPE: PreEscaped<&str> = PreEscaped("<!doctype html>");

/// A menu entry: where it leads and its label.
pub type NavLink = (Text<String>, String);

/// A whole page around `main`. `prefix` leads back to the site root from
/// the page's folder; the menu shows the first eight of `nav`.
pub fn layout(site: &Site<'_>, prefix: &str, title: &str, nav: &[NavLink], main: Markup) -> Markup {
    let libraries = &site.mentions.libraries;
    html! {
        (DOCTYPE) "\n"
        html lang="en" {
            "\n"
            head {
                "\n"
                meta charset="utf-8"; "\n"
                meta name="viewport" content="width=device-width, initial-scale=1"; "\n"
                meta name="color-scheme" content="light dark"; "\n"
                meta name="description" content=(Text(shorten(&site.outline.lead, 160))); "\n"
                title { (Text(title)) } "\n"
                @for css in libraries.iter().filter_map(|l| l.stylesheet) {
                    link rel="stylesheet" href=(css) crossorigin="anonymous"; "\n"
                }
                @for style in &site.styles {
                    link rel="stylesheet" href=(href(prefix, style)); "\n"
                }
                @for js in libraries.iter().filter_map(|l| l.script) {
                    script src=(js) defer crossorigin="anonymous" {} "\n"
                }
                @for script in &site.scripts {
                    script src=(href(prefix, script)) defer {} "\n"
                }
            }
            "\n"
            body {
                "\n"
                a class="skip-link" href={ "#" (MAIN_ID) } { "Skip to content" } "\n"
                header class="site-header" {
                    "\n"
                    div class="container" {
                        "\n"
                        a class="brand" href=(href(prefix, "index.html")) {
                            (Text(&site.outline.title))
                        }
                        "\n"
                        nav aria-label="Main" {
                            "\n"
                            ul {
                                "\n"
                                @for (target, label) in nav.iter().take(8) {
                                    li { a href=(target) { (Text(label)) } } "\n"
                                }
                            }
                            "\n"
                        }
                        "\n"
                    }
                    "\n"
                }
                "\n"
                main id=(MAIN_ID) class="container" {
                    "\n"
                    (main)
                }
                "\n"
                footer class="site-footer" {
                    "\n"
                    div class="container" {
                        "\n"
                        p {
                            "© " span data-year { (site.year) } " " (Text(site.owner()))
                            ". Released under the "
                            a href=(href(prefix, "LICENSE")) { "MIT License" } ". "
                            a href=(href(prefix, "README.md")) { "About this site" } "."
                        }
                        "\n"
                    }
                    "\n"
                }
                "\n"
            }
            "\n"
        }
        "\n"
    }
}
