//! `README.md` (Summary, Setup, Usage, Code explanation, License, about the
//! files actually written) and the MIT `LICENSE`.

use std::fmt::Write as _;

use super::{
    Site,
    attachments::{Kind, kind},
};

/// The most of the brief quoted in the README.
const MAX_QUOTED_BRIEF: usize = 2_000;

/// The README, describing `paths` (every file of the site, attachments
/// included).
pub fn readme(site: &Site<'_>, paths: &[String]) -> String {
    let outline = &site.outline;
    let mut out = format!("# {}\n\n## Summary\n\n", one_line(&outline.title));
    if !outline.lead.is_empty() {
        let _ = writeln!(out, "{}\n", one_line(&outline.lead));
    }
    let mut names: Vec<String> = outline
        .sections
        .iter()
        .map(|s| one_line(&s.heading))
        .collect();
    if !site.mentions.ids.is_empty() || !site.mentions.query_params.is_empty() {
        names.push("At a glance".to_owned());
    }
    if !site.request.attachments.is_empty() || !site.resources.is_empty() {
        names.push("Files".to_owned());
    }
    if !names.is_empty() {
        let _ = writeln!(
            out,
            "The home page has these sections: {}.\n",
            names.join(", ")
        );
    }
    if !site.request.attachments.is_empty() {
        let names: Vec<String> = site
            .request
            .attachments
            .iter()
            .map(|a| format!("`{}`", a.name))
            .collect();
        let _ = writeln!(out, "It uses the attached files {}.\n", names.join(", "));
    }
    out.push_str("It was written by pagesmith's built-in generator from this brief:\n\n");
    let brief: String = site.request.brief.chars().take(MAX_QUOTED_BRIEF).collect();
    for line in brief.lines() {
        let _ = writeln!(out, "    {line}");
    }
    if brief.len() < site.request.brief.len() {
        out.push_str("    […]\n");
    }

    out.push_str("\n## Setup\n\nThere is no build step");
    let libraries: Vec<&str> = site.mentions.libraries.iter().map(|l| l.name).collect();
    if libraries.is_empty() {
        out.push_str(" and there are no dependencies.\n\n");
    } else {
        let _ = write!(out, "; {} load from a CDN.\n\n", libraries.join(", "));
    }
    out.push_str(
        "1. Clone the repository.\n\
         2. Open `index.html` in a browser, or serve the folder with any static server, for example \
         `python3 -m http.server 8000`, and visit <http://localhost:8000/>.\n\
         3. To publish it with GitHub Pages, serve the default branch's root folder. \
         `.nojekyll` makes Pages serve the files as they are.\n",
    );

    out.push_str("\n## Usage\n\nOpen the home page and use the menu to move between its sections");
    if site.pages.is_empty() {
        out.push_str(".\n");
    } else {
        let pages: Vec<String> = site.pages.iter().map(|p| format!("`{p}`")).collect();
        let _ = writeln!(out, " and to the other pages ({}).", pages.join(", "));
    }
    for param in &site.mentions.query_params {
        let _ = writeln!(
            out,
            "\nAdd `?{param}=…` to the address to pass a value; the page shows it{}.",
            if param == "url" {
                " (an image URL replaces the sample image)"
            } else {
                ""
            }
        );
    }
    if site
        .request
        .attachments
        .iter()
        .any(|a| kind(a) == Kind::Table)
    {
        out.push_str("\nTables are sortable: click a column heading (with JavaScript on).\n");
    }
    if !site.mentions.ids.is_empty() {
        let ids: Vec<String> = site
            .mentions
            .ids
            .iter()
            .map(|i| format!("`#{i}`"))
            .collect();
        let _ = writeln!(
            out,
            "\nThe elements the brief names are on the home page: {}.",
            ids.join(", ")
        );
    }

    out.push_str("\n## Code explanation\n\n| File | What it does |\n| --- | --- |\n");
    for path in paths {
        let _ = writeln!(out, "| `{path}` | {} |", describe(site, path));
    }

    let _ = write!(
        out,
        "\n## License\n\nReleased under the MIT License; see [LICENSE](LICENSE). Copyright (c) {} {}.\n",
        site.year,
        one_line(site.owner())
    );
    out
}

fn describe(site: &Site<'_>, path: &str) -> String {
    if let Some(a) = site
        .request
        .attachments
        .iter()
        .find(|a| a.name.as_str() == path)
    {
        let shown = match kind(a) {
            Kind::Image => "shown as an image",
            Kind::Table => "rendered as a table",
            Kind::Json => "shown pretty-printed",
            Kind::Text => "shown as text",
            Kind::Audio | Kind::Video => "played in the page",
            Kind::Download => "offered as a download",
        };
        return format!("Attachment, kept byte for byte and {shown} on the home page.");
    }
    match path {
        "index.html" => "The home page: semantic HTML (header, nav, main, footer) with every section, element and attachment.".to_owned(),
        "style.css" => "The design: CSS variables, system fonts, cards, a responsive grid and a dark theme via `prefers-color-scheme`.".to_owned(),
        "script.js" => "Optional enhancements: the current year, sortable tables, values from the address's query string, and Markdown rendering when a library is loaded. The page works without it.".to_owned(),
        "README.md" => "This file.".to_owned(),
        "LICENSE" => "The MIT License.".to_owned(),
        ".nojekyll" => "Tells GitHub Pages to serve the files as they are, without Jekyll.".to_owned(),
        _ if site.pages.iter().any(|p| p == path) => "A further page, in the same layout, linked from the menu.".to_owned(),
        _ if site.styles.iter().any(|p| p == path) => "Extra styles (print), loaded after `style.css`.".to_owned(),
        _ if site.scripts.iter().any(|p| p == path) => "A small script loaded by every page.".to_owned(),
        _ if site.kept.iter().any(|p| p == path) => "Kept as it was in the previous version of the site.".to_owned(),
        _ if path.ends_with(".json") && !site.tables.is_empty() => {
            "The first CSV attachment's rows as JSON, linked from the home page.".to_owned()
        }
        _ => "A file the brief asks for, linked from the home page.".to_owned(),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The MIT License.
pub fn license(year: i32, owner: &str) -> String {
    format!(
        "MIT License

Copyright (c) {year} {owner}

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the \"Software\"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
",
        owner = one_line(owner)
    )
}
