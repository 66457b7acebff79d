//! "Did you mean" suggestions for misspelt field names and enum values.

/// The candidate closest to `input`, if one is close enough to be what was meant.
///
/// A case-insensitive match always wins (`high` → `High`); otherwise the smallest edit distance,
/// at most a third of the word's length.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lowered = input.to_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let distance = if candidate.to_lowercase() == lowered {
            0
        } else {
            strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase())
        };
        if best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    let limit = (input.chars().count() / 3).max(1);
    best.filter(|(distance, _)| *distance <= limit)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["connectorName", "authType", "sources"];
        assert_eq!(did_you_mean("conectorName", fields), Some("connectorName"));
        assert_eq!(did_you_mean("authtype", fields), Some("authType"));
        assert_eq!(did_you_mean("oauth", ["oauth2", "api_key"]), Some("oauth2"));
        assert_eq!(
            did_you_mean("high", ["High", "Medium", "Low"]),
            Some("High")
        );
        assert_eq!(did_you_mean("zzzzzz", fields), None);
    }
}
