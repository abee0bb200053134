//! The built-in generator: a deterministic template that reads the request.
//!
//! It is the default without `LLM_API_KEY` and the fallback when the LLM
//! fails, so it must always produce a complete, honest site: a title and
//! sections from the brief, every attachment shown and linked by its exact
//! name, every file and element id the brief or the checks name, a README
//! and an MIT LICENSE. The same request gives byte-identical files.

mod attachments;
mod docs;
mod elements;
mod files;
mod html;
mod layout;
mod outline;
mod page;
mod scan;
pub mod title;

use async_trait::async_trait;
use chrono::Datelike;
use pagesmith::domain::SitePath;

use super::{GenerateError, Generated, GeneratedFile, Generator, SiteRequest};
use attachments::{Kind, Table};
use outline::Outline;
use scan::Mentions;

/// Files every site gets, in the order they are listed (`.nojekyll` from
/// `manifest::build`, which completes every site).
const FIXED: &[&str] = &[
    "index.html",
    "style.css",
    "script.js",
    "README.md",
    "LICENSE",
    ".nojekyll",
];

/// Writes sites without an LLM.
#[derive(Debug, Clone, Default)]
pub struct BuiltinGenerator {
    year: Option<i32>,
}

impl BuiltinGenerator {
    /// Dates the LICENSE and footer with the current year.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dates everything with `year`, for output that never changes.
    pub fn with_year(year: i32) -> Self {
        Self { year: Some(year) }
    }

    fn year(&self) -> i32 {
        self.year.unwrap_or_else(|| chrono::Utc::now().year())
    }

    /// The site's files. `problems` (from a repair) are read for more names
    /// of files and ids; `keep` are current files carried over unless
    /// regenerated, so a revision keeps its file names.
    fn build(
        &self,
        request: &SiteRequest,
        problems: &[String],
        keep: &[GeneratedFile],
    ) -> Vec<GeneratedFile> {
        let previous_title = keep
            .iter()
            .find(|f| f.path == "index.html")
            .and_then(|f| title_of(&f.content));
        let mut outline = outline::outline(&request.brief, previous_title.as_deref());
        if let Some(change) = request.change_request.as_deref()
            && change.trim() != request.brief.trim()
            && !change.trim().is_empty()
        {
            outline
                .sections
                .insert(0, outline::section("Latest update", change));
        }
        let texts = std::iter::once(request.brief.as_str())
            .chain(request.checks.iter().map(String::as_str))
            .chain(request.change_request.as_deref())
            .chain(problems.iter().map(String::as_str));
        let mentions = scan::scan(texts);
        let mut site = Site::plan(request, self.year(), outline, mentions);

        let mut files = vec![
            file("index.html", page::index(&site).into_string()),
            file("style.css", files::STYLE_CSS.to_owned()),
            file("script.js", files::SCRIPT_JS.to_owned()),
        ];
        for path in &site.pages {
            files.push(file(path, page::subpage(&site, path).into_string()));
        }
        for path in site
            .styles
            .iter()
            .chain(&site.scripts)
            .chain(&site.resources)
        {
            if !FIXED.contains(&path.as_str())
                && let Some(content) = files::named(&site, path)
            {
                files.push(file(path, content));
            }
        }
        files.push(file("LICENSE", docs::license(site.year, site.owner())));
        for old in keep {
            let regenerated = files.iter().any(|f| f.path == old.path) || old.path == "README.md";
            if !regenerated && !site.is_attachment(&old.path) && SitePath::parse(&old.path).is_ok()
            {
                files.push(old.clone());
                site.kept.push(old.path.clone());
            }
        }
        let mut paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        // The README describes the whole site: itself, written below, and
        // `.nojekyll`, which `manifest::build` adds to every site.
        paths.extend(["README.md".to_owned(), ".nojekyll".to_owned()]);
        paths.extend(
            request
                .attachments
                .iter()
                .map(|a| a.name.as_str().to_owned()),
        );
        paths.sort();
        paths.dedup();
        files.push(file("README.md", docs::readme(&site, &paths)));
        files
    }
}

fn file(path: &str, content: String) -> GeneratedFile {
    GeneratedFile {
        path: path.to_owned(),
        content,
    }
}

/// The text of a page's `<title>`, unescaped.
fn title_of(html: &str) -> Option<String> {
    crate::site_name::page_title(html)
}

/// Everything the templates read: the request, what was read from it, and
/// which files the site will have.
pub(crate) struct Site<'a> {
    request: &'a SiteRequest,
    year: i32,
    outline: Outline,
    mentions: Mentions,
    /// Parsed CSV attachments, in attachment order.
    tables: Vec<Table>,
    /// Named pages other than `index.html`.
    pages: Vec<String>,
    /// Stylesheets, `style.css` first.
    styles: Vec<String>,
    /// Scripts, `script.js` last (it uses what the others load).
    scripts: Vec<String>,
    /// Other named files, linked from the home page.
    resources: Vec<String>,
    /// Files of the previous version carried over as they were.
    kept: Vec<String>,
}

impl<'a> Site<'a> {
    fn plan(request: &'a SiteRequest, year: i32, outline: Outline, mentions: Mentions) -> Self {
        let tables = request
            .attachments
            .iter()
            .filter(|a| attachments::kind(a) == Kind::Table)
            .filter_map(|a| attachments::parse_table(a).ok())
            .collect();
        let mut site = Self {
            request,
            year,
            outline,
            mentions,
            tables,
            pages: Vec::new(),
            styles: vec!["style.css".to_owned()],
            scripts: Vec::new(),
            resources: Vec::new(),
            kept: Vec::new(),
        };
        for path in site.mentions.files.clone() {
            if FIXED.contains(&path.as_str()) || site.is_attachment(&path) {
                continue;
            }
            let ext = path
                .rsplit_once('.')
                .map(|(_, e)| e.to_ascii_lowercase())
                .unwrap_or_default();
            let list = match ext.as_str() {
                "html" | "htm" => &mut site.pages,
                "css" => &mut site.styles,
                "js" | "mjs" => &mut site.scripts,
                _ => &mut site.resources,
            };
            list.push(path);
        }
        site.scripts.push("script.js".to_owned());
        site
    }

    fn is_attachment(&self, path: &str) -> bool {
        self.request
            .attachments
            .iter()
            .any(|a| a.name.as_str() == path)
    }

    fn owner(&self) -> &str {
        match self.request.owner.trim() {
            "" => "the site's owner",
            owner => owner,
        }
    }
}

#[async_trait]
impl Generator for BuiltinGenerator {
    fn name(&self) -> String {
        super::origin::Origin::Builtin.to_string()
    }

    async fn generate(&self, request: &SiteRequest) -> Result<Generated, GenerateError> {
        Ok(Generated {
            files: self.build(request, &[], &request.previous_files),
            raw_output: None,
            generator: self.name(),
            // The brief or the page title names it (`site_name`).
            name: None,
        })
    }

    /// Regenerates, reading the problems for missing files and ids so each
    /// one they name is created.
    async fn repair(
        &self,
        request: &SiteRequest,
        current: &[GeneratedFile],
        problems: &[String],
    ) -> Result<Generated, GenerateError> {
        let keep: Vec<GeneratedFile> = current
            .iter()
            .chain(&request.previous_files)
            .cloned()
            .collect();
        Ok(Generated {
            files: self.build(request, problems, &keep),
            raw_output: None,
            generator: self.name(),
            // The brief or the page title names it (`site_name`).
            name: None,
        })
    }
}
