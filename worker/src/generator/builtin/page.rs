//! The HTML pages: `index.html` and any other page the brief names, in one
//! layout (header with nav, main, footer). Every piece of request text is
//! escaped by the templates; the only markup is ours.

use std::collections::BTreeSet;

use maud::{Markup, Render, html};

use super::{
    Site, attachments,
    elements::{self, Context, Element},
    html::{Text, href, humanize, rich, slug},
    layout::{self, MAIN_ID, NavLink},
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
pub fn index(site: &Site<'_>) -> Markup {
    let requested = &site.mentions.ids;
    let mut ids = Ids::new(requested);
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let mut nav: Vec<NavLink> = Vec::new();

    // The layout's <main> already carries this id; a request for it is met.
    if let Some(id) = requested.iter().find(|id| *id == MAIN_ID) {
        placed.insert(id);
    }
    let heading_id = requested.iter().find(|id| elements::is_heading(id));
    if let Some(id) = heading_id {
        placed.insert(id);
    }
    let lead = (!site.outline.lead.is_empty()).then(|| rich(&site.outline.lead));
    let hero = hero(heading_id.map(String::as_str), &site.outline.title, lead);

    let mut sections = Vec::new();
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
        sections.push(section_html(&id, section));
        nav.push((anchor(&id), section.heading.clone()));
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
    let elements: Vec<Element<'_>> = requested
        .iter()
        .filter(|id| !placed.contains(id.as_str()))
        .map(|id| Element::new(id, &context))
        .collect();
    // Query parameters no element shows yet get a row of their own.
    let params: Vec<&String> = site
        .mentions
        .query_params
        .iter()
        .filter(|p| !elements.iter().any(|e| e.query_param() == Some(p.as_str())))
        .collect();
    let glance = (!elements.is_empty() || !params.is_empty()).then(|| {
        let id = ids.fresh("at-a-glance");
        let body = html! {
            div class="card fields" {
                "\n"
                @for element in &elements {
                    (element)
                }
                @for param in &params {
                    (elements::field(
                        html! { "Value of " code { "?" (Text(param)) "=" } },
                        html! { output data-query-param=(Text(param)) { "(not given)" } },
                    ))
                }
            }
            "\n"
        };
        nav.push((anchor(&id), "At a glance".to_owned()));
        titled_section(&id, "At a glance", body)
    });

    let has_files = !site.request.attachments.is_empty() || !site.resources.is_empty();
    let files = has_files.then(|| {
        let id = ids.fresh("files");
        nav.push((anchor(&id), "Files".to_owned()));
        titled_section(&id, "Files", files_html(site, table_id.map(String::as_str)))
    });
    for page in &site.pages {
        nav.push((href("", page), humanize(page)));
    }
    let main = html! {
        (hero)
        @for section in &sections {
            (section)
        }
        @if let Some(glance) = glance {
            (glance)
        }
        @if let Some(files) = files {
            (files)
        }
    };
    layout::layout(site, "", &site.outline.title, &nav, main)
}

/// Another page the brief names, such as `about.html`: the section it
/// names if the brief has one, else a summary and a way home.
pub fn subpage(site: &Site<'_>, path: &str) -> Markup {
    let depth = path.matches('/').count();
    let prefix = "../".repeat(depth);
    let name = humanize(path);
    let key = slug(&name);
    let lead = html! { "Part of " (Text(&site.outline.title)) "." };
    let section = site
        .outline
        .sections
        .iter()
        .find(|s| slug(&s.heading).contains(&key));
    let main = html! {
        (hero(None, &name, Some(lead)))
        @if let Some(section) = section {
            (section_html(&key, section))
        } @else {
            section class="section" {
                "\n"
                div class="card" {
                    "\n"
                    p { (rich(&site.outline.lead)) } "\n"
                }
                "\n"
            }
            "\n"
        }
        p { a class="button" href=(href(&prefix, "index.html")) { "Back to the home page" } } "\n"
    };
    let nav: Vec<NavLink> = std::iter::once(("index.html".to_owned(), "Home".to_owned()))
        .chain(site.pages.iter().map(|p| (p.clone(), humanize(p))))
        .map(|(target, label)| (href(&prefix, &target), label))
        .collect();
    layout::layout(
        site,
        &prefix,
        &format!("{name} · {}", site.outline.title),
        &nav,
        main,
    )
}

/// A menu target on the same page.
fn anchor(id: &str) -> Text<String> {
    Text(format!("#{id}"))
}

/// The page's title as its `<h1>`, with `lead` under it.
fn hero(id: Option<&str>, title: &str, lead: Option<Markup>) -> Markup {
    html! {
        section class="hero" {
            "\n"
            h1 id=[id.map(Text)] { (Text(title)) } "\n"
            @if let Some(lead) = lead {
                p class="lead" { (lead) } "\n"
            }
        }
        "\n"
    }
}

/// A `<section>` with an id (a menu target) and an `<h2>` over `body`.
fn titled_section(id: &str, heading: impl Render, body: impl Render) -> Markup {
    html! {
        section id=(Text(id)) class="section" {
            "\n"
            h2 { (heading) } "\n"
            (body)
        }
        "\n"
    }
}

fn section_html(id: &str, section: &Section) -> Markup {
    let body = html! {
        @for paragraph in &section.paragraphs {
            p { (rich(paragraph)) } "\n"
        }
        @if !section.items.is_empty() {
            div class="cards" {
                "\n"
                @for item in &section.items {
                    article class="card" {
                        @if let Some(title) = &item.title {
                            h3 { (rich(title)) }
                        }
                        @if !item.text.is_empty() {
                            p { (rich(&item.text)) }
                        }
                    }
                    "\n"
                }
            }
            "\n"
        }
    };
    titled_section(id, rich(&section.heading), body)
}

/// The attachments as cards (the first table given `table_id`), then the
/// other files the brief names as links.
fn files_html(site: &Site<'_>, table_id: Option<&str>) -> Markup {
    let mut table_id = table_id;
    let attachments = &site.request.attachments;
    html! {
        @if !attachments.is_empty() {
            div class="attachments" {
                "\n"
                @for attachment in attachments {
                    @let is_table = attachments::kind(attachment) == attachments::Kind::Table;
                    @let id = if is_table { table_id.take() } else { None };
                    (attachments::card(attachment, id))
                }
            }
            "\n"
        }
        @if !site.resources.is_empty() {
            ul class="resources" {
                "\n"
                @for resource in &site.resources {
                    li { a href=(href("", resource)) { (Text(resource)) } } "\n"
                }
            }
            "\n"
        }
    }
}
