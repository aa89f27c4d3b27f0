//! Personal data out of operational texts: error messages from mail servers and from Dynamics often
//! quote the recipient's or the contact's address, and those texts end up in alerts (posted to a
//! chat webhook and emailed to the operations team) and in logs. Written by hand: a scan for `@`
//! with the characters an address may have around it is all this needs (no regular expression
//! crate for one pattern).

/// What stands in for an address that was removed.
pub const ADDRESS_PLACEHOLDER: &str = "[address]";

fn local_part_char(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn domain_char(c: char) -> bool {
    c.is_alphanumeric() || ".-".contains(c)
}

/// `text` with every email address in it replaced by [`ADDRESS_PLACEHOLDER`].
pub fn email_addresses(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' {
            let mut start = out.len();
            let mut local = 0;
            // Walk back over the local part already written.
            for c in out.chars().rev() {
                if !local_part_char(c) {
                    break;
                }
                start -= c.len_utf8();
                local += 1;
            }
            let mut end = i + 1;
            while end < chars.len() && domain_char(chars[end]) {
                end += 1;
            }
            let domain: String = chars[i + 1..end].iter().collect();
            let domain = domain.trim_end_matches(['.', '-']);
            if local > 0 && domain.contains('.') {
                out.truncate(start);
                out.push_str(ADDRESS_PLACEHOLDER);
                // Keep what trailed the domain (a sentence's full stop).
                i += 1 + domain.chars().count();
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_replaced_and_everything_else_kept() {
        assert_eq!(
            email_addresses("550 5.1.1 mailbox unavailable: <gone@hlf.no>"),
            "550 5.1.1 mailbox unavailable: <[address]>"
        );
        assert_eq!(
            email_addresses("to kari.nordmann+x@mail.example.org, per@hlf.no."),
            "to [address], [address]."
        );
        assert_eq!(
            email_addresses("Åse.Ødegård@hlf.no refused"),
            "[address] refused"
        );
        for kept in [
            "no address here",
            "a @ sign alone",
            "user@localhost",
            "@hlf.no",
            "",
        ] {
            assert_eq!(email_addresses(kept), kept);
        }
    }
}
