//! The states of things other than jobs (`job::JobState`), as stored.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

text_enum! {
    /// Whether a version's previews are served (`versions.state`).
    VersionState {
        Active = "active",
        Rejected = "rejected",
        Expired = "expired",
    }
}

text_enum! {
    /// Whether GitHub Pages (or the local pages) serve the published commit
    /// yet (`publishes.pages_status`).
    PagesStatus {
        /// The pages are built from this commit and answer.
        Built = "built",
        /// Not confirmed by the cut-off; the callback goes out anyway.
        Pending = "pending",
    }
}

text_enum! {
    /// Where an `/app` job's evaluation callback stands
    /// (`app_requests.callback_status`).
    CallbackStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

text_enum! {
    /// What a bot message in a chat is about (`chat_messages.purpose`), so a
    /// reply or a click on it finds its project.
    MessagePurpose {
        /// A job's status message, until it becomes the ready message.
        Status = "status",
        /// A version ready for review, with the review buttons.
        Ready = "ready",
        /// The announcement of a published version.
        Published = "published",
        /// A screenshot of a version's preview.
        Screenshot = "screenshot",
        /// "What should change?" after Request changes.
        RevisePrompt = "revise_prompt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_reads_back_what_it_writes() {
        for v in VersionState::ALL {
            assert_eq!(v.as_str().parse::<VersionState>(), Ok(*v));
        }
        for p in PagesStatus::ALL {
            assert_eq!(p.as_str().parse::<PagesStatus>(), Ok(*p));
        }
        for c in CallbackStatus::ALL {
            assert_eq!(c.as_str().parse::<CallbackStatus>(), Ok(*c));
        }
        for m in MessagePurpose::ALL {
            assert_eq!(m.as_str().parse::<MessagePurpose>(), Ok(*m));
        }
        assert!("archived".parse::<VersionState>().is_err());
    }
}
