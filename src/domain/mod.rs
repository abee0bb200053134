//! Domain types. Validated inputs are newtypes built by a `parse` function;
//! states stored as text are enums (`text_enum!`), so a typo does not
//! compile.

/// An enum stored as text: `as_str` gives the stored name, `FromStr` reads
/// it back, `ALL` lists every value.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        ///
        /// Stored as `text` (the column keeps its CHECK constraint): rows
        /// decode into this type, so a value outside it is an error, not a
        /// string compared by hand.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
        #[serde(rename_all = "snake_case")]
        #[sqlx(type_name = "text")]
        pub enum $name { $($(#[$vmeta])* #[sqlx(rename = $text)] $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The name stored in PostgreSQL and shown in the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!("unknown {} `{other}`", stringify!($name))),
                }
            }
        }
    };
}

pub mod app_request;
pub mod data_uri;
pub mod file_type;
pub mod job;
pub mod net;
pub mod site_path;
pub mod states;

pub use app_request::{AppRequest, AppRequestLimits, Attachment, FieldErrors};
pub use data_uri::{DataUri, DataUriError};
pub use job::{JobKind, JobMessage, JobPayload, JobState, Source, WorkQueue};
pub use site_path::{SitePath, SitePathError};
pub use states::{CallbackStatus, MessagePurpose, PagesStatus, VersionState};
