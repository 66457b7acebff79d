//! Authorization flows: [`Connections::start_flow`] stores a flow (its state's SHA-256 and
//! the encrypted PKCE verifier) and builds the provider's authorization URL;
//! [`Connections::finish_flow`] consumes the flow from its callback, exchanges the code and
//! writes the connection under its lock.

use super::*;

/// A service's OAuth app with its resolved endpoints and client credentials.
type AppOf = (
    &'static ServiceSpec,
    &'static OAuthApp,
    Endpoints,
    token::Client,
);

impl Connections {
    /// The OAuth app of `service`, its endpoints (with the operator's overrides) and client
    /// credentials, or why a flow cannot use them.
    fn app_of(&self, service: &str) -> Result<AppOf, ManageError> {
        let inner = &*self.inner;
        let spec = self
            .service(service)
            .ok_or_else(|| ManageError::UnknownService {
                service: service.chars().take(80).collect(),
            })?;
        let app = spec.oauth2.ok_or_else(|| ManageError::UnknownService {
            service: spec.id.to_owned(),
        })?;
        let config = |message: String| ManageError::Config {
            service: spec.id.to_owned(),
            message,
        };
        let endpoints = Endpoints::resolve(spec.id, app, &*inner.secrets)
            .map_err(|message| config(format!("misconfigured: {message}")))?;
        let client = token::Client::resolve(app, &*inner.secrets).map_err(config)?;
        Ok((spec, app, endpoints, client))
    }

    /// Starts an authorization: stores the flow (state hash, encrypted PKCE verifier) and
    /// returns the provider's authorization URL. An existing connection of that name keeps
    /// its tokens until the callback succeeds.
    pub async fn start_flow(
        &self,
        name: &ConnectionName,
        service: &str,
        redirect_uri: &str,
    ) -> Result<FlowStart, ManageError> {
        let inner = &*self.inner;
        let (spec, app, endpoints, client) = self.app_of(service)?;
        let key = |source| ManageError::Key {
            connection: name.to_string(),
            source,
        };
        let state = crypto::random_token(32).map_err(key)?;
        let verifier = if app.pkce {
            Some(crypto::random_token(32).map_err(key)?)
        } else {
            None
        };
        let now = now_secs();
        let expires_at = now + i64::try_from(FLOW_LIFETIME.as_secs()).unwrap_or(600);
        let pkce_verifier = verifier
            .as_deref()
            .map(|verifier| {
                inner
                    .keys
                    .encrypt(name.as_str(), VERIFIER, verifier.as_bytes())
            })
            .transpose()
            .map_err(key)?;
        let flow = FlowRow {
            state_hash: hash_state(&state),
            connection: name.to_string(),
            service: spec.id.to_owned(),
            key_id: inner.keys.current_id().to_owned(),
            pkce_verifier,
            redirect_uri: redirect_uri.to_owned(),
            created_at: now,
            expires_at,
        };
        inner
            .backend
            .put_flow(flow, now)
            .await
            .map_err(ManageError::Store)?;
        let mut url = endpoints.authorization;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", client.id.expose())
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &app.scopes.join(app.scope_separator))
                .append_pair("state", &state);
            if let Some(verifier) = &verifier {
                let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
                query
                    .append_pair("code_challenge", &challenge)
                    .append_pair("code_challenge_method", "S256");
            }
            for (param, value) in app.authorization_params {
                query.append_pair(param, value);
            }
        }
        tracing::info!(
            target: "workerflow::connections",
            connection = %name,
            service = spec.id,
            "authorization started"
        );
        Ok(FlowStart {
            connection: name.to_string(),
            service: spec.id.to_owned(),
            authorization_url: url.to_string(),
            expires_at,
        })
    }

    /// Completes a flow from its callback: the state is consumed (whatever follows), the code
    /// exchanged, and the connection written `active` with its new tokens. A failure leaves an
    /// existing connection as it was.
    pub async fn finish_flow(&self, callback: Callback) -> Result<ConnectionInfo, CallbackError> {
        let inner = &*self.inner;
        let state = callback
            .state
            .as_deref()
            .filter(|state| !state.is_empty() && state.len() <= 512);
        // Consumed whatever follows: a state works once.
        let flow = match state {
            Some(state) => inner
                .backend
                .take_flow(&hash_state(state))
                .await
                .map_err(ManageError::Store)?,
            None => None,
        };
        // The provider's refusal is shown as it said it (escaped by the page), bound or not:
        // it grants nothing.
        if let Some(error) = callback.error {
            tracing::warn!(
                target: "workerflow::connections",
                connection = flow.as_ref().map_or("(unknown state)", |flow| flow.connection.as_str()),
                "authorization refused by the provider"
            );
            return Err(CallbackError::Denied {
                error: printable(&error, 100),
                description: callback
                    .error_description
                    .map(|description| printable(&description, 300)),
            });
        }
        let flow = flow.ok_or(CallbackError::UnknownState)?;
        let connection = flow.connection.clone();
        if flow.expires_at < now_secs() {
            return Err(CallbackError::Expired { connection });
        }
        let code = callback
            .code
            .filter(|code| !code.is_empty())
            .ok_or_else(|| CallbackError::MissingCode {
                connection: connection.clone(),
            })?;
        let (spec, app, endpoints, client) = self.app_of(&flow.service)?;
        let verifier = flow
            .pkce_verifier
            .as_deref()
            .map(|stored| {
                inner
                    .keys
                    .decrypt(&flow.key_id, &connection, VERIFIER, stored)
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            })
            .transpose()
            .map_err(|source| ManageError::Key {
                connection: connection.clone(),
                source,
            })?;
        let mut grant = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
        ];
        if let Some(verifier) = &verifier {
            grant.push(("code_verifier", verifier.as_str()));
        }
        let trace = TraceId::generate();
        let tokens = token::request_tokens(
            &inner.http,
            &endpoints.token,
            &client,
            &grant,
            trace.as_str(),
        )
        .await
        .map_err(|error| CallbackError::Exchange {
            connection: connection.clone(),
            reason: match error {
                TokenError::InvalidGrant => {
                    "the token endpoint refused the code (invalid_grant)".to_owned()
                }
                TokenError::Failed(reason) => reason,
            },
        })?;
        let _flight = self.lock_flight(&connection).await?;
        let locked = self.lock_row(&connection).await?;
        let now = now_secs();
        let previous = locked.row().cloned();
        let row = self
            .sealed_row(
                &connection,
                &tokens.access_token,
                tokens.refresh_token.as_ref(),
                StoredRow {
                    name: connection.clone(),
                    service: spec.id.to_owned(),
                    state: ConnectionState::Active.as_str().to_owned(),
                    key_id: String::new(),
                    access_token: None,
                    refresh_token: None,
                    expires_at: expiry(now, &tokens),
                    scopes: scopes_json(tokens.scope.as_deref(), app),
                    created_at: previous.as_ref().map_or(now, |row| row.created_at),
                    updated_at: now,
                    refreshed_at: None,
                    refresh_count: 0,
                },
            )
            .map_err(ManageError::from)?;
        let info = ConnectionInfo::of(&row);
        locked.write(row).await.map_err(ManageError::Store)?;
        tracing::info!(
            target: "workerflow::connections",
            connection = %connection,
            service = spec.id,
            reauthorized = previous.is_some(),
            "connection authorized"
        );
        Ok(info)
    }
}
