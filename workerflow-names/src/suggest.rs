//! "Did you mean": one rule for the whole toolkit, so an attribute key, a route id and a registry
//! field are suggested alike.

/// Inputs longer than this get no suggestion: names are short, and a huge caller-supplied string
/// (a route id in a request) would only cost time.
const MAX_INPUT: usize = 128;

/// The candidate closest to `input`, if one is close enough to be what was meant.
///
/// A case-insensitive match wins (`high` → `High`); otherwise the smallest Damerau–Levenshtein
/// distance of the lower-cased words, at most a third of the input's length (at least 1). A
/// candidate equal to `input` is never suggested, and ties go to the earlier candidate.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    if input.len() > MAX_INPUT {
        return None;
    }
    let lowered = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == input {
            continue;
        }
        let candidate_lowered = candidate.to_lowercase();
        let distance = if candidate_lowered == lowered {
            0
        } else {
            strsim::damerau_levenshtein(&lowered, &candidate_lowered)
        };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_typos_within_a_third_of_the_length() {
        let fields = ["connectorName", "authType", "sources"];
        assert_eq!(did_you_mean("conectorName", fields), Some("connectorName"));
        assert_eq!(did_you_mean("rout", ["route", "registry"]), Some("route"));
        assert_eq!(
            did_you_mean("registy", ["route", "registry"]),
            Some("registry")
        );
        assert_eq!(
            did_you_mean("slak_message", ["slack_message"]),
            Some("slack_message")
        );
        // A transposition is one edit.
        assert_eq!(did_you_mean("soucres", fields), Some("sources"));
        assert_eq!(did_you_mean("oauth", ["oauth2", "api_key"]), Some("oauth2"));
        assert_eq!(did_you_mean("zzzzzz", fields), None);
        assert_eq!(did_you_mean("path", ["route", "registry"]), None);
    }

    #[test]
    fn case_only_differences_win() {
        assert_eq!(
            did_you_mean("high", ["High", "Medium", "Low"]),
            Some("High")
        );
        assert_eq!(did_you_mean("authtype", ["authType"]), Some("authType"));
        assert_eq!(
            did_you_mean("CHAT_NOTIFY", ["chat_notify"]),
            Some("chat_notify")
        );
    }

    #[test]
    fn never_suggests_the_input_itself_or_for_huge_inputs() {
        assert_eq!(did_you_mean("route", ["route"]), None);
        // One edit away, but over the length cap.
        let huge = "a".repeat(129);
        let near = "a".repeat(128);
        assert_eq!(did_you_mean(&huge, [near.as_str()]), None);
        assert_eq!(did_you_mean(&huge[1..], [&near[1..]]), Some(&near[1..]));
    }

    #[test]
    fn ties_go_to_the_earlier_candidate() {
        assert_eq!(did_you_mean("cat", ["bat", "hat"]), Some("bat"));
    }
}
