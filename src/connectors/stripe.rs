//! Stripe API: `stripe_payment_intent_create` and `stripe_customer_upsert` (docs/ROUTES.md 3.6,
//! 3.7). Requests are form-encoded; creates carry an idempotency key, so they are retried.

use serde_json::{Map, Number, Value};
use url::Url;
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::{HttpMethod, OutboundRequest, header};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input::{self, Problems};
use super::outbound::{self, BaseUrl};
use crate::registry::routes::{stripe_customer_upsert, stripe_payment_intent_create};

const LABEL: &str = "Stripe request failed";
/// The largest amount a JavaScript number holds exactly (2^53 - 1).
const MAX_AMOUNT: f64 = 9_007_199_254_740_991.0;

/// Creates a PaymentIntent.
#[connector(route = stripe_payment_intent_create)]
pub async fn create_payment_intent(
    ctx: &RouteContext<stripe_payment_intent_create::Route>,
    input: stripe_payment_intent_create::Input,
) -> Result<stripe_payment_intent_create::Output, ConnectorError> {
    let route = ctx.route_id();
    let stripe = Stripe::new(
        ctx,
        ctx.secret(stripe_payment_intent_create::STRIPE_API_KEY),
        outbound::base_url(
            ctx,
            stripe_payment_intent_create::WORKERFLOW_STRIPE_BASE_URL,
        ),
    )?;
    let mut problems = Problems::new(route);
    let key = idempotency_key(input.idempotency_key.as_deref(), &mut problems);
    problems.finish()?;
    let amount = amount(&input.amount);
    let key = key.unwrap_or_else(|| format!("workerflow-{}-payment-intent", ctx.trace_id()));
    let key = outbound::header_text(route, "traceId", key)?;
    let currency = input::non_blank(input.currency.as_deref())
        .unwrap_or("usd")
        .to_lowercase();

    let mut fields = vec![
        ("amount", amount.to_string()),
        ("currency", currency.clone()),
    ];
    if let Some(customer) = input::non_blank(input.customer_id.as_deref()) {
        fields.push(("customer", customer.to_owned()));
    }
    if let Some(description) = input::non_blank(input.description.as_deref()) {
        fields.push(("description", description.to_owned()));
    }
    let form = with_metadata(&fields, input.metadata.as_ref());

    let request = stripe
        .request(HttpMethod::POST, "/v1/payment_intents")?
        .form(form)
        .header(header::HeaderName::from_static("idempotency-key"), key);
    let intent = stripe.send(&request).await?;
    Ok(stripe_payment_intent_create::Output {
        ok: true,
        route: route.to_owned(),
        payment_intent_id: outbound::text(&intent, "id"),
        status: outbound::text(&intent, "status"),
        client_secret: outbound::text(&intent, "client_secret"),
        amount: match intent.get("amount") {
            Some(Value::Number(amount)) => amount.clone(),
            _ => Number::from(0),
        },
        currency: outbound::non_empty(&intent, "currency")
            .unwrap_or(&currency)
            .to_owned(),
    })
}

/// Finds a customer by email and updates it, or creates one.
#[connector(route = stripe_customer_upsert)]
pub async fn upsert_customer(
    ctx: &RouteContext<stripe_customer_upsert::Route>,
    input: stripe_customer_upsert::Input,
) -> Result<stripe_customer_upsert::Output, ConnectorError> {
    let route = ctx.route_id();
    let stripe = Stripe::new(
        ctx,
        ctx.secret(stripe_customer_upsert::STRIPE_API_KEY),
        outbound::base_url(ctx, stripe_customer_upsert::WORKERFLOW_STRIPE_BASE_URL),
    )?;
    let mut problems = Problems::new(route);
    let key = idempotency_key(input.idempotency_key.as_deref(), &mut problems);
    problems.finish()?;
    let email = input::trim(&input.email).to_lowercase();
    let name = input::non_blank(input.name.as_deref());
    let phone = input::non_blank(input.phone.as_deref());

    let query = outbound::form([("email", email.as_str()), ("limit", "1")]);
    let lookup = stripe.request(HttpMethod::GET, &format!("/v1/customers?{query}"))?;
    let found = stripe.send(&lookup).await?;
    let existing = found
        .get("data")
        .and_then(|data| data.pointer("/0/id"))
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned);

    let mut fields = vec![("email", email.clone())];
    fields.extend(name.map(|name| ("name", name.to_owned())));
    fields.extend(phone.map(|phone| ("phone", phone.to_owned())));
    let form = with_metadata(&fields, input.metadata.as_ref());

    let (customer, created) = match &existing {
        Some(id) => {
            // An update carries no key, so it is not retried after a 500 (runtime/src/http/POLICY.md 2.3).
            let segment = outbound::found_id_segment(id);
            let update = stripe
                .request(HttpMethod::POST, &format!("/v1/customers/{segment}"))?
                .form(form);
            (stripe.send(&update).await?, false)
        }
        None => {
            let key =
                key.unwrap_or_else(|| format!("workerflow-{}-stripe-customer", ctx.trace_id()));
            let key = outbound::header_text(route, "traceId", key)?;
            let create = stripe
                .request(HttpMethod::POST, "/v1/customers")?
                .form(form)
                .header(header::HeaderName::from_static("idempotency-key"), key);
            (stripe.send(&create).await?, true)
        }
    };
    let customer_id = outbound::non_empty(&customer, "id")
        .map(str::to_owned)
        .or(existing)
        .unwrap_or_default();
    Ok(stripe_customer_upsert::Output {
        ok: true,
        route: route.to_owned(),
        customer_id,
        email: outbound::non_empty(&customer, "email")
            .unwrap_or(&email)
            .to_owned(),
        name: outbound::non_empty(&customer, "name")
            .or(name)
            .unwrap_or_default()
            .to_owned(),
        created,
    })
}

/// The Stripe transport of one call: base URL, bearer header, error mapping.
struct Stripe<'a, R> {
    ctx: &'a RouteContext<R>,
    base: BaseUrl<'a>,
    auth: HeaderValue,
}

impl<'a, R> Stripe<'a, R> {
    fn new(
        ctx: &'a RouteContext<R>,
        key: &workerflow_runtime::Secret,
        base: BaseUrl<'a>,
    ) -> Result<Self, ConnectorError> {
        Ok(Stripe {
            ctx,
            base,
            auth: outbound::bearer(ctx.route_id(), key)?,
        })
    }

    /// A request to `<stripe base><path_and_query>` with the bearer header.
    fn request(
        &self,
        method: HttpMethod,
        path_and_query: &str,
    ) -> Result<OutboundRequest, ConnectorError> {
        let url: Url = outbound::api_url(self.ctx.route_id(), self.base, path_and_query)?;
        Ok(OutboundRequest::api(method, url).header(header::AUTHORIZATION, self.auth.clone()))
    }

    async fn send(&self, request: &OutboundRequest) -> Result<Map<String, Value>, ConnectorError> {
        outbound::call_api(self.ctx, request, LABEL, outbound::describe_error_object).await
    }
}

/// `amount` rounded half up, at least 1. The contract has already held it above 0 and at most
/// 2^53 - 1, so the result is exact.
fn amount(amount: &Number) -> u64 {
    let rounded = amount
        .as_f64()
        .unwrap_or(1.0)
        .round()
        .clamp(1.0, MAX_AMOUNT);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let amount = rounded as u64;
    amount
}

/// A caller's `idempotencyKey`, trimmed, when non-empty: printable ASCII, at most 255 long.
/// Checked here, not in the schema, because the check applies after trimming.
fn idempotency_key(key: Option<&str>, problems: &mut Problems) -> Option<String> {
    let key = input::non_blank(key)?;
    if key.len() <= 255 && key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        Some(key.to_owned())
    } else {
        problems.add(
            "idempotencyKey",
            "\"idempotencyKey\" must be printable ASCII of at most 255 characters",
        );
        None
    }
}

/// The form: `fields` in order, then `metadata[<key>]=<value>` per scalar metadata entry.
fn with_metadata(fields: &[(&str, String)], metadata: Option<&Map<String, Value>>) -> String {
    let metadata: Vec<(String, String)> = input::scalar_metadata(metadata)
        .into_iter()
        .map(|(key, value)| (format!("metadata[{key}]"), value))
        .collect();
    outbound::form(
        fields
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .chain(metadata.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts() {
        let check = |value: Value| match value {
            Value::Number(number) => amount(&number),
            _ => unreachable!(),
        };
        assert_eq!(check(json!(12.5)), 13);
        assert_eq!(check(json!(0.2)), 1);
        assert_eq!(check(json!(9900)), 9900);
        assert_eq!(
            check(json!(9_007_199_254_740_991u64)),
            9_007_199_254_740_991
        );
    }

    #[test]
    fn form_with_metadata() {
        let fields = [
            ("amount", "13".to_owned()),
            ("customer", "cus 1".to_owned()),
        ];
        let metadata = json!({"k": "v", "a b": "c/d"});
        assert_eq!(
            with_metadata(&fields, metadata.as_object()),
            "amount=13&customer=cus+1&metadata%5Bk%5D=v&metadata%5Ba+b%5D=c%2Fd"
        );
    }
}
