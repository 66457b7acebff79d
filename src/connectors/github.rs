//! GitHub REST API: `github_issue_create` (docs/ROUTES.md 3.4).

use serde_json::{Map, Value};
use workerflow_runtime::http::header::HeaderValue;
use workerflow_runtime::http::{HttpMethod, OutboundRequest, ProviderDescription, ProviderReply};
use workerflow_runtime::{ConnectorError, RouteContext, connector};

use super::input::{self, Problems};
use super::outbound::{self, pointer_text};
use crate::registry::routes::github_issue_create;

const LABEL: &str = "GitHub issue create failed";

/// Creates an issue in `owner/name` (from the input, else `GITHUB_REPO`). The repository's
/// presence and shape are checked here: it may come from a setting, which no schema sees.
#[connector(route = github_issue_create)]
pub async fn create_github_issue(
    ctx: &RouteContext<github_issue_create::Route>,
    input: github_issue_create::Input,
) -> Result<github_issue_create::Output, ConnectorError> {
    let route = ctx.route_id();
    let auth = outbound::bearer(route, ctx.secret(github_issue_create::GITHUB_TOKEN))?;
    let mut problems = Problems::new(route);
    let title = input::non_blank(input.title.as_deref()).map_or_else(
        || format!("WorkerFlow automation issue ({})", ctx.trace_id()),
        str::to_owned,
    );
    let repo = repository(
        input.repo.as_deref(),
        ctx.setting(github_issue_create::GITHUB_REPO),
        &mut problems,
    );
    let repo = problems.check(repo)?;

    let mut issue = Map::new();
    issue.insert("title".into(), Value::String(title));
    // The body is sent as written (not trimmed), when not empty.
    if let Some(body) = input.body.filter(|b| !b.is_empty()) {
        issue.insert("body".into(), Value::String(body));
    }
    let labels = labels(input.labels.as_deref().unwrap_or_default());
    if !labels.is_empty() {
        issue.insert("labels".into(), Value::from(labels));
    }

    let base = outbound::base_url(ctx, github_issue_create::WORKERFLOW_GITHUB_BASE_URL);
    let url = outbound::api_url(route, base, &format!("/repos/{repo}/issues"))?;
    let request = OutboundRequest::api(HttpMethod::POST, url)
        .header(workerflow_runtime::http::header::AUTHORIZATION, auth)
        .header(
            workerflow_runtime::http::header::ACCEPT,
            HeaderValue::from_static("application/vnd.github+json"),
        )
        .json(&Value::Object(issue));
    let created = outbound::call_api(ctx, &request, LABEL, describe).await?;
    Ok(github_issue_create::Output {
        ok: true,
        route: route.to_owned(),
        issue_number: created.get("number").and_then(Value::as_i64).unwrap_or(0),
        issue_url: outbound::text(&created, "html_url"),
        repository: repo,
    })
}

/// The normalized `owner/name`: the input's `repo` when non-blank, else the setting; trimmed and
/// stripped of leading and trailing `/`, then checked.
fn repository(
    input: Option<&str>,
    setting: Option<&str>,
    problems: &mut Problems,
) -> Option<String> {
    let normalize = |text: &str| input::trim(text).trim_matches('/').to_owned();
    let repo = input::non_blank(input)
        .map(normalize)
        .filter(|repo| !repo.is_empty())
        .or_else(|| setting.map(normalize).filter(|repo| !repo.is_empty()));
    let Some(repo) = repo else {
        problems.add("repo", "requires \"repo\" (or GITHUB_REPO)");
        return None;
    };
    if is_owner_and_name(&repo) {
        Some(repo)
    } else {
        problems.add("repo", "\"repo\" must be \"owner/name\"");
        None
    }
}

/// Two segments of `[A-Za-z0-9._-]+`, neither `.` nor `..`.
fn is_owner_and_name(repo: &str) -> bool {
    let segments: Vec<&str> = repo.split('/').collect();
    segments.len() == 2
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && !matches!(*segment, "." | "..")
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// The labels, trimmed, empty ones dropped; order and duplicates kept.
fn labels(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|label| input::trim(label))
        .filter(|label| !label.is_empty())
        .map(str::to_owned)
        .collect()
}

/// GitHub gives no error code; its message is `message`.
fn describe(reply: &ProviderReply<'_>) -> ProviderDescription {
    ProviderDescription {
        message: pointer_text(reply.json, "/message").map(str::to_owned),
        ..ProviderDescription::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_name() {
        assert!(is_owner_and_name("acme/widgets"));
        assert!(is_owner_and_name("a.b/c-d_e"));
        for bad in [
            "acme",
            "acme/widgets/x",
            "../x",
            "acme/..",
            "a b/c",
            "a//b",
            "./x",
        ] {
            assert!(!is_owner_and_name(bad), "{bad}");
        }
    }
}
