//! "Did you mean" for attribute keys (the macro crate stays free of dependencies beyond syn).

/// The candidate within a third of `input`'s length (at least 1) in edit distance, if any.
pub(crate) fn did_you_mean<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|&candidate| (levenshtein(input, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            let insertion = current[j] + 1;
            let deletion = previous[j + 1] + 1;
            current.push(substitution.min(insertion).min(deletion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["route", "registry"];
        assert_eq!(did_you_mean("rout", &keys), Some("route"));
        assert_eq!(did_you_mean("registy", &keys), Some("registry"));
        assert_eq!(did_you_mean("path", &keys), None);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
