//! The runtime's `GET /2021-04-23/credentials` (init caching, spec §13):
//! only with init caching on, and only for the token this generation was
//! given.

/// What a credentials call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialsCall {
    /// Init caching is off: the path does not exist.
    Disabled,
    /// No credentials for that token (none stored, or another token).
    NotFound,
    /// The generation's credentials.
    Give,
}

/// A credentials call, with init caching on or off, whose token is the
/// stored one's (`None`: none stored).
pub fn on_credentials(init_caching: bool, token_matches: Option<bool>) -> CredentialsCall {
    match (init_caching, token_matches) {
        (false, _) => CredentialsCall::Disabled,
        (true, Some(true)) => CredentialsCall::Give,
        (true, Some(false) | None) => CredentialsCall::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CredentialsCall as C;

    #[test]
    fn credentials_only_with_init_caching_and_the_right_token() {
        let table = [
            (false, None, C::Disabled),
            (false, Some(false), C::Disabled),
            (false, Some(true), C::Disabled),
            (true, None, C::NotFound),
            (true, Some(false), C::NotFound),
            (true, Some(true), C::Give),
        ];
        for (init_caching, matches, want) in table {
            assert_eq!(
                on_credentials(init_caching, matches),
                want,
                "init caching {init_caching}, token matches {matches:?}"
            );
        }
    }
}
