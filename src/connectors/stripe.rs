//! Stripe API: `stripe_payment_intent_create` and `stripe_customer_upsert` (docs/ROUTES.md 3.6,
//! 3.7). Requests are form-encoded; creates carry an idempotency key, so they are retried.

use serde_json::{Map, Value, json};
use url::Url;
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::{HttpMethod, OutboundRequest, header};
use workerflow_runtime::{ConnectorError, RouteContext, Setting, connector};

use super::input::{self, Problems};
use super::outbound;
use crate::registry::routes::{stripe_customer_upsert, stripe_payment_intent_create};

pub static STRIPE_BASE_URL: Setting = Setting::base_url(
    "WORKERFLOW_STRIPE_BASE_URL",
    "Stripe base URL",
    "https://api.stripe.com",
);

const LABEL: &str = "Stripe request failed";
/// The largest amount a JavaScript number holds exactly (2^53 - 1).
const MAX_AMOUNT: f64 = 9_007_199_254_740_991.0;

/// Creates a PaymentIntent.
#[connector(route = stripe_payment_intent_create, settings = [STRIPE_BASE_URL])]
pub async fn create_payment_intent(
    ctx: &RouteContext<stripe_payment_intent_create::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let route = ctx.route_id();
    let stripe = Stripe::new(
        ctx,
        ctx.secret(stripe_payment_intent_create::STRIPE_API_KEY),
    )?;
    let input = input::object(route, input)?;
    let mut problems = Problems::new(route);
    let amount = amount(&input, &mut problems);
    let key = idempotency_key(&input, &mut problems);
    let amount = problems.check(amount)?;
    let key = key.unwrap_or_else(|| format!("workerflow-{}-payment-intent", ctx.trace_id()));
    let key = outbound::header_text(route, "traceId", key)?;
    let currency = input::non_blank(&input, "currency")
        .unwrap_or("usd")
        .to_lowercase();

    let amount_text = amount.to_string();
    let mut fields = vec![("amount", amount_text), ("currency", currency.clone())];
    if let Some(customer) = input::non_blank(&input, "customerId") {
        fields.push(("customer", customer.to_owned()));
    }
    if let Some(description) = input::non_blank(&input, "description") {
        fields.push(("description", description.to_owned()));
    }
    let form = with_metadata(&fields, input.get("metadata"));

    let request = stripe
        .request(HttpMethod::POST, "/v1/payment_intents")?
        .form(form)
        .header(header::HeaderName::from_static("idempotency-key"), key);
    let intent = stripe.send(&request).await?;
    Ok(json!({
        "ok": true,
        "route": route,
        "paymentIntentId": outbound::text(&intent, "id"),
        "status": outbound::text(&intent, "status"),
        "clientSecret": outbound::text(&intent, "client_secret"),
        "amount": intent.get("amount").filter(|a| a.is_number()).cloned().unwrap_or(json!(0)),
        "currency": outbound::non_empty(&intent, "currency").unwrap_or(&currency),
    }))
}

/// Finds a customer by email and updates it, or creates one.
#[connector(route = stripe_customer_upsert, settings = [STRIPE_BASE_URL])]
pub async fn upsert_customer(
    ctx: &RouteContext<stripe_customer_upsert::Route>,
    input: Value,
) -> Result<Value, ConnectorError> {
    let route = ctx.route_id();
    let stripe = Stripe::new(ctx, ctx.secret(stripe_customer_upsert::STRIPE_API_KEY))?;
    let input = input::object(route, input)?;
    let mut problems = Problems::new(route);
    let email = problems.required(&input, "email").map(str::to_lowercase);
    let key = idempotency_key(&input, &mut problems);
    let email = problems.check(email)?;
    let name = input::non_blank(&input, "name");
    let phone = input::non_blank(&input, "phone");

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
    let form = with_metadata(&fields, input.get("metadata"));

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
    Ok(json!({
        "ok": true,
        "route": route,
        "customerId": customer_id,
        "email": outbound::non_empty(&customer, "email").unwrap_or(&email),
        "name": outbound::non_empty(&customer, "name").or(name).unwrap_or_default(),
        "created": created,
    }))
}

/// The Stripe transport of one call: base URL, bearer header, error mapping.
struct Stripe<'a, R> {
    ctx: &'a RouteContext<R>,
    auth: HeaderValue,
}

impl<'a, R> Stripe<'a, R> {
    fn new(
        ctx: &'a RouteContext<R>,
        key: &workerflow_runtime::Secret,
    ) -> Result<Self, ConnectorError> {
        Ok(Stripe {
            ctx,
            auth: outbound::bearer(ctx.route_id(), key)?,
        })
    }

    /// A request to `<stripe base><path_and_query>` with the bearer header.
    fn request(
        &self,
        method: HttpMethod,
        path_and_query: &str,
    ) -> Result<OutboundRequest, ConnectorError> {
        let url: Url = outbound::api_url(self.ctx, &STRIPE_BASE_URL, path_and_query)?;
        Ok(OutboundRequest::api(method, url).header(header::AUTHORIZATION, self.auth.clone()))
    }

    async fn send(&self, request: &OutboundRequest) -> Result<Map<String, Value>, ConnectorError> {
        outbound::call_api(self.ctx, request, LABEL, outbound::describe_error_object).await
    }
}

/// `amount`: a JSON number above 0, rounded half up, at least 1, at most 2^53 - 1.
fn amount(input: &Map<String, Value>, problems: &mut Problems) -> Option<u64> {
    let Some(value) = input
        .get("amount")
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
    else {
        problems.add("amount", "\"amount\" must be a finite number");
        return None;
    };
    if value <= 0.0 {
        problems.add("amount", "\"amount\" must be greater than 0");
        return None;
    }
    let rounded = value.round().max(1.0);
    if rounded > MAX_AMOUNT {
        problems.add("amount", "\"amount\" is too large");
        return None;
    }
    // In 1..=2^53-1 and integral, so the conversion is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(rounded as u64)
}

/// A caller's `idempotencyKey`, trimmed, when non-empty: printable ASCII, at most 255 long.
fn idempotency_key(input: &Map<String, Value>, problems: &mut Problems) -> Option<String> {
    let key = input::non_blank(input, "idempotencyKey")?;
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
fn with_metadata(fields: &[(&str, String)], metadata: Option<&Value>) -> String {
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

    #[test]
    fn amounts() {
        let check = |value: Value| {
            let mut problems = Problems::new("r");
            let input = input::object_or_empty(json!({ "amount": value }));
            amount(&input, &mut problems)
        };
        assert_eq!(check(json!(12.5)), Some(13));
        assert_eq!(check(json!(0.2)), Some(1));
        assert_eq!(check(json!(9900)), Some(9900));
        assert_eq!(
            check(json!(9_007_199_254_740_991u64)),
            Some(9_007_199_254_740_991)
        );
        for bad in [
            json!("1200"),
            json!(0),
            json!(-5),
            json!(true),
            json!(1e300),
        ] {
            assert_eq!(check(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn form_with_metadata() {
        let fields = [
            ("amount", "13".to_owned()),
            ("customer", "cus 1".to_owned()),
        ];
        let metadata = json!({"k": "v", "a b": "c/d"});
        assert_eq!(
            with_metadata(&fields, Some(&metadata)),
            "amount=13&customer=cus+1&metadata%5Bk%5D=v&metadata%5Ba+b%5D=c%2Fd"
        );
    }
}
