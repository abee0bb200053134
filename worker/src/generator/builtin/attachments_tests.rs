use std::sync::Arc;

use pagesmith::domain::SitePath;

use super::*;

/// The card as HTML text.
fn card(attachment: &Attachment, table_id: Option<&str>) -> String {
    super::card(attachment, table_id).into_string()
}

fn attachment(name: &str, media_type: &str, data: &[u8]) -> Attachment {
    Attachment {
        name: SitePath::parse(name).unwrap(),
        media_type: media_type.to_owned(),
        data: Arc::new(data.to_vec()),
    }
}

#[test]
fn csv_with_quoted_fields_is_parsed_properly() {
    let a = attachment(
        "data.csv",
        "text/csv",
        b"\xef\xbb\xbfname,note,sales\n\"Smith, J\",\"said \"\"hi\"\"\",10\nLee,\"two\nlines\",2.5\nshort\n",
    );
    let table = parse_table(&a).unwrap();
    assert_eq!(table.headers, ["name", "note", "sales"]);
    assert_eq!(table.rows[0], ["Smith, J", "said \"hi\"", "10"]);
    assert_eq!(table.rows[1], ["Lee", "two\nlines", "2.5"]);
    assert_eq!(table.rows[2], ["short"]);
}

#[test]
fn a_tsv_is_split_on_tabs_and_an_empty_file_is_refused() {
    let table = parse_table(&attachment(
        "t.tsv",
        "text/tab-separated-values",
        b"a\tb\n1\t2\n",
    ))
    .unwrap();
    assert_eq!(table.rows[0], ["1", "2"]);
    assert_eq!(
        parse_table(&attachment("e.csv", "text/csv", b"")),
        Err("is empty".to_owned())
    );
}

#[test]
fn the_total_comes_from_the_column_the_id_names() {
    let table = Table {
        headers: vec!["region".into(), "units".into(), "Sales".into()],
        rows: vec![
            vec!["north".into(), "3".into(), "1000.25".into()],
            vec!["south".into(), "4".into(), "234.25".into()],
            vec!["east".into(), "".into(), "".into()],
        ],
    };
    let words = |s: &str| s.split('-').map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        column_total(&table, &words("total-sales")).as_deref(),
        Some("1234.5")
    );
    assert_eq!(
        column_total(&table, &words("total-units")).as_deref(),
        Some("7")
    );
    assert_eq!(
        column_total(&table, &words("total")).as_deref(),
        Some("1234.5")
    );
    let text_only = Table {
        headers: vec!["a".into()],
        rows: vec![vec!["x".into()]],
    };
    assert_eq!(column_total(&text_only, &words("total")), None);
}

#[test]
fn numbers_are_written_plainly() {
    assert_eq!(plain_number(60.0), "60");
    assert_eq!(plain_number(0.1 + 0.2), "0.3");
    assert_eq!(plain_number(-2.5), "-2.5");
}

#[test]
fn each_kind_is_shown_and_linked_by_its_exact_name() {
    let image = card(
        &attachment("img/sample photo.png", "image/png", &[1, 2]),
        None,
    );
    assert!(image.contains("<img src=\"img/sample%20photo.png\" alt=\"Sample photo\""));
    assert!(image.contains("href=\"img/sample%20photo.png\" download"));

    let csv = card(
        &attachment("data.csv", "text/csv", b"a,b\n<x>,2\n"),
        Some("sales-table"),
    );
    assert!(csv.contains("<table id=\"sales-table\" data-sortable>"));
    assert!(csv.contains("<tr><td>&lt;x&gt;</td><td class=\"num\">2</td></tr>"));

    let json = card(
        &attachment("d.json", "application/json", br#"{"a":[1,"<b>"]}"#),
        None,
    );
    assert!(json.contains("{\n  &quot;a&quot;: [\n    1,\n    &quot;&lt;b&gt;&quot;\n  ]\n}"));

    let md = card(
        &attachment("input.md", "text/markdown", b"# Hi\n<script>x</script>"),
        None,
    );
    assert!(md.contains(
        "data-markdown-source=\"input.md\"><code># Hi\n&lt;script&gt;x&lt;/script&gt;</code></pre>"
    ));

    let pdf = card(&attachment("doc.pdf", "application/pdf", b"%PDF"), None);
    assert!(pdf.contains("href=\"doc.pdf\" download>Download doc.pdf</a>"));
    assert_eq!(
        kind(&attachment("song.mp3", "audio/mpeg", b"")),
        Kind::Audio
    );
}

#[test]
fn bad_data_is_explained_not_shown() {
    let csv = card(
        &attachment("bad.csv", "text/csv", b"a,b\n\xff\xfe,1\n"),
        None,
    );
    assert!(csv.contains("cannot be read as CSV"), "{csv}");
    let text = card(&attachment("bin.txt", "text/plain", b"\xff\xfe"), None);
    assert!(text.contains("not UTF-8 text"));
}
