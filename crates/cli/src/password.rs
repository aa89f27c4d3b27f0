//! Dashboard passwords: read from standard input, checked, and stored only as an argon2id hash.

use std::io::Read;

use secrecy::SecretString;

use crate::error::CliError;

pub const MIN_PASSWORD_CHARS: usize = 12;

/// The password piped to the command. One trailing newline (from `echo` or a terminal) is not part
/// of it; everything else is, spaces included.
pub fn read_password(mut input: impl Read) -> Result<SecretString, CliError> {
    let mut raw = String::new();
    input.read_to_string(&mut raw).map_err(|e| {
        CliError::usage(format!("cannot read the password from standard input: {e}"))
    })?;
    let password = raw
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&raw);
    let chars = password.chars().count();
    if chars == 0 {
        return Err(CliError::usage(
            "--password-stdin: standard input is empty; pipe the password in, e.g. \
             `printf '%s' \"$PASSWORD\" | mentor-status users add … --password-stdin`",
        ));
    }
    if chars < MIN_PASSWORD_CHARS {
        return Err(CliError::usage(format!(
            "--password-stdin: the password has {chars} characters; it needs at least {MIN_PASSWORD_CHARS}"
        )));
    }
    Ok(SecretString::from(password))
}

/// The password as logins store it (see [`engine::sign_in::hash_password`]).
pub fn hash_password(password: &SecretString) -> Result<String, CliError> {
    engine::sign_in::hash_password(password).map_err(|e| CliError::failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn one_trailing_newline_is_dropped_and_the_rest_kept() {
        let read = |s: &str| read_password(s.as_bytes()).map(|p| p.expose_secret().to_owned());
        assert_eq!(
            read("correct horse battery\n").unwrap(),
            "correct horse battery"
        );
        assert_eq!(
            read("correct horse battery\r\n").unwrap(),
            "correct horse battery"
        );
        assert_eq!(read(" twelve chars ").unwrap(), " twelve chars ");
        assert_eq!(read("line one is long\n\n").unwrap(), "line one is long\n");
    }

    #[test]
    fn short_or_missing_passwords_are_refused_without_echoing_them() {
        let err = read_password("hunter2\n".as_bytes()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("at least 12"), "{err}");
        assert!(!err.to_string().contains("hunter2"));
        // Twelve characters, counted as characters rather than bytes.
        assert!(read_password("æøåæøåæøåæø".as_bytes()).is_err());
        assert!(read_password("æøåæøåæøåæøå".as_bytes()).is_ok());
        assert!(
            read_password("".as_bytes())
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }
}
