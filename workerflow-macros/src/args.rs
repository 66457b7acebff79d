//! The attribute's arguments: `route = <route id>` and optional `registry = <path>`. The former
//! `settings = [<static>, …]` is refused with the way to migrate: settings come from the
//! route's contract in the registry.

use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ext::IdentExt;
use syn::parse::Parser;

use workerflow_names::{PATH_KEYWORDS, RAW_KEYWORDS, did_you_mean};

const KEYS: &[&str] = &["route", "registry"];

/// What `settings = […]` (accepted before settings came from the registry) gets instead.
const SETTINGS_MOVED: &str = "settings come from the route's contract now: declare them under \
     `runtime.routes[].settings` in connector-registry/services.json, read them with \
     `ctx.setting(<route>::<NAME>)`, and remove `settings = [...]`";

/// Parsed arguments. Parsing goes on past errors, so one pass reports every problem.
pub(crate) struct Args {
    pub route: Option<Ident>,
    pub registry: Option<syn::Path>,
    pub errors: Vec<syn::Error>,
    /// An error already pointed the user at `route` (`rout = …`, a bare route id).
    route_hinted: bool,
}

pub(crate) fn parse(tokens: TokenStream) -> Args {
    let mut args = Args {
        route: None,
        registry: None,
        errors: Vec::new(),
        route_hinted: false,
    };
    let mut seen: Vec<String> = Vec::new();
    for segment in split_on_commas(tokens) {
        parse_segment(segment, &mut args, &mut seen);
    }
    // A missing `route` is reported unless an error already points at it.
    if args.route.is_none() && !args.route_hinted && !seen.iter().any(|key| key == "route") {
        args.errors.push(syn::Error::new(
            Span::call_site(),
            "missing `route = <route id>`: name the registry route this function implements, \
             for example `#[connector(route = slack_message)]`",
        ));
    }
    args
}

/// Top-level comma-separated segments; empty ones (a trailing comma) are dropped.
fn split_on_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut segments = vec![Vec::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == ',' => segments.push(Vec::new()),
            _ => {
                if let Some(last) = segments.last_mut() {
                    last.push(token);
                }
            }
        }
    }
    segments.retain(|segment| !segment.is_empty());
    segments
}

fn parse_segment(segment: Vec<TokenTree>, args: &mut Args, seen: &mut Vec<String>) {
    let mut tokens = segment.into_iter();
    let Some(first) = tokens.next() else {
        return;
    };
    let TokenTree::Ident(key) = first else {
        args.errors.push(syn::Error::new(
            first.span(),
            "expected `route = <route id>` or `registry = <path>`",
        ));
        return;
    };
    let name = key.unraw().to_string();
    if name == "settings" {
        args.errors
            .push(syn::Error::new(key.span(), SETTINGS_MOVED));
        return;
    }
    let rest: Vec<TokenTree> = tokens.collect();
    let has_equals = matches!(rest.first(), Some(TokenTree::Punct(p)) if p.as_char() == '=');
    if !KEYS.contains(&name.as_str()) {
        let suggestion = did_you_mean(&name, KEYS.iter().copied());
        let message = match (suggestion, has_equals) {
            (Some(key), true) => {
                args.route_hinted |= key == "route";
                format!("unknown key `{name}`; did you mean `{key}`?")
            }
            (_, false) if rest.is_empty() => {
                args.route_hinted = true;
                format!("expected `key = value`; to name the route write `route = {key}`")
            }
            _ => format!("unknown key `{name}`; the keys are `route` and `registry`"),
        };
        args.errors.push(syn::Error::new(key.span(), message));
        return;
    }
    if seen.contains(&name) {
        args.errors.push(syn::Error::new(
            key.span(),
            format!("duplicate key `{name}`: give it once"),
        ));
        return;
    }
    seen.push(name.clone());
    if !has_equals {
        let example = match name.as_str() {
            "route" => "route = slack_message",
            _ => "registry = crate::registry",
        };
        args.errors.push(syn::Error::new(
            key.span(),
            format!("expected `=` after `{name}`, as in `{example}`"),
        ));
        return;
    }
    let value: TokenStream = rest.into_iter().skip(1).collect();
    if value.is_empty() {
        args.errors.push(syn::Error::new(
            key.span(),
            format!("`{name} =` needs a value"),
        ));
        return;
    }
    match name.as_str() {
        "route" => match route_ident(value) {
            Ok(ident) => args.route = Some(ident),
            Err(error) => args.errors.push(error),
        },
        _ => match syn::Path::parse_mod_style.parse2(value.clone()) {
            Ok(path) => args.registry = Some(path),
            Err(_) => args.errors.push(syn::Error::new_spanned(
                value,
                "expected a module path, as in `registry = crate::registry`",
            )),
        },
    }
}

/// The route id as an identifier that can name the generated item: keywords become raw
/// identifiers (`type` → `r#type`), as the generated module spells them.
fn route_ident(value: TokenStream) -> syn::Result<Ident> {
    let mut tokens = value.clone().into_iter();
    let single = match (tokens.next(), tokens.next()) {
        (Some(token), None) => Some(token),
        _ => None,
    };
    match single {
        Some(TokenTree::Ident(ident)) => {
            let name = ident.unraw().to_string();
            if name == "_" || PATH_KEYWORDS.contains(&name.as_str()) {
                Err(syn::Error::new(
                    ident.span(),
                    format!("`{name}` cannot be a route id"),
                ))
            } else if RAW_KEYWORDS.contains(&name.as_str()) {
                Ok(Ident::new_raw(&name, ident.span()))
            } else {
                Ok(ident)
            }
        }
        Some(TokenTree::Literal(literal)) => {
            let unquoted = syn::parse2::<syn::LitStr>(literal.to_token_stream())
                .ok()
                .map(|lit| lit.value())
                .filter(|text| Ident::parse_any.parse_str(text).is_ok());
            let message = match unquoted {
                Some(text) => {
                    format!("the route id is an identifier, not a string: write `route = {text}`")
                }
                None => "expected a route id, as in `route = slack_message`".to_owned(),
            };
            Err(syn::Error::new(literal.span(), message))
        }
        Some(TokenTree::Group(group)) if group.delimiter() == Delimiter::None => {
            route_ident(group.stream())
        }
        _ => Err(syn::Error::new_spanned(
            value,
            "expected one route id, as in `route = slack_message`",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn messages(args: &Args) -> Vec<String> {
        args.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn route_and_registry() {
        let args = parse(quote!(route = slack_message, registry = crate::generated,));
        assert!(args.errors.is_empty(), "{:?}", messages(&args));
        assert_eq!(
            args.route.map(|r| r.to_string()).as_deref(),
            Some("slack_message")
        );
        assert_eq!(
            args.registry
                .map(|p| p.to_token_stream().to_string())
                .as_deref(),
            Some("crate :: generated")
        );
    }

    #[test]
    fn settings_in_the_attribute_say_where_they_moved() {
        let args = parse(quote!(route = a, settings = [GITHUB_REPO]));
        assert_eq!(messages(&args), [SETTINGS_MOVED]);
        assert_eq!(args.route.map(|r| r.to_string()).as_deref(), Some("a"));
    }

    #[test]
    fn keyword_route_ids_become_raw() {
        let args = parse(quote!(route = type));
        assert_eq!(args.route.map(|r| r.to_string()).as_deref(), Some("r#type"));
        let args = parse(quote!(route = r#match));
        assert_eq!(
            args.route.map(|r| r.to_string()).as_deref(),
            Some("r#match")
        );
        let args = parse(quote!(route = self));
        assert_eq!(messages(&args), ["`self` cannot be a route id"]);
    }

    /// The shared table is what the Rust grammar says (syn's keyword list): a keyword is no
    /// plain identifier, and only the path keywords cannot be raw.
    #[test]
    fn the_keyword_table_matches_the_grammar() {
        // `gen` is reserved from edition 2024 on; syn parses every edition, so it lets it pass.
        for name in PATH_KEYWORDS
            .iter()
            .chain(RAW_KEYWORDS)
            .filter(|n| **n != "gen")
        {
            assert!(
                syn::parse_str::<Ident>(name).is_err(),
                "{name} is an identifier"
            );
        }
        for name in RAW_KEYWORDS {
            assert!(
                syn::parse_str::<Ident>(&format!("r#{name}")).is_ok(),
                "r#{name}"
            );
        }
        for name in PATH_KEYWORDS {
            assert!(
                syn::parse_str::<Ident>(&format!("r#{name}")).is_err(),
                "r#{name}"
            );
        }
        // Weak keywords are identifiers, so they are rightly absent.
        for name in ["union", "macro_rules", "raw", "safe", "auto"] {
            assert!(syn::parse_str::<Ident>(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_problem_is_reported() {
        let args = parse(quote!(rout = a, registry = 5, registry = x, "y", bare));
        assert_eq!(
            messages(&args),
            [
                "unknown key `rout`; did you mean `route`?",
                "expected a module path, as in `registry = crate::registry`",
                "duplicate key `registry`: give it once",
                "expected `route = <route id>` or `registry = <path>`",
                "expected `key = value`; to name the route write `route = bare`",
            ]
        );
    }

    #[test]
    fn string_routes_get_the_unquoted_form() {
        let args = parse(quote!(route = "slack_message"));
        assert_eq!(
            messages(&args),
            ["the route id is an identifier, not a string: write `route = slack_message`"]
        );
        let args = parse(quote!(route = a b));
        assert_eq!(
            messages(&args),
            ["expected one route id, as in `route = slack_message`"]
        );
    }
}
