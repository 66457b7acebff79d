//! "Did you mean" for route ids.

const MAX_INPUT: usize = 128;

/// The candidate closest to `input` when it is close enough to be a typo: a case-insensitive
/// match, or an edit distance of at most a third of the input's length (at least 1).
pub(crate) fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    // Route ids are short; a huge caller-supplied id would only cost time.
    if input.len() > MAX_INPUT {
        return None;
    }
    let lowered = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = if candidate.to_lowercase() == lowered {
                0
            } else {
                strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase())
            };
            (distance, candidate)
        })
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::did_you_mean;

    #[test]
    fn suggests_close_route_ids() {
        let routes = ["slack_message", "chat_notify", "openai_chat"];
        assert_eq!(did_you_mean("slak_message", routes), Some("slack_message"));
        assert_eq!(did_you_mean("CHAT_NOTIFY", routes), Some("chat_notify"));
        assert_eq!(did_you_mean("stripe", routes), None);
    }
}
