use super::*;

#[test]
fn an_explicit_name_is_the_title() {
    for (brief, title) in [
        (
            "Create a landing page for a bakery called Sunrise Bakery that sells bread.",
            "Sunrise Bakery",
        ),
        (
            "Build a portfolio titled \"Ada's Work\" with three projects.",
            "Ada's Work",
        ),
        ("Make a page named “Quiet Hours”.", "Quiet Hours"),
        ("# Trail Log\nA hiking diary.", "Trail Log"),
    ] {
        assert_eq!(outline(brief, None).title, title, "{brief}");
    }
}

#[test]
fn without_a_name_the_first_sentence_makes_the_title() {
    let o = outline(
        "Create a captcha solver that handles ?url=https://x.test/a.png. Default to the sample.",
        None,
    );
    assert_eq!(o.title, "Captcha solver that handles…");
    assert_eq!(
        o.lead,
        "Create a captcha solver that handles ?url=https://x.test/a.png."
    );
    assert_eq!(outline("", None).title, "Welcome");
}

#[test]
fn code_like_quotes_are_not_titles() {
    let o = outline("Publish a page named `index.html` with id=\"x\".", None);
    assert_eq!(o.title, "Page named `index.html` with id=\"x\"");
}

#[test]
fn a_given_title_wins() {
    assert_eq!(
        outline("Add a dark mode.", Some("Sunrise Bakery")).title,
        "Sunrise Bakery"
    );
}

#[test]
fn headings_paragraphs_and_bullets_become_sections() {
    let brief = "My portfolio site.\n\nProjects:\n- **Atlas** — a map app\n- Beacon: a status page\n- Plain item\n\n## Contact\nEmail me.\n1. First\n2) Second";
    let o = outline(brief, None);
    assert_eq!(o.lead, "My portfolio site.");
    assert_eq!(o.sections.len(), 2, "{:?}", o.sections);
    let projects = &o.sections[0];
    assert_eq!(projects.heading, "Projects");
    assert_eq!(
        projects.items[0],
        Item {
            title: Some("Atlas".into()),
            text: "a map app".into()
        }
    );
    assert_eq!(
        projects.items[1],
        Item {
            title: Some("Beacon".into()),
            text: "a status page".into()
        }
    );
    assert_eq!(
        projects.items[2],
        Item {
            title: None,
            text: "Plain item".into()
        }
    );
    let contact = &o.sections[1];
    assert_eq!(contact.heading, "Contact");
    assert_eq!(contact.paragraphs, ["Email me."]);
    assert_eq!(contact.items.len(), 2);
}

#[test]
fn a_run_on_paragraph_is_split_into_sentence_cards() {
    let o = outline(
        "A bakery page. Bread daily. Cakes to order. Open 7am to 3pm. Version 3.5 is here.",
        None,
    );
    assert_eq!(o.lead, "A bakery page.");
    let overview = &o.sections[0];
    assert_eq!(overview.heading, "Overview");
    let texts: Vec<_> = overview.items.iter().map(|i| i.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Bread daily.",
            "Cakes to order.",
            "Open 7am to 3pm.",
            "Version 3.5 is here."
        ]
    );
}

#[test]
fn a_sentence_about_the_subject_is_preferred_as_the_lead() {
    let o = outline(
        "Create a page for a bakery called Sunrise Bakery. We bake bread daily in Leeds.",
        None,
    );
    assert_eq!(o.title, "Sunrise Bakery");
    assert_eq!(o.lead, "We bake bread daily in Leeds.");
    assert_eq!(
        o.sections[0].paragraphs,
        ["Create a page for a bakery called Sunrise Bakery."]
    );
    let o = outline("Build a timer. Default to five minutes.", None);
    assert_eq!(o.title, "Timer");
    assert_eq!(o.lead, "Build a timer.");
}

#[test]
fn a_change_request_becomes_one_section() {
    let s = section("Latest update", "Add a menu.\n\n- Bread\n- Cakes");
    assert_eq!(s.heading, "Latest update");
    assert_eq!(s.paragraphs, ["Add a menu."]);
    assert_eq!(s.items.len(), 2);
}
