//! The HTML pages: `index.html` and any other page the brief names, in one
//! layout (header with nav, main, footer). Every piece of request text is
//! escaped; the only markup is ours.

use std::{collections::BTreeSet, fmt::Write as _};

use super::{
    Site, attachments,
    elements::{self, Context},
    html::{escape, href, humanize, rich, slug},
    layout::{self, MAIN_ID},
    outline::Section,
};

/// Element ids in use on a page, so ours never clash with requested ones.
struct Ids {
    used: BTreeSet<String>,
}

impl Ids {
    fn new(requested: &[String]) -> Self {
        Self {
            used: requested.iter().cloned().collect(),
        }
    }

    /// `base`, or `base-2`, `base-3`… if taken.
    fn fresh(&mut self, base: &str) -> String {
        let mut id = base.to_owned();
        let mut n = 2;
        while self.used.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        self.used.insert(id.clone());
        id
    }
}

/// `index.html`.
pub fn index(site: &Site<'_>) -> String {
    let requested = &site.mentions.ids;
    let mut ids = Ids::new(requested);
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut nav: Vec<(String, String)> = Vec::new();
    let mut main = String::new();

    // The layout's <main> already carries this id; a request for it is met.
    if let Some(id) = requested.iter().find(|id| *id == MAIN_ID) {
        placed.insert(id);
    }
    let heading_id = requested.iter().find(|id| elements::is_heading(id));
    if let Some(id) = heading_id {
        placed.insert(id);
    }
    let _ = write!(
        main,
        "<section class=\"hero\">\n<h1{}>{}</h1>\n",
        id_attr(heading_id.map(String::as_str)),
        escape(&site.outline.title)
    );
    if !site.outline.lead.is_empty() {
        let _ = writeln!(main, "<p class=\"lead\">{}</p>", rich(&site.outline.lead));
    }
    main.push_str("</section>\n");

    for section in &site.outline.sections {
        let base = slug(&section.heading);
        let id = match requested
            .iter()
            .find(|r| **r == base && !placed.contains(r.as_str()))
        {
            Some(r) => {
                placed.insert(r);
                base
            }
            None => ids.fresh(&base),
        };
        main.push_str(&section_html(&id, section));
        nav.push((format!("#{id}"), section.heading.clone()));
    }

    let table_id = requested
        .iter()
        .find(|id| !placed.contains(id.as_str()) && elements::is_table(id))
        .filter(|_| !site.tables.is_empty());
    if let Some(id) = table_id {
        placed.insert(id);
    }
    let context = Context {
        attachments: &site.request.attachments,
        tables: &site.tables,
        query_params: &site.mentions.query_params,
    };
    let mut glance = String::new();
    for id in requested.iter().filter(|id| !placed.contains(id.as_str())) {
        glance.push_str(&elements::element(id, &context));
    }
    for param in &site.mentions.query_params {
        if !glance.contains(&format!("data-query-param=\"{}\"", escape(param))) {
            let _ = write!(
                glance,
                "<div class=\"field\"><span class=\"label\">Value of <code>?{p}=</code></span>\n<output data-query-param=\"{p}\">(not given)</output>\n</div>\n",
                p = escape(param)
            );
        }
    }
    if !glance.is_empty() {
        let id = ids.fresh("at-a-glance");
        let _ = write!(
            main,
            "<section id=\"{id}\" class=\"section\">\n<h2>At a glance</h2>\n<div class=\"card fields\">\n{glance}</div>\n</section>\n"
        );
        nav.push((format!("#{id}"), "At a glance".to_owned()));
    }

    let files = files_html(site, table_id.map(String::as_str));
    if !files.is_empty() {
        let id = ids.fresh("files");
        let _ = write!(
            main,
            "<section id=\"{id}\" class=\"section\">\n<h2>Files</h2>\n{files}</section>\n"
        );
        nav.push((format!("#{id}"), "Files".to_owned()));
    }
    for page in &site.pages {
        nav.push((href("", page), humanize(page)));
    }
    layout::layout(site, "", &site.outline.title, &nav, &main)
}

/// Another page the brief names, such as `about.html`: the section it
/// names if the brief has one, else a summary and a way home.
pub fn subpage(site: &Site<'_>, path: &str) -> String {
    let depth = path.matches('/').count();
    let prefix = "../".repeat(depth);
    let name = humanize(path);
    let key = slug(&name);
    let mut main = format!("<section class=\"hero\">\n<h1>{}</h1>\n", escape(&name));
    let _ = writeln!(
        main,
        "<p class=\"lead\">Part of {}.</p>\n</section>",
        escape(&site.outline.title)
    );
    match site
        .outline
        .sections
        .iter()
        .find(|s| slug(&s.heading).contains(&key))
    {
        Some(section) => main.push_str(&section_html(&key, section)),
        None => {
            let _ = write!(
                main,
                "<section class=\"section\">\n<div class=\"card\">\n<p>{}</p>\n</div>\n</section>\n",
                rich(&site.outline.lead)
            );
        }
    }
    let _ = writeln!(
        main,
        "<p><a class=\"button\" href=\"{}\">Back to the home page</a></p>",
        href(&prefix, "index.html")
    );
    let nav: Vec<(String, String)> = std::iter::once(("index.html".to_owned(), "Home".to_owned()))
        .chain(site.pages.iter().map(|p| (p.clone(), humanize(p))))
        .map(|(target, label)| (href(&prefix, &target), label))
        .collect();
    layout::layout(
        site,
        &prefix,
        &format!("{name} · {}", site.outline.title),
        &nav,
        &main,
    )
}

fn id_attr(id: Option<&str>) -> String {
    id.map(|id| format!(" id=\"{}\"", escape(id)))
        .unwrap_or_default()
}

fn section_html(id: &str, section: &Section) -> String {
    let mut out = format!(
        "<section id=\"{}\" class=\"section\">\n<h2>{}</h2>\n",
        escape(id),
        rich(&section.heading)
    );
    for paragraph in &section.paragraphs {
        let _ = writeln!(out, "<p>{}</p>", rich(paragraph));
    }
    if !section.items.is_empty() {
        out.push_str("<div class=\"cards\">\n");
        for item in &section.items {
            out.push_str("<article class=\"card\">");
            if let Some(title) = &item.title {
                let _ = write!(out, "<h3>{}</h3>", rich(title));
            }
            if !item.text.is_empty() {
                let _ = write!(out, "<p>{}</p>", rich(&item.text));
            }
            out.push_str("</article>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
    out
}

fn files_html(site: &Site<'_>, table_id: Option<&str>) -> String {
    let mut out = String::new();
    let mut table_id = table_id;
    if !site.request.attachments.is_empty() {
        out.push_str("<div class=\"attachments\">\n");
        for attachment in &site.request.attachments {
            let is_table = attachments::kind(attachment) == attachments::Kind::Table;
            let id = if is_table { table_id.take() } else { None };
            out.push_str(&attachments::card(attachment, id));
        }
        out.push_str("</div>\n");
    }
    if !site.resources.is_empty() {
        out.push_str("<ul class=\"resources\">\n");
        for resource in &site.resources {
            let _ = writeln!(
                out,
                "<li><a href=\"{}\">{}</a></li>",
                href("", resource),
                escape(resource)
            );
        }
        out.push_str("</ul>\n");
    }
    out
}
