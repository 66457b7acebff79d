//! The expansion: the untouched function, its wrapper and its registration.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::args;
use crate::signature::{self, Handler};

/// Expands `#[connector(args)] item`. Never fails: problems become `compile_error!`s next to the
/// original item, which is always emitted as it was written.
pub(crate) fn connector(args: TokenStream, item: TokenStream) -> TokenStream {
    let args = args::parse(args);
    let mut errors = args.errors;
    // Only the signature matters: a light parse leaves the body (most of a handler's tokens)
    // unparsed; anything else gets syn's full item parse, for the error.
    let signature = match syn::parse2::<FnSignature>(item.clone()) {
        Ok(FnSignature(signature)) => Some(signature),
        Err(_) => match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Fn(function)) => Some(function.sig),
            Ok(other) => {
                errors.push(syn::Error::new(
                    item_keyword_span(&other),
                    "#[connector] goes on a function: `async fn name(ctx: &RouteContext<…>, input: Input) -> Result<Output, ConnectorError>`",
                ));
                None
            }
            // Not an item at all: rustc reports the syntax error on the tokens we pass through.
            Err(_) => None,
        },
    };
    let handler = signature
        .as_ref()
        .map(|signature| signature::check(signature, args.route.as_ref()));
    let generated = match (handler, args.route) {
        (Some(Ok(handler)), Some(route)) if errors.is_empty() => {
            // The default path takes the route's span, so errors about the route item point at it.
            let registry = args.registry.map_or_else(
                || quote_spanned!(route.span()=> crate::registry),
                |path| quote!(#path),
            );
            registration(&handler, &route, &registry)
        }
        (Some(Err(signature_errors)), _) => {
            errors.extend(signature_errors);
            TokenStream::new()
        }
        _ => TokenStream::new(),
    };
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #item
        #(#errors)*
        #generated
    }
}

/// A function item read as its signature, its body taken as one unparsed token group.
struct FnSignature(syn::Signature);

impl syn::parse::Parse for FnSignature {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        input.call(syn::Attribute::parse_outer)?;
        input.parse::<syn::Visibility>()?;
        let signature: syn::Signature = input.parse()?;
        let body: proc_macro2::Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected a function body"));
        }
        Ok(FnSignature(signature))
    }
}

/// The span of an item's leading keyword (`struct`, `impl`, …), or of the whole item.
fn item_keyword_span(item: &syn::Item) -> Span {
    match item {
        syn::Item::Struct(s) => s.struct_token.span,
        syn::Item::Enum(e) => e.enum_token.span,
        syn::Item::Impl(i) => i.impl_token.span,
        syn::Item::Mod(m) => m.mod_token.span,
        syn::Item::Static(s) => s.static_token.span,
        syn::Item::Const(c) => c.const_token.span,
        other => other.span(),
    }
}

fn registration(handler: &Handler, route: &syn::Ident, registry: &TokenStream) -> TokenStream {
    let Handler {
        name,
        is_async,
        context,
        input,
        output,
    } = handler;
    let wrapper = format_ident!("__workerflow_handler_{}", name);
    let function_name = name.unraw().to_string();
    // Spans put type errors at the user's tokens: a non-Deserialize input at the input type, a
    // non-Serialize output at the return type.
    let deserialize = quote_spanned! {input.span()=>
        ::workerflow_runtime::__private::Payload::deserialize::<#input>(payload)
    };
    let serialize = quote_spanned! {output.span()=>
        ::workerflow_runtime::__private::output(route, output)
    };
    // A context of another route is reported at the route the attribute names.
    let connector_new = quote_spanned! {route.span()=>
        ::workerflow_runtime::__private::Connector::new::<#context>
    };
    let route_item = quote_spanned! {route.span()=> &#registry::routes::#route};
    // The context is lent from the call's environment: no context value (nor its drop glue)
    // per route type. A first parameter that is not a route context is reported at that type.
    let from_env = quote_spanned! {context.span()=>
        <#context as ::workerflow_runtime::__private::HandlerContext>::from_env(&env)
    };
    let call = quote! {
        let (env, payload) = ::workerflow_runtime::__private::Call::into_parts(call);
        let context = #from_env;
        let route = payload.route();
        let input: #input = match #deserialize {
            ::core::result::Result::Ok(input) => input,
            ::core::result::Result::Err(error) => {
                return ::core::result::Result::Err(error);
            }
        };
    };
    // A sync handler gets a plain function; only async handlers pay for a boxed future type.
    let (wrapper_fn, handler_fn) = if *is_async {
        (
            quote! {
                fn #wrapper(
                    call: ::workerflow_runtime::__private::Call,
                ) -> ::workerflow_runtime::__private::HandlerFuture {
                    ::std::boxed::Box::pin(async move {
                        #call
                        let output = #name(context, input).await;
                        #serialize
                    })
                }
            },
            quote!(::workerflow_runtime::__private::HandlerFn::Async(#wrapper)),
        )
    } else {
        (
            quote! {
                fn #wrapper(
                    call: ::workerflow_runtime::__private::Call,
                ) -> ::core::result::Result<
                    ::workerflow_runtime::__private::Value,
                    ::workerflow_runtime::DispatchError,
                > {
                    #call
                    let output = #name(context, input);
                    #serialize
                }
            },
            quote!(::workerflow_runtime::__private::HandlerFn::Sync(#wrapper)),
        )
    };
    quote! {
        const _: () = {
            #wrapper_fn

            ::workerflow_runtime::__private::inventory::submit! {
                #connector_new(
                    #route_item,
                    #function_name,
                    ::core::module_path!(),
                    #handler_fn,
                )
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pretty(tokens: TokenStream) -> String {
        match syn::parse2::<syn::File>(tokens.clone()) {
            Ok(file) => prettyplease::unparse(&file),
            Err(error) => format!("unparsable expansion ({error}):\n{tokens}"),
        }
    }

    #[test]
    fn expansion_of_an_async_handler() {
        let expanded = connector(
            quote!(route = slack_message),
            quote! {
                /// Posts a line to Slack.
                pub async fn post_to_slack(
                    ctx: &RouteContext<slack_message::Route>,
                    input: SlackInput,
                ) -> Result<SlackOutput, ConnectorError> {
                    let _url = ctx.secret(slack_message::SLACK_WEBHOOK_URL);
                    Ok(SlackOutput { delivered: !input.text.is_empty() })
                }
            },
        );
        insta::assert_snapshot!(pretty(expanded));
    }

    #[test]
    fn a_sync_handler_with_a_registry_path_is_called_without_await() {
        let tokens = connector(
            quote!(route = lead_normalizer, registry = crate::generated),
            quote! {
                fn normalize(ctx: &RouteContext<Lead>, input: Value) -> Result<Value, ConnectorError> {
                    Ok(input)
                }
            },
        );
        let expanded = tokens.to_string();
        assert!(expanded.contains("crate :: generated :: routes :: lead_normalizer"));
        assert!(!expanded.contains(". await"));
        // A plain function: no future, no box.
        assert!(!expanded.contains("Box :: pin"));
        insta::assert_snapshot!(pretty(tokens));
    }

    #[test]
    fn errors_keep_the_function_and_add_no_registration() {
        let item = quote! {
            fn handler(&self, a: u8, b: u8) {}
        };
        let expanded = connector(quote!(rout = x), item.clone()).to_string();
        assert!(expanded.starts_with(&item.to_string()));
        assert!(!expanded.contains("inventory"));
        assert!(
            !expanded.contains("missing `route"),
            "`rout` already points at `route`"
        );
        assert!(
            !expanded.contains("first parameter"),
            "no guessing after `self`"
        );
        for message in [
            "unknown key `rout`; did you mean `route`?",
            "remove `self`",
            "returns `Result<Output, ConnectorError>`",
        ] {
            assert!(expanded.contains(message), "{message} not in {expanded}");
        }
    }

    #[test]
    fn non_functions_and_garbage_pass_through() {
        let expanded = connector(
            quote!(route = x),
            quote!(
                struct S;
            ),
        )
        .to_string();
        assert!(expanded.contains("#[connector] goes on a function"));
        let garbage = quote!(fn fn { 1 + });
        let expanded = connector(quote!(route = x), garbage.clone()).to_string();
        assert_eq!(expanded, garbage.to_string());
    }

    #[test]
    fn the_body_is_passed_through_unparsed() {
        // Its syntax errors are rustc's, on the re-emitted tokens; the registration is made.
        let handler = quote!(
            fn h(ctx: &RouteContext<x::Route>, input: In) -> Result<Out, ConnectorError> {
                let = ;
            }
        );
        let expanded = connector(quote!(route = x), handler.clone()).to_string();
        assert!(expanded.starts_with(&handler.to_string()));
        assert!(expanded.contains("fn __workerflow_handler_h"));
    }
}
