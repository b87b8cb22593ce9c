//! Who gets a notification, and why: the user and the address the envelope names, and the
//! reason that becomes the `Cc` on `noreply.HOSTNAME`.

use super::input::{InvalidInput, check_owner, invalid};
use crate::syntax;

/// Who gets a notification: a user name and the user's address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    login: String,
    address: String,
}

impl Recipient {
    /// The user `login` at `address`.
    ///
    /// # Errors
    /// [`InvalidInput`] for a bad user name (1-39 letters, digits and inner hyphens) or an
    /// address that is not a plain `local@domain`.
    pub fn new(login: &str, address: &str) -> Result<Recipient, InvalidInput> {
        check_owner(login, "to_user")?;
        syntax::check_email_address(address)
            .map_err(|e| invalid("to", format!("{address:?}: {e}")))?;
        Ok(Recipient {
            login: login.to_owned(),
            address: address.to_owned(),
        })
    }

    /// The user name.
    pub fn login(&self) -> &str {
        &self.login
    }

    /// The address.
    pub fn address(&self) -> &str {
        &self.address
    }
}

/// Why the user gets the notification; it becomes the `Cc` on `noreply.HOSTNAME` and the
/// `X-Appliance-Reason` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The user watches the thread or the repository.
    Subscribed,
    /// The user was mentioned.
    Mention,
    /// The user opened the thread.
    Author,
    /// The user commented on the thread.
    Comment,
    /// The thread is assigned to the user.
    Assign,
    /// The user's review was requested.
    ReviewRequested,
}

impl Reason {
    /// Every value, as the CLI takes them.
    pub const NAMES: &'static str =
        "subscribed, mention, author, comment, assign, review-requested";

    /// Reads a value as the CLI takes it.
    pub fn from_name(name: &str) -> Option<Reason> {
        Some(match name {
            "subscribed" => Reason::Subscribed,
            "mention" => Reason::Mention,
            "author" => Reason::Author,
            "comment" => Reason::Comment,
            "assign" => Reason::Assign,
            "review-requested" => Reason::ReviewRequested,
            _ => return None,
        })
    }

    /// The local part of the Cc address and the `X-Appliance-Reason` value.
    pub fn local_part(self) -> &'static str {
        match self {
            Reason::Subscribed => "subscribed",
            Reason::Mention => "mention",
            Reason::Author => "author",
            Reason::Comment => "comment",
            Reason::Assign => "assign",
            Reason::ReviewRequested => "review_requested",
        }
    }

    /// The Cc's display name.
    pub fn display_name(self) -> &'static str {
        match self {
            Reason::Subscribed => "Subscribed",
            Reason::Mention => "Mention",
            Reason::Author => "Author",
            Reason::Comment => "Comment",
            Reason::Assign => "Assign",
            Reason::ReviewRequested => "Review requested",
        }
    }

    /// The end of "You are receiving this because …".
    pub fn explanation(self) -> &'static str {
        match self {
            Reason::Subscribed => "you are subscribed to this thread",
            Reason::Mention => "you were mentioned",
            Reason::Author => "you opened this thread",
            Reason::Comment => "you commented on this thread",
            Reason::Assign => "you were assigned",
            Reason::ReviewRequested => "your review was requested",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_and_reasons() {
        assert!(Recipient::new("bob", "bob@example.com").is_ok());
        assert_eq!(
            Recipient::new("bob", "bob@example.com>\r\nRCPT TO:<x@y>")
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(
            Recipient::new("b b", "bob@example.com").unwrap_err().field,
            "to_user"
        );
        for name in Reason::NAMES.split(", ") {
            assert!(Reason::from_name(name).is_some(), "{name}");
        }
    }
}
