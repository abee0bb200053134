use super::*;

#[test]
fn ids_are_found_in_selectors_attributes_and_prose() {
    let found = scan([
        "Show the sum in #total-sales and a <div id=\"chart-area\">.",
        "js: document.getElementById('result') !== null",
        "The element with id `status-line` says ok; id=bare-id too.",
        "A form with id contact-form, an id mainTitle, but not the id card.",
    ]);
    assert_eq!(
        found.ids,
        [
            "total-sales",
            "chart-area",
            "result",
            "status-line",
            "bare-id",
            "contact-form",
            "mainTitle"
        ]
    );
}

#[test]
fn colours_urls_entities_and_headings_are_not_ids() {
    let found =
        scan(["Use #fff on #ffcc00, see https://x.test/#top, &#39; and\n## Usage\n# Title"]);
    assert!(found.ids.is_empty(), "{:?}", found.ids);
}

#[test]
fn file_names_are_found_and_normalized() {
    let found = scan([
        "Put the styles in style.css, logic in ./js/app.js and an about.html page.",
        "Check that data.json parses. Read README.md.",
    ]);
    assert_eq!(
        found.files,
        [
            "style.css",
            "js/app.js",
            "about.html",
            "data.json",
            "README.md"
        ]
    );
}

#[test]
fn urls_libraries_and_abbreviations_are_not_files() {
    let found = scan([
        "Load https://cdn.test/lib/marked.min.js and ?file=x.js, use Chart.js and Node.js, e.g. this.",
        "Fetch example.com/page.html.",
    ]);
    assert!(found.files.is_empty(), "{:?}", found.files);
}

#[test]
fn query_parameters_are_found() {
    let found = scan(["Handle ?url=https://x.test/a.png and ?theme=dark, not a question?"]);
    assert_eq!(found.query_params, ["url", "theme"]);
}

#[test]
fn libraries_are_spotted_by_name() {
    let found = scan(["Convert input.md with marked and highlight code with highlight.js."]);
    let names: Vec<_> = found.libraries.iter().map(|l| l.name).collect();
    assert_eq!(names, ["marked", "highlight.js"]);
    assert!(scan(["A remarkedly plain page"]).libraries.is_empty());
}

#[test]
fn mentions_are_listed_once_in_first_mention_order() {
    let found = scan(["#b then #a", "#a and #b and style.css", "style.css"]);
    assert_eq!(found.ids, ["b", "a"]);
    assert_eq!(found.files, ["style.css"]);
}
