//! The review buttons under a ready message, and the `callback_data` they
//! carry: one type both writes and reads it, so the two cannot drift.
//!
//! Buttons follow decisions: after Approve or Reject no button that would
//! repeat it remains, only a label saying who decided what; after Request
//! changes that button becomes such a label; a ready message replaced by a
//! newer version keeps only a label pointing at it. Labels are buttons
//! (Telegram has no other kind) whose click answers where the version
//! stands.

use uuid::Uuid;

use crate::{telegram::Buttons, text::shorten};

/// What a button asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Approve,
    Revise,
    Reject,
    /// A label: tells where the version stands, changes nothing.
    Status,
}

impl Action {
    pub const ALL: [Action; 4] = [
        Action::Approve,
        Action::Revise,
        Action::Reject,
        Action::Status,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Approve => "approve",
            Action::Revise => "revise",
            Action::Reject => "reject",
            Action::Status => "status",
        }
    }
}

/// A button's `callback_data`: `approve:<version id>` and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonData {
    pub action: Action,
    pub version: Uuid,
}

impl ButtonData {
    /// At most 43 bytes, within Telegram's 64.
    pub fn encode(self) -> String {
        format!("{}:{}", self.action.as_str(), self.version)
    }

    /// The data a client sent back; anything else (tampered, stale, from
    /// another bot) is `None`.
    pub fn parse(data: &str) -> Option<Self> {
        let (name, id) = data.split_once(':')?;
        let action = Action::ALL.into_iter().find(|a| a.as_str() == name)?;
        Some(Self {
            action,
            version: Uuid::parse_str(id).ok()?,
        })
    }
}

/// A decision taken on a version, for its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Approved { by: &'a str },
    ChangesRequested { by: &'a str },
    Replaced { by_version: i32 },
}

fn button(label: impl Into<String>, action: Action, version: Uuid) -> (String, String) {
    (label.into(), ButtonData { action, version }.encode())
}

/// Approve / Request changes / Reject.
pub fn review(version: Uuid) -> Buttons {
    vec![
        vec![button("✅ Approve", Action::Approve, version)],
        vec![
            button("✏️ Request changes", Action::Revise, version),
            button("🗑 Reject", Action::Reject, version),
        ],
    ]
}

/// The buttons left once `decision` is taken.
pub fn after(version: Uuid, decision: Decision<'_>) -> Buttons {
    let name = |by: &str| shorten(by, 32);
    match decision {
        Decision::Approved { by } => vec![vec![button(
            format!("✅ Approved by {}", name(by)),
            Action::Status,
            version,
        )]],
        Decision::ChangesRequested { by } => vec![
            vec![button(
                format!("✏️ Changes requested by {}", name(by)),
                Action::Status,
                version,
            )],
            vec![
                button("✅ Approve", Action::Approve, version),
                button("🗑 Reject", Action::Reject, version),
            ],
        ],
        Decision::Replaced { by_version } => vec![vec![button(
            format!("⏭ Replaced by version {by_version}"),
            Action::Status,
            version,
        )]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The actions a set of buttons offers.
    fn actions(buttons: &Buttons) -> Vec<Action> {
        buttons
            .iter()
            .flatten()
            .filter_map(|(_, data)| ButtonData::parse(data).map(|d| d.action))
            .collect()
    }

    #[test]
    fn every_button_reads_back_as_written() {
        let version = Uuid::new_v4();
        for action in Action::ALL {
            let data = ButtonData { action, version }.encode();
            assert!(data.len() <= 64, "Telegram's callback_data limit");
            assert_eq!(
                ButtonData::parse(&data),
                Some(ButtonData { action, version })
            );
        }
        assert_eq!(ButtonData::parse(&format!("publish:{version}")), None);
        assert_eq!(ButtonData::parse("approve:not-a-uuid"), None);
        assert_eq!(ButtonData::parse("approve"), None);
    }

    #[test]
    fn no_button_repeats_a_decision() {
        let v = Uuid::new_v4();
        assert_eq!(
            actions(&review(v)),
            [Action::Approve, Action::Revise, Action::Reject]
        );
        let approved = after(v, Decision::Approved { by: "Ada" });
        assert_eq!(actions(&approved), [Action::Status]);
        assert_eq!(approved[0][0].0, "✅ Approved by Ada");
        let revising = after(v, Decision::ChangesRequested { by: "Ada" });
        assert_eq!(
            actions(&revising),
            [Action::Status, Action::Approve, Action::Reject]
        );
        assert_eq!(
            actions(&after(v, Decision::Replaced { by_version: 3 })),
            [Action::Status]
        );
    }
}
