//! The refresh protocol (see the module docs of `connections`): the runtime's
//! [`ConnectionStore`] over the rows, refreshing once per connection however many ask.

use super::*;

impl Connections {
    /// The refresh protocol of the module docs, for one call.
    async fn access_token_for(
        &self,
        service: &'static ServiceSpec,
        name: String,
        route: &'static str,
        trace_id: String,
        rejected: Option<SecretValue>,
    ) -> Result<SecretValue, ConnectionError> {
        let inner = &*self.inner;
        // Before the first read: a refresh in this process that ended after this is newer than
        // anything that read saw.
        let asked = Instant::now();
        let app = service.oauth2.ok_or_else(|| ConnectionError::NotOAuth {
            connection: name.clone(),
        })?;
        let store = |reason: String| ConnectionError::Store {
            connection: name.clone(),
            reason,
        };
        let row = inner
            .backend
            .get(&name)
            .await
            .map_err(|error| store(error.to_string()))?;
        let token = self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref())?;
        if let Some(token) = token {
            return Ok(token);
        }
        // One refresh per connection in this process; the others wait, then read its result.
        let started = Instant::now();
        let deadline = started + inner.lock_wait;
        let busy = || ConnectionError::LockTimeout {
            connection: name.clone(),
            waited_ms: millis(started.elapsed()),
        };
        let flight = {
            let mut flights = inner
                .flights
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(flights.entry(name.clone()).or_default())
        };
        let mut flight = timeout_at(deadline, flight.lock_owned())
            .await
            .map_err(|_| busy())?;
        // The call this one waited for may have refreshed already: its token, if that refresh
        // ended after this call read the row and the token is fresh and not the refused one,
        // saves a read. (An older refresh's token may be one another instance has replaced.)
        let buffer = i64::from(app.refresh_buffer_seconds);
        if let Some(done) = flight.as_ref()
            && done.at >= asked
            && done
                .expires_at
                .is_none_or(|expires_at| expires_at > now_secs().saturating_add(buffer))
            && !rejected.as_ref().is_some_and(|rejected| {
                bool::from(
                    rejected
                        .expose()
                        .as_bytes()
                        .ct_eq(done.token.expose().as_bytes()),
                )
            })
        {
            return Ok(done.token.clone());
        }
        // Or another process did: no transaction needed.
        let row = inner
            .backend
            .get(&name)
            .await
            .map_err(|error| store(error.to_string()))?;
        if let Some(token) =
            self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref())?
        {
            return Ok(token);
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        let locked = match inner.backend.lock(&name, wait).await {
            Ok(locked) => locked,
            Err(LockError::Timeout) => return Err(busy()),
            Err(LockError::Store(error)) => return Err(store(error.to_string())),
        };
        let row = locked.row().cloned();
        let token = match self.usable_token(row.as_ref(), service, app, &name, rejected.as_ref()) {
            Ok(token) => token,
            Err(error) => {
                locked.release().await;
                return Err(error);
            }
        };
        if let Some(token) = token {
            // Someone refreshed while this call waited.
            locked.release().await;
            return Ok(token);
        }
        let Some(row) = row else {
            locked.release().await;
            return Err(ConnectionError::Unknown { connection: name });
        };
        let refresh = match row
            .refresh_token
            .as_deref()
            .map(|stored| inner.keys.decrypt(&row.key_id, &name, REFRESH, stored))
            .transpose()
        {
            Ok(refresh) => refresh,
            Err(error) => {
                locked.release().await;
                return Err(store(error.to_string()));
            }
        };
        let Some(refresh) = refresh.map(|bytes| SecretValue::new(String::from_utf8_lossy(&bytes)))
        else {
            // Nothing to refresh with: only a new authorization helps.
            locked
                .write(needing_reauth(row, now_secs()))
                .await
                .map_err(|error| store(error.to_string()))?;
            return Err(ConnectionError::NeedsReauth { connection: name });
        };
        let failed = |reason: String| ConnectionError::Refresh {
            connection: name.clone(),
            reason,
        };
        let endpoints = match Endpoints::resolve(service.id, app, &*inner.secrets) {
            Ok(endpoints) => endpoints,
            Err(reason) => {
                locked.release().await;
                return Err(failed(reason));
            }
        };
        let client = match token::Client::resolve(app, &*inner.secrets) {
            Ok(client) => client,
            Err(reason) => {
                locked.release().await;
                return Err(failed(format!(
                    "the OAuth client of {} is {reason}",
                    service.id
                )));
            }
        };
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
        ];
        let answer =
            token::request_tokens(&inner.http, &endpoints.token, &client, &grant, &trace_id).await;
        let now = now_secs();
        match answer {
            Ok(tokens) => {
                let kept = tokens.refresh_token.as_ref().unwrap_or(&refresh);
                let template = StoredRow {
                    state: ConnectionState::Active.as_str().to_owned(),
                    expires_at: expiry(now, &tokens),
                    scopes: match tokens.scope.as_deref() {
                        Some(scope) => scopes_json(Some(scope), app),
                        None => row.scopes.clone(),
                    },
                    updated_at: now,
                    refreshed_at: Some(now),
                    refresh_count: row.refresh_count.saturating_add(1),
                    ..row
                };
                let sealed =
                    match self.sealed_row(&name, &tokens.access_token, Some(kept), template) {
                        Ok(sealed) => sealed,
                        Err((_, error)) => {
                            locked.release().await;
                            return Err(store(error.to_string()));
                        }
                    };
                locked
                    .write(sealed)
                    .await
                    .map_err(|error| store(error.to_string()))?;
                *flight = Some(Refreshed {
                    token: tokens.access_token.clone(),
                    expires_at: expiry(now, &tokens),
                    at: Instant::now(),
                });
                tracing::info!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    rotated = tokens.refresh_token.is_some(),
                    "access token refreshed"
                );
                Ok(tokens.access_token)
            }
            Err(TokenError::InvalidGrant) => {
                *flight = None;
                locked
                    .write(needing_reauth(row, now))
                    .await
                    .map_err(|error| store(error.to_string()))?;
                tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    "the provider refused the refresh token (invalid_grant): connection needs re-authorization"
                );
                Err(ConnectionError::NeedsReauth { connection: name })
            }
            Err(TokenError::Failed(reason)) => {
                locked.release().await;
                tracing::warn!(
                    target: "workerflow::connections",
                    connection = %name,
                    route,
                    trace_id = %trace_id,
                    reason = %reason,
                    "access token refresh failed"
                );
                Err(failed(reason))
            }
        }
    }

    /// `Some(token)` when the row's token may be used as it is, `None` when it must be
    /// refreshed, or the error that no refresh can mend.
    fn usable_token(
        &self,
        row: Option<&StoredRow>,
        service: &'static ServiceSpec,
        app: &OAuthApp,
        name: &str,
        rejected: Option<&SecretValue>,
    ) -> Result<Option<SecretValue>, ConnectionError> {
        let Some(row) = row else {
            return Err(ConnectionError::Unknown {
                connection: name.to_owned(),
            });
        };
        if row.service != service.id {
            return Err(ConnectionError::WrongService {
                connection: name.to_owned(),
                service: row.service.clone(),
                expected: service.id.to_owned(),
            });
        }
        match ConnectionState::parse(&row.state) {
            Some(ConnectionState::Active) => {}
            Some(ConnectionState::NeedsReauth) => {
                return Err(ConnectionError::NeedsReauth {
                    connection: name.to_owned(),
                });
            }
            Some(ConnectionState::Revoked) => {
                return Err(ConnectionError::Revoked {
                    connection: name.to_owned(),
                });
            }
            None => {
                return Err(ConnectionError::Store {
                    connection: name.to_owned(),
                    reason: format!(
                        "the stored state {:?} is not one this server writes",
                        row.state.chars().take(32).collect::<String>()
                    ),
                });
            }
        }
        let Some(stored) = row.access_token.as_deref() else {
            return Ok(None);
        };
        let plain = self
            .inner
            .keys
            .decrypt(&row.key_id, name, ACCESS, stored)
            .map_err(|error| ConnectionError::Store {
                connection: name.to_owned(),
                reason: error.to_string(),
            })?;
        let was_rejected =
            rejected.is_some_and(|rejected| bool::from(rejected.expose().as_bytes().ct_eq(&plain)));
        let buffer = i64::from(app.refresh_buffer_seconds);
        let fresh = row
            .expires_at
            .is_none_or(|expires_at| expires_at > now_secs().saturating_add(buffer));
        if fresh && !was_rejected {
            Ok(Some(SecretValue::new(String::from_utf8_lossy(&plain))))
        } else {
            Ok(None)
        }
    }
}

impl ConnectionStore for Connections {
    fn access_token<'a>(&'a self, request: TokenRequest<'a>) -> TokenFuture<'a> {
        let this = self.clone();
        let service = request.service;
        let name = request.connection.to_string();
        let route = request.route;
        let trace_id = request.trace_id.to_string();
        let rejected = request.rejected.cloned();
        Box::pin(async move {
            let connection = name.clone();
            let work = async move {
                this.access_token_for(service, name, route, trace_id, rejected)
                    .await
            };
            // Its own task: a caller that goes away mid-refresh cannot leave a rotated
            // refresh token unwritten. (Outside a tokio runtime, inline.)
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => runtime.spawn(work).await.unwrap_or_else(|_| {
                    Err(ConnectionError::Store {
                        connection,
                        reason: "the refresh task stopped".to_owned(),
                    })
                }),
                Err(_) => work.await,
            }
        })
    }
}

/// The row marked `needs_reauth`, its tokens kept (they are useless, but a re-authorization
/// replaces them, and nothing is lost that an operator might want to look at).
fn needing_reauth(row: StoredRow, now: i64) -> StoredRow {
    StoredRow {
        state: ConnectionState::NeedsReauth.as_str().to_owned(),
        updated_at: now,
        ..row
    }
}
