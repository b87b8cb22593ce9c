//! The envelope of a message: the reverse path (`MAIL FROM`) and the recipients (`RCPT TO`).

use crate::syntax;

/// Sender and recipients, checked so that they can go into SMTP commands as they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    from: String,
    to: Vec<String>,
}

/// An address that cannot be used in the envelope.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not a plain email address.
    #[error("{address:?} is not a valid email address ({reason})")]
    Invalid {
        /// The address given.
        address: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No recipient was given.
    #[error("a message needs at least one recipient")]
    NoRecipient,
}

fn checked(address: String) -> Result<String, AddressError> {
    match syntax::check_email_address(&address) {
        Ok(()) => Ok(address),
        Err(e) => Err(AddressError::Invalid {
            address,
            reason: e.reason(),
        }),
    }
}

impl Envelope {
    /// An envelope from `from` to every address of `to`.
    ///
    /// # Errors
    /// [`AddressError`] for an address that is not a plain `local@domain`, or no recipient.
    pub fn new<I, S>(from: impl Into<String>, to: I) -> Result<Self, AddressError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let from = checked(from.into())?;
        let to = to
            .into_iter()
            .map(|a| checked(a.into()))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(AddressError::NoRecipient);
        }
        Ok(Envelope { from, to })
    }

    /// The reverse path.
    pub fn from(&self) -> &str {
        &self.from
    }

    /// The recipients, in order.
    pub fn to(&self) -> &[String] {
        &self.to
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_addresses() {
        let e = Envelope::new("a@b.example", ["c@d.example"]).unwrap();
        assert_eq!(
            (e.from(), e.to()),
            ("a@b.example", &["c@d.example".to_owned()][..])
        );
        assert!(matches!(
            Envelope::new("a@b.example", ["x>\r\nRSET"]),
            Err(AddressError::Invalid { .. })
        ));
        assert_eq!(
            Envelope::new("a@b.example", Vec::<String>::new()),
            Err(AddressError::NoRecipient)
        );
    }
}
