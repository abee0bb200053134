//! Guidance for chatter and for `/new` without a description, and `/new`
//! starting a site of its own.

use worker::process::process;

use crate::{
    helpers::{STATUS_MESSAGE, Step, good_site, spawn},
    interactive::command_as,
};

#[tokio::test]
async fn chatter_and_a_bare_new_get_guidance_with_an_example_and_no_site() {
    let w = spawn(vec![], vec![], &[]).await;
    for name in ["guide", "new"] {
        let answer = command_as(&w, crate::helpers::USER, name, "").await;
        assert!(
            answer.contains("<i>A one-page site for my bakery"),
            "/{name}: an example description: {answer}"
        );
        assert!(answer.contains("/new"), "/{name}: names /new: {answer}");
        assert!(!answer.contains("I don't know"), "/{name}: {answer}");
    }
    assert_eq!(w.count("SELECT count(*) FROM projects").await, 0);
    assert_eq!(w.llm.calls(), 0, "guidance costs no generation");
}

#[tokio::test]
async fn help_lists_new() {
    let w = spawn(vec![], vec![], &[]).await;
    let help = command_as(&w, crate::helpers::USER, "help", "").await;
    assert!(help.contains("/new &lt;description&gt;"), "{help}");
}

/// The bot turns `/new <description>` into a prompt that replies to
/// nothing and does not revise, even when sent as a reply: such a prompt
/// starts a project of its own beside the chat's existing one.
#[tokio::test]
async fn a_prompt_that_replies_to_nothing_starts_a_second_site_beside_the_first() {
    let w = spawn(
        vec![
            Step::Files(good_site("A")),
            Step::Files(good_site("B")),
            Step::Files(good_site("C")),
        ],
        vec![],
        &[],
    )
    .await;
    let first = w.prompt("A site for my bakery", None).await;
    process(&w.env, first).await.unwrap();
    let second = w.prompt("tea", None).await;
    process(&w.env, second).await.unwrap();

    let (one, two) = (w.version_of(first).await, w.version_of(second).await);
    assert_eq!((one.number, two.number), (1, 1), "two first versions");
    assert_eq!(w.count("SELECT count(*) FROM projects").await, 2);
    // A reply to the ready message, by contrast, revises.
    let revision = w.prompt("bigger logo", Some(STATUS_MESSAGE)).await;
    process(&w.env, revision).await.unwrap();
    assert_eq!(w.version_of(revision).await.number, 2);
    assert_eq!(w.count("SELECT count(*) FROM projects").await, 2);
}
