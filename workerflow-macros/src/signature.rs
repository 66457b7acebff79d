//! Checks that the annotated function has a shape the wrapper can call.

use proc_macro2::Ident;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{FnArg, ReturnType, Signature, Type};

/// What the wrapper needs from a valid handler signature.
pub(crate) struct Handler {
    pub name: Ident,
    pub is_async: bool,
    /// The type the context parameter points to (`RouteContext<…>`).
    pub context: Type,
    pub input: Type,
    /// The return type, for error spans.
    pub output: Type,
}

/// Checks the signature and reports every problem found, each at the token at fault.
pub(crate) fn check(
    signature: &Signature,
    route: Option<&Ident>,
) -> Result<Handler, Vec<syn::Error>> {
    let mut errors = Vec::new();
    let expected = expected_signature(&signature.ident, route);

    if let Some(unsafety) = &signature.unsafety {
        errors.push(syn::Error::new(
            unsafety.span(),
            "a #[connector] handler cannot be `unsafe`: the runtime calls it with any payload",
        ));
    }
    if !signature.generics.params.is_empty() || signature.generics.where_clause.is_some() {
        errors.push(syn::Error::new_spanned(
            &signature.generics,
            format!(
                "a #[connector] handler cannot be generic: the runtime calls one concrete function; {expected}"
            ),
        ));
    }

    let mut typed = Vec::new();
    for argument in &signature.inputs {
        match argument {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                format!(
                    "a #[connector] handler is a free function, not a method: remove `self`; {expected}"
                ),
            )),
            FnArg::Typed(pattern) => typed.push(pattern),
        }
    }
    let has_receiver = signature.inputs.len() != typed.len();
    let mut context = None;
    let mut input = None;
    if has_receiver {
        // Reported above; the other parameters are not guessed at.
    } else if typed.len() == 2 {
        match &*typed[0].ty {
            Type::Reference(reference) if reference.mutability.is_none() => {
                context = Some((*reference.elem).clone());
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                format!(
                    "the first parameter is the context, taken by shared reference; {expected}"
                ),
            )),
        }
        match &*typed[1].ty {
            Type::ImplTrait(impl_trait) => errors.push(syn::Error::new_spanned(
                impl_trait,
                format!(
                    "the input must be a concrete type that implements `Deserialize`; {expected}"
                ),
            )),
            ty => input = Some(ty.clone()),
        }
    } else {
        let count = typed.len();
        let span = if signature.inputs.is_empty() {
            signature.paren_token.span.join()
        } else {
            signature.inputs.span()
        };
        errors.push(syn::Error::new(
            span,
            format!(
                "a #[connector] handler takes 2 parameters (the context and the input), not {count}; {expected}"
            ),
        ));
    }

    let output = match &signature.output {
        ReturnType::Type(_, ty) => Some((**ty).clone()),
        ReturnType::Default => {
            errors.push(syn::Error::new(
                signature.ident.span(),
                format!(
                    "a #[connector] handler returns `Result<Output, ConnectorError>`; {expected}"
                ),
            ));
            None
        }
    };

    match (context, input, output) {
        (Some(context), Some(input), Some(output)) if errors.is_empty() => Ok(Handler {
            name: signature.ident.clone(),
            is_async: signature.asyncness.is_some(),
            context,
            input,
            output,
        }),
        _ => Err(errors),
    }
}

/// The message tail that shows the signature the attribute expects.
fn expected_signature(name: &Ident, route: Option<&Ident>) -> String {
    let route = route.map_or_else(|| "<route>".to_owned(), |r| r.to_token_stream().to_string());
    format!(
        "expected `async fn {name}(ctx: &RouteContext<{route}::Route>, input: Input) -> Result<Output, ConnectorError>` \
         (`async` is optional; `Input: Deserialize`, `Output: Serialize`)"
    )
}
