//! The fault target syntax: `active`, `passive`, `witness`, `owner-of:<db>`, `passive-of:<db>`,
//! `host:<name>`, `switch:<name>`, `all`, or a bare host name.

use super::model::Target;

impl Target {
    /// Parses the target syntax. This is syntax only: whether the host, database or switch exists,
    /// and whether the fault kind accepts this sort of target, is checked against the whole scenario.
    pub fn parse(text: &str) -> Result<Target, String> {
        let text = text.trim();
        let named = |prefix: &str, name: &str| -> Result<String, String> {
            if name.trim().is_empty() {
                Err(format!("`{text}` names nothing after `{prefix}:`"))
            } else {
                Ok(name.trim().to_string())
            }
        };
        match text {
            "" => return Err("a fault target cannot be empty".to_string()),
            "active" => return Ok(Target::Active),
            "passive" => return Ok(Target::Passive),
            "witness" => return Ok(Target::Witness),
            "all" => return Ok(Target::All),
            _ => {}
        }
        match text.split_once(':') {
            Some(("owner-of", database)) => named("owner-of", database).map(Target::OwnerOf),
            Some(("passive-of", database)) => named("passive-of", database).map(Target::PassiveOf),
            Some(("host", host)) => named("host", host).map(Target::Host),
            Some(("switch", switch)) => named("switch", switch).map(Target::Switch),
            Some((prefix, _)) => Err(format!(
                "unknown target form `{prefix}:` in `{text}`; use `owner-of:<database>`, `passive-of:<database>`, \
                 `host:<name>` or `switch:<name>`"
            )),
            None => Ok(Target::Host(text.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_targets_parse_to_their_roles() {
        assert_eq!(Target::parse("active"), Ok(Target::Active));
        assert_eq!(Target::parse("passive"), Ok(Target::Passive));
        assert_eq!(Target::parse("witness"), Ok(Target::Witness));
        assert_eq!(Target::parse("all"), Ok(Target::All));
    }

    #[test]
    fn database_and_host_targets_carry_their_names() {
        assert_eq!(Target::parse("owner-of:DB1"), Ok(Target::OwnerOf("DB1".to_string())));
        assert_eq!(Target::parse("passive-of:SG2"), Ok(Target::PassiveOf("SG2".to_string())));
        assert_eq!(Target::parse("host:mbx1"), Ok(Target::Host("mbx1".to_string())));
        assert_eq!(Target::parse("switch:core"), Ok(Target::Switch("core".to_string())));
    }

    #[test]
    fn a_bare_name_is_a_host() {
        assert_eq!(Target::parse("mbx2"), Ok(Target::Host("mbx2".to_string())));
        assert_eq!(Target::parse(" mbx2 "), Ok(Target::Host("mbx2".to_string())));
    }

    #[test]
    fn malformed_targets_are_rejected_with_the_accepted_forms() {
        assert!(Target::parse("").is_err());
        assert!(Target::parse("owner-of:").is_err_and(|e| e.contains("names nothing")));
        assert!(Target::parse("owner:DB1").is_err_and(|e| e.contains("unknown target form `owner:`")));
    }

    #[test]
    fn targets_display_in_the_syntax_they_parse_from() {
        for text in
            ["active", "passive", "witness", "all", "owner-of:DB1", "passive-of:DB1", "mbx1", "switch:core"]
        {
            assert_eq!(Target::parse(text).map(|target| target.to_string()), Ok(text.to_string()));
        }
    }
}
