//! The text of system messages (joins, leaves, renames), composed in one place
//! for every language the server speaks. The store writes the text the writer
//! composes here; nothing else builds these strings.

use sova_types::models::ChatKind;

/// The language system messages are written in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Lang {
    /// English (the only language so far).
    #[default]
    En,
}

/// A chat event announced to the members as a system message. Names are usernames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SystemEvent {
    /// `by` created a group or channel called `name`.
    ChatCreated { by: String, kind: ChatKind, name: String },
    /// `name` joined by invite link.
    MemberJoined { name: String },
    /// `by` added `name`.
    MemberAdded { by: String, name: String },
    /// `name` left.
    MemberLeft { name: String },
    /// `by` removed `name`.
    MemberRemoved { by: String, name: String },
    /// `by` renamed the chat to `name`.
    ChatRenamed { by: String, name: String },
}

impl SystemEvent {
    /// The message text in `lang`.
    pub fn text(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.english(),
        }
    }

    fn english(&self) -> String {
        match self {
            SystemEvent::ChatCreated { by, kind, name } => {
                let what = if *kind == ChatKind::Channel { "channel" } else { "group" };
                format!("{by} created the {what} «{name}»")
            }
            SystemEvent::MemberJoined { name } => format!("{name} joined"),
            SystemEvent::MemberAdded { by, name } => format!("{by} added {name}"),
            SystemEvent::MemberLeft { name } => format!("{name} left"),
            SystemEvent::MemberRemoved { by, name } => format!("{by} removed {name}"),
            SystemEvent::ChatRenamed { by, name } => format!("{by} renamed the chat to «{name}»"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_text_is_unchanged() {
        let s = |e: SystemEvent| e.text(Lang::En);
        let (by, name) = ("ann".to_owned(), "bob".to_owned());
        assert_eq!(
            s(SystemEvent::ChatCreated {
                by: by.clone(),
                kind: ChatKind::Group,
                name: "Team".into()
            }),
            "ann created the group «Team»"
        );
        assert_eq!(
            s(SystemEvent::ChatCreated {
                by: by.clone(),
                kind: ChatKind::Channel,
                name: "News".into()
            }),
            "ann created the channel «News»"
        );
        assert_eq!(s(SystemEvent::MemberJoined { name: name.clone() }), "bob joined");
        assert_eq!(
            s(SystemEvent::MemberAdded {
                by: by.clone(),
                name: name.clone()
            }),
            "ann added bob"
        );
        assert_eq!(s(SystemEvent::MemberLeft { name: name.clone() }), "bob left");
        assert_eq!(
            s(SystemEvent::MemberRemoved { by: by.clone(), name }),
            "ann removed bob"
        );
        assert_eq!(
            s(SystemEvent::ChatRenamed { by, name: "X".into() }),
            "ann renamed the chat to «X»"
        );
    }
}
