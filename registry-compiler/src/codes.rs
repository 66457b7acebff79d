//! The catalogue of diagnostic codes: one stable code per rule, with the text `explain` prints.
//!
//! WF1xx: the file is not valid JSON. WF2xx: the JSON does not match services.schema.json.
//! WF3xx: rules a schema cannot express. WF4xx: changes between two registries (`diff`). WF9xx: internal errors of the compiler. Codes are never reused or renumbered.

use std::fmt;

macro_rules! codes {
    ($( $variant:ident = $code:literal, $title:literal, why: $why:literal, fix: $fix:literal; )*) => {
        /// A stable diagnostic code such as `WF301`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( #[doc = concat!("`", $code, "`: ", $title, ".")] $variant, )*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$( Code::$variant, )*];

            /// The code as printed, for example `WF301`.
            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            /// What the rule checks, in one line.
            pub fn title(self) -> &'static str {
                match self { $( Code::$variant => $title, )* }
            }

            /// Why the rule exists.
            pub fn rationale(self) -> &'static str {
                match self { $( Code::$variant => $why, )* }
            }

            /// How to fix a violation.
            pub fn fix(self) -> &'static str {
                match self { $( Code::$variant => $fix, )* }
            }
        }
    };
}

codes! {
    InvalidUtf8 = "WF101", "the file is not valid UTF-8",
        why: "JSON text is UTF-8 (RFC 8259); other encodings are read differently by different tools.",
        fix: "Re-save the file as UTF-8.";
    EmptyFile = "WF102", "the file is empty",
        why: "An empty file is usually an interrupted write or a bad merge, never an intended registry.",
        fix: "Restore the file from version control.";
    UnexpectedToken = "WF103", "unexpected character or token",
        why: "The file must be one JSON value; anything else means tools would read it differently or not at all.",
        fix: "Correct the JSON at the location shown: a missing comma or colon, an unquoted key or string.";
    TrailingComma = "WF104", "trailing comma before `}` or `]`",
        why: "JSON does not allow it, and strict readers (including browsers' JSON.parse) reject the file.",
        fix: "Remove the comma.";
    Comment = "WF105", "comment in JSON",
        why: "JSON has no comments; they are rejected by strict readers and lost by formatters.",
        fix: "Remove the comment. Put the information in a `notes` field.";
    SingleQuotes = "WF106", "single-quoted string",
        why: "JSON strings use double quotes only.",
        fix: "Replace the single quotes with double quotes.";
    NonFinite = "WF107", "`NaN` or `Infinity` literal",
        why: "JSON cannot represent non-finite numbers; writers of other languages reject them.",
        fix: "Use `null` for an unknown number.";
    NumberOutOfRange = "WF108", "number out of range",
        why: "The number does not fit in a 64-bit float, so every reader would change its value.",
        fix: "Use a smaller number.";
    TrailingContent = "WF109", "content after the end of the JSON value",
        why: "A file holds one JSON value; extra content is often the remains of a bad merge.",
        fix: "Remove the extra content or merge it into the registry object.";
    UnexpectedEnd = "WF110", "unexpected end of file",
        why: "The file stops in the middle of a value: it was truncated or a bracket is missing.",
        fix: "Close the open string, object or array, or restore the file from version control.";
    InvalidString = "WF111", "invalid string",
        why: "Raw control characters, unknown escapes and unpaired surrogates are not valid JSON strings.",
        fix: "Escape control characters (`\\n`, `\\t`, `\\u0001`) and use only valid escapes.";
    DuplicateKey = "WF112", "duplicate key in an object",
        why: "Readers disagree on which duplicate wins, so the registry would mean different things to different tools.",
        fix: "Keep exactly one of the keys.";
    TooDeep = "WF113", "nesting too deep",
        why: "A registry needs about six levels; very deep input is a mistake or an attack and could exhaust the stack.",
        fix: "Flatten the data.";
    FileTooLarge = "WF114", "file too large",
        why: "The compiler refuses files over 128 MiB so that it never exhausts memory on a build machine.",
        fix: "Split the registry or remove data that does not belong in it.";
    ByteOrderMark = "WF115", "UTF-8 byte order mark (warning)",
        why: "A BOM is not needed in UTF-8 and some tools choke on it. It is ignored.",
        fix: "Save the file as UTF-8 without a BOM.";
    InvalidNumber = "WF116", "invalid number syntax",
        why: "Leading zeros, leading `+` or `.`, hex and a bare `1.` are not JSON numbers.",
        fix: "Write the number in plain decimal, such as 12, -3.5 or 1e6.";
    SchemaType = "WF201", "value has the wrong type",
        why: "Every field has one type (or null where unknowns are allowed), so code and docs can rely on it.",
        fix: "Use a value of the type shown, or `null` where the field allows it.";
    SchemaRequired = "WF202", "required field missing",
        why: "Every upstream field must be present; unknowns are written as `null`, never left out, so a missing field is a mistake, not an unknown.",
        fix: "Add the field, with `null` if the value is unknown.";
    SchemaUnknownField = "WF203", "unknown field",
        why: "The schema has `additionalProperties: false`: a misspelt field would otherwise be silently ignored.",
        fix: "Fix the spelling (see the suggestion) or remove the field.";
    SchemaEnum = "WF204", "value not allowed",
        why: "Fields such as `authType`, `confidence` and `requestType` take one of a fixed set of values that the docs and runtime understand.",
        fix: "Use one of the listed values.";
    SchemaPattern = "WF205", "value does not match the required pattern",
        why: "URLs must be https; ids must be lower-case slugs; secret names must be upper-case environment names; dates are YYYY-MM-DD.",
        fix: "Change the value to the form shown.";
    SchemaRange = "WF206", "number out of the allowed range",
        why: "Ranks start at 1 and scores are 0 to 100.",
        fix: "Use a number within the range shown.";
    SchemaLength = "WF207", "string or list too short",
        why: "Names, labels and secret lists must not be empty.",
        fix: "Fill in the value.";
    SchemaConst = "WF208", "unsupported registry version",
        why: "This compiler reads version 1 of the registry format.",
        fix: "Set `version` to 1.";
    SchemaMaxLength = "WF209", "text too long",
        why: "Every text field has a cap (names 100 characters, vendor names 200, summaries 200, secret labels 100, URLs 2048, notes and reasons 4096): the registry is a catalogue, not a document store, and a huge value would cost gigabytes of memory when the pages are built.",
        fix: "Shorten the value. Put long explanations on a page of their own and link it from `sources`.";
    SchemaOther = "WF299", "other schema violation",
        why: "The value breaks a constraint of services.schema.json.",
        fix: "Change the value so that it matches the schema.";
    DuplicateConnectorName = "WF301", "duplicate connector name (ignoring case)",
        why: "Two entries for one service split its links and confuse readers of the docs.",
        fix: "Merge the two entries or rename one.";
    DuplicateId = "WF302", "duplicate service id",
        why: "Service ids name anchors in the docs and references in code; they must be unique. An id is derived from `connectorName` when absent.",
        fix: "Give one of the services an explicit, unique `id`.";
    DuplicateRank = "WF303", "duplicate rank",
        why: "Ranks order the research set; two services cannot share a place.",
        fix: "Renumber one of them, or set `rank` to null for an unranked service.";
    DuplicateRouteId = "WF304", "duplicate route id",
        why: "Route ids name handlers, API paths and generated Rust items; they must be unique across the whole registry.",
        fix: "Rename one of the routes.";
    InvalidUrl = "WF305", "URL is not a well-formed https URL",
        why: "Only https URLs with a host become links; anything else is a typo or an insecure link.",
        fix: "Use a full https URL such as https://api.example.com/docs.";
    EmptySources = "WF306", "service has no sources",
        why: "Every fact in the registry must be traceable to a page.",
        fix: "Add at least one source URL (usually the API docs page). It is an error for a ranked service and a warning for one outside the ranked set (`rank: null`), which `workerflow-registry new` may add before its docs are known.";
    InvalidDate = "WF307", "`updatedAt` is not a real date",
        why: "The date is shown in the docs and compared by tools; 2026-02-30 is not a date.",
        fix: "Use a real calendar date, YYYY-MM-DD.";
    UnderivableId = "WF308", "no id can be derived from the connector name",
        why: "An id is derived from `connectorName` (lower-case letters and digits joined by `_`, starting with a letter); some names yield none.",
        fix: "Add an explicit `id` such as \"acme_crm\".";
    DuplicateSecretName = "WF309", "secret name listed twice in one requirement",
        why: "A repeated name in `anyOf` is always a copy-paste slip and hides the name that was meant.",
        fix: "Remove the duplicate or replace it with the intended name.";
    DuplicateSecretLabel = "WF310", "two secret requirements of a route share a label",
        why: "Labels name missing configuration in error messages; two alike make the message ambiguous.",
        fix: "Give each requirement its own label, or merge them.";
    BlankText = "WF311", "name, summary or label is only whitespace",
        why: "`connectorName`, the registry's `name`, route summaries and secret labels are shown in the docs and in messages; a value of spaces passes a length check but names nothing, and `fmt` would trim it to an empty string.",
        fix: "Write the name, summary or label.";
    ForbiddenCharacter = "WF312", "text contains a control or bidirectional control character",
        why: "Control characters such as NUL are written raw into both pages, and bidirectional controls (U+202A to U+202E, U+2066 to U+2069, U+200E, U+200F, U+061C) reorder how text is displayed, so the docs would show something other than the registry says (the \"Trojan Source\" trick). Tab, line feed and carriage return are allowed in prose (`notes`), but not in a name, summary or label (the registry's `name`, `connectorName`, `officialVendorName`, a route's `summary`, a secret's or setting's `label`): those are shown on one line, and a line feed quoted in a message could start a line that looks like another diagnostic.",
        fix: "Remove the character; write names on one line, and text left to right (the reader's software handles the direction).";
    InvisibleCharacter = "WF313", "name contains an invisible character (warning)",
        why: "Zero-width and other format characters make a name look like another one (`Sla\\u200bck` shows as \"Slack\") while comparing unequal, so a second entry for a service slips past the duplicate check.",
        fix: "Remove the invisible character from the name.";
    MixedScript = "WF314", "name mixes scripts (warning)",
        why: "A name that mixes scripts, such as Latin with one Cyrillic letter (`Sl\\u0430ck`), looks like another name but is not equal to it. Combinations that belong together (Latin with Han, Hiragana and Katakana, with Han and Bopomofo, or with Han and Hangul) are accepted, as in Unicode's \"highly restrictive\" profile (UTS #39), which rustc's confusable lints follow too.",
        fix: "Write the name in one script; replace the letters named in the warning.";
    RankedWithoutLink = "WF315", "ranked service without an https link",
        why: "Every ranked service is in the research set because its API docs were found; with `officialApiDocsUrl` and `bestBaseLink` both null the docs have nothing to link to. Unranked runtime-only services (`rank: null`) may be declared before their docs are known.",
        fix: "Set `officialApiDocsUrl` (or `bestBaseLink`; `fmt` fills the other one from it), or set `rank` to null.";
    IntegerForm = "WF316", "whole number written with a fraction or exponent, or too large",
        why: "JSON Schema counts `1.0`, `1e0` and `-0` as integers, but most JSON readers (serde, the generated code) do not; and a rank above 4294967295 does not fit the model. `check` rejects what `build` and `fmt` could not read, so both give one verdict.",
        fix: "Write the number as plain digits, such as `1` for `1.0` or `0` for `-0`; keep ranks at most 4294967295.";
    InvalidContractSchema = "WF317", "route contract schema is not a valid JSON Schema",
        why: "A route's `input`, `output` and error `body` are JSON Schemas (draft 2020-12): the docs, `docs/openapi.json` and the tests that check the handlers all read them, so a schema that does not compile would describe nothing and check nothing.",
        fix: "Correct the schema at the location shown (a misspelled type, a `minLength` that is not a number, a `$ref` to a `$defs` entry that does not exist).";
    RemoteSchemaRef = "WF318", "route contract schema refers to a remote document",
        why: "The registry is checked without network access, ever, and the generated docs must not depend on a page elsewhere; a `$ref` outside the schema could not be resolved, or would change meaning when that page changes.",
        fix: "Copy the referenced definition into the schema's `$defs` and refer to it as `#/$defs/<name>`.";
    ExampleMismatch = "WF319", "route example contradicts its contract",
        why: "Examples are shown in the docs and run against the handler by the tests; one whose input or output breaks the route's schemas, or whose error class the route does not declare, documents a call that cannot happen.",
        fix: "Change the example or the schema so that they agree; declare the error class in `errors` when the example yields it.";
    InvalidDocsUrl = "WF320", "route `docsUrl` is not a well-formed https URL",
        why: "`docsUrl` becomes a link in both pages and in `docs/openapi.json`; only an https URL with a host is a safe link to the provider's page.",
        fix: "Use the full https URL of the provider's page for the operation, such as https://docs.stripe.com/api/payment_intents/create.";
    InvalidHost = "WF321", "route `hosts` entry is not a bare host name",
        why: "`hosts` lists where the route may connect by default; a URL, a path, a port or a wildcard there is not a host and would mislead anyone writing an egress policy from it.",
        fix: "Write the host alone, such as `api.stripe.com` (no scheme, port, path or `*`).";
    SettingConflict = "WF322", "route setting repeated, or named like a secret",
        why: "A setting is read from the same environment as the secrets, and a handler may read any setting its route declares; a setting named like a secret of any route would let a handler read that secret, so the runtime refuses to link it. A setting listed twice documents one value twice.",
        fix: "Rename the setting (a base URL as `WORKERFLOW_<SERVICE>_BASE_URL`, say), or remove the repeated entry.";
    CompatibilityCharacter = "WF323", "name uses compatibility characters (warning)",
        why: "Fullwidth letters, ligatures and other compatibility characters (`\\uFF33lack`) look like the plain letters they stand for but compare unequal, and an id derived from them would drop them (`lack`). Names are compared, and ids derived, after Unicode NFKC folding, so `\\uFF33lack` beside `Slack` is a duplicate; this warning shows the name that was meant.",
        fix: "Write the name with the plain characters the warning shows.";
    InvalidOAuthUrl = "WF324", "`oauth2` URL is not a well-formed https URL",
        why: "`authorizationUrl`, `tokenUrl` and `revocationUrl` are where `workerflow serve` sends users and client secrets, and `oauth2.sources` become links in the docs; only an https URL with a host reaches the provider safely. An endpoint also has no fragment: the authorization URL gets the flow's query parameters appended, and a fragment is never sent to the server.",
        fix: "Use the provider's documented endpoint as a full https URL without a fragment, such as https://api.hubapi.com/oauth/v3/token.";
    OAuthUrlCredentials = "WF325", "`oauth2` URL carries credentials",
        why: "The registry is committed, published in the docs and in `docs/openapi.json`; a user name or password in a URL (`https://id:secret@host/`), or a query parameter that carries a secret (`client_secret`, `access_token`, `refresh_token`, `id_token`, `code`, `password`, `api_key`, `apikey`), would leak it to every reader and into every request log. The client id and secret are read from the environment (`clientId`, `clientSecret`), and codes and tokens belong to one connection, never to the registry.",
        fix: "Remove the credential from the URL; name the environment variables in `clientId` and `clientSecret` instead.";
    OAuthRouteWithoutApp = "WF326", "route with `auth: oauth2` on a service without an `oauth2` block",
        why: "A route whose `auth` is `oauth2` takes its access token from an OAuth connection, and a connection is authorized and refreshed with the service's `oauth2` block (its endpoints, scopes and client); without one no connection to the service can exist, so the route could never get a token.",
        fix: "Add the service's `oauth2` block, or set the route's `auth` to the scheme it really uses.";
    UnlessConnectionWithoutOAuth = "WF327", "`unlessConnection` on a route whose `auth` is not `oauth2`",
        why: "`unlessConnection: true` says a secret is needed only when the call names no OAuth connection; only a route whose `auth` is `oauth2` accepts a connection (a call naming one elsewhere is refused with `connection_not_accepted`), so elsewhere the flag would make a required secret look optional. The OAuth app's `clientId` and `clientSecret` are needed for every connection, so they never carry it.",
        fix: "Remove `unlessConnection`, or set the route's `auth` to `oauth2` (its service then needs an `oauth2` block).";
    DuplicateScope = "WF328", "OAuth scope listed twice",
        why: "Scopes are requested once each; a repeated scope is a copy-paste slip that hides the one that was meant, and some providers refuse an authorization request that names a scope twice.",
        fix: "Remove the duplicate, or replace it with the scope that was meant.";
    ReservedAuthorizationParam = "WF329", "`authorizationParams` sets a parameter the flow sets",
        why: "`workerflow serve` writes `response_type`, `client_id`, `redirect_uri`, `scope`, `state`, `code_challenge` and `code_challenge_method` itself: the state binds the callback to the flow, the challenge is fresh for each flow, and scopes come from `scopes`. A fixed value there would repeat or contradict them (a second `state` or `redirect_uri` can defeat the checks that protect the callback). Names are compared ignoring case.",
        fix: "Remove the parameter: list scopes in `scopes`, and leave the others to the flow. Keep only provider-specific extras such as `access_type` or `prompt`.";
    RouteRemoved = "WF401", "route removed (breaking)",
        why: "Callers, deployments and deep links name a route by its id; once it is gone their calls fail. `diff` reports it at the route in the old file.",
        fix: "Keep the route, or acknowledge the removal in the registry's `changes` list with a reason and a migration note for callers.";
    RouteRenamed = "WF402", "route renamed (breaking)",
        why: "A route id names the handler, the API path and the generated Rust items; renaming it breaks every caller of the old id. `diff` counts a route as renamed when its service loses one route and gains another with the same summary; otherwise it reports a removal (WF401) and an addition (WF425).",
        fix: "Keep the old id, or acknowledge the rename in `changes` (subject: the old route id) and tell callers the new id.";
    RequestTypeChanged = "WF403", "route `requestType` changed (breaking)",
        why: "A sync caller waits for the output; an async one gets a job to poll. Switching between them changes what every caller receives.",
        fix: "Add a new route with the other request type, or acknowledge the change in `changes`.";
    SecretRequirementAdded = "WF404", "route needs a new secret (breaking)",
        why: "A deployment configured for the old registry has no value for the new requirement, so the route fails with a configuration error after an upgrade.",
        fix: "Make the new name an alternative in an existing requirement's `anyOf`, or acknowledge the change in `changes` (subject: `ROUTE:LABEL`) and say what to configure.";
    SecretNameRemoved = "WF405", "secret name removed from an `anyOf` list (breaking)",
        why: "Deployments that set only the removed name stop meeting the requirement.",
        fix: "Keep the name as an alternative, or acknowledge the removal in `changes` (subject: `ROUTE:NAME`) and say which name to set instead.";
    RequiredInputAdded = "WF406", "required input field added (breaking)",
        why: "Callers that do not send the new field are refused with `invalid_input`.",
        fix: "Make the field optional with a default, or acknowledge the change in `changes` (subject: `ROUTE.input.FIELD`).";
    InputTypeNarrowed = "WF407", "input field type narrowed (breaking)",
        why: "A value of a type the old contract accepted is now refused, so some existing callers fail.",
        fix: "Accept the old types too, or acknowledge the change in `changes` (subject: `ROUTE.input.FIELD`).";
    OutputFieldRemoved = "WF408", "output field removed (breaking)",
        why: "Callers that read the field get nothing.",
        fix: "Keep the field, or acknowledge the removal in `changes` (subject: `ROUTE.output.FIELD`).";
    OutputTypeChanged = "WF409", "output field type changed (breaking)",
        why: "Callers parse the field as the type the contract promised; another type breaks them.",
        fix: "Add a field with the new type beside the old one, or acknowledge the change in `changes` (subject: `ROUTE.output.FIELD`).";
    ServiceRemoved = "WF410", "service removed (breaking)",
        why: "Its routes, docs anchor and generated items disappear with it.",
        fix: "Keep the service, or acknowledge the removal in `changes` (subject: the service id).";
    ServiceIdChanged = "WF411", "service `id` changed (breaking)",
        why: "The id names the service's docs anchor and generated items, so links and code that use the old id break. Services are matched by connector name, then by rank, when their ids differ.",
        fix: "Write the old id explicitly (`\"id\": \"old_id\"`), or acknowledge the change in `changes` (subject: the old id).";
    OAuthEndpointChanged = "WF412", "OAuth `authorizationUrl` or `tokenUrl` changed (breaking)",
        why: "Connections were authorized at the old endpoints: their refresh tokens belong to the old token endpoint and may not work at the new one, and the OAuth app registered at the provider may be another one. Every deployment's `WORKERFLOW_OAUTH_<SERVICE>_*_URL` overrides and egress policies name the old hosts too.",
        fix: "Keep the old endpoint if the provider still serves it, or acknowledge the change in `changes` (subject: `SERVICE.oauth2.tokenUrl` or `SERVICE.oauth2.authorizationUrl`) and say whether existing connections must be authorized again.";
    OAuthScopeRemoved = "WF413", "OAuth scope removed (breaking)",
        why: "A route that needs the removed scope gets a token without it: calls made with new connections fail at the provider with a permission error. Connections authorized before keep the scope until they are authorized again, so the failure appears late and one connection at a time.",
        fix: "Keep the scope, or acknowledge the removal in `changes` (subject: `SERVICE:SCOPE`) and say which routes stop working without it.";
    OAuthRemoved = "WF414", "service's `oauth2` block removed (breaking)",
        why: "Without the block no connection to the service can be authorized or refreshed: every stored connection stops working, and `POST /api/connections` answers `unknown_service`.",
        fix: "Keep the block, or acknowledge the removal in `changes` (subject: the service id) and say what callers use instead of a connection.";
    RouteAuthChanged = "WF415", "route `auth` changed (breaking)",
        why: "A route's `auth` decides what a call needs: a route whose `auth` becomes `oauth2` wants a connection (or its `unlessConnection` fallback), and one that stops being `oauth2` refuses calls naming a connection (`connection_not_accepted`); any other change means deployments hold a different kind of secret.",
        fix: "Add a new route with the new scheme, or acknowledge the change in `changes` (subject: the route id) and say what callers and deployments change.";
    ServiceAdded = "WF420", "service added (notable)",
        why: "A new service is worth a look in review: its links, rank and routes are new facts in the catalogue.",
        fix: "Nothing to fix; check the entry.";
    RankChanged = "WF421", "rank changed (notable)",
        why: "Ranks order the research set and the docs pages.",
        fix: "Nothing to fix; check that the new place is intended.";
    DocsUrlChanged = "WF422", "docs URL changed (notable)",
        why: "Links in the docs pages and the OpenAPI document move.",
        fix: "Nothing to fix; check that the new page is the right one.";
    AuthTypeChanged = "WF423", "auth type changed (notable)",
        why: "The way a service authenticates decides which secrets deployments hold. A route's `auth` changing is WF415, which is breaking.",
        fix: "Nothing to fix; check the routes' secret requirements match the new scheme.";
    ConfidenceLowered = "WF424", "confidence lowered (notable)",
        why: "Less trust in an entry's facts is worth a reviewer's attention.",
        fix: "Nothing to fix; say why in the notes.";
    RouteAdded = "WF425", "route added (notable)",
        why: "A new route of an existing service is a new operation callers can use.",
        fix: "Nothing to fix; check the route's contract.";
    OAuthScopeAdded = "WF426", "OAuth scope added (notable)",
        why: "Connections authorized from now on ask the user for more access; connections authorized before lack the scope until they are authorized again.",
        fix: "Nothing to fix; tell users of existing connections to authorize them again if a route needs the new scope.";
    OAuthAdded = "WF427", "service's `oauth2` block added (notable)",
        why: "The service can now be connected through OAuth: a deployment needs the client id and secret and a connection key before it can create connections.",
        fix: "Nothing to fix; check the endpoints and scopes against the provider's docs.";
    NotesChanged = "WF440", "notes changed (cosmetic)",
        why: "Notes are free text; they change nothing callers rely on.",
        fix: "Nothing to fix.";
    ReasonChanged = "WF441", "`bestBaseLinkReason` changed (cosmetic)",
        why: "The reason explains the choice of link; it changes nothing callers rely on.",
        fix: "Nothing to fix.";
    StaleAcknowledgement = "WF451", "acknowledgement matches no change",
        why: "An entry added to `changes` that names no real change is a typo or left over from an undone change, and would show a changelog entry for something that did not happen.",
        fix: "Correct the entry's `code` and `subject` (see the changes `diff` lists), or remove it.";
    Internal = "WF901", "internal error",
        why: "A part of the compiler failed (a panic in a validation thread, or a value the model cannot hold after every check passed). The registry was not fully checked, so it is never reported as valid; the CLI exits with status 2.",
        fix: "This is a bug in workerflow-registry: report it with the registry that triggers it.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Code {
    /// The class of a change `diff` reports (breaking, notable, cosmetic); `None` for codes
    /// that are not changes.
    pub fn change_class(self) -> Option<ChangeClass> {
        class_of(self)
    }

    /// Looks a code up by its printed form (case-insensitive, `WF` optional).
    pub fn parse(text: &str) -> Option<Code> {
        let text = text.trim();
        let digits = text
            .strip_prefix("WF")
            .or_else(|| text.strip_prefix("wf"))
            .unwrap_or(text);
        Code::ALL
            .iter()
            .copied()
            .find(|code| &code.as_str()[2..] == digits)
    }

    /// The full text `workerflow-registry explain` prints.
    pub fn explain(self) -> String {
        format!(
            "{code}: {title}\n\nWhy: {why}\n\nFix: {fix}\n",
            code = self.as_str(),
            title = self.title(),
            why = self.rationale(),
            fix = self.fix()
        )
    }
}

/// How much a change `diff` reports matters to callers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeClass {
    /// Callers or deployments that worked before can break.
    Breaking,
    /// Worth a line in the release notes; nothing breaks.
    Notable,
    /// Wording or presentation only.
    Cosmetic,
}

impl ChangeClass {
    /// The class as `diff` prints it: `breaking`, `notable` or `cosmetic`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Breaking => "breaking",
            ChangeClass::Notable => "notable",
            ChangeClass::Cosmetic => "cosmetic",
        }
    }
}

/// The class of a change code; `None` for codes that are not changes.
pub(crate) fn class_of(code: Code) -> Option<ChangeClass> {
    use Code::*;
    Some(match code {
        RouteRemoved
        | RouteRenamed
        | RequestTypeChanged
        | SecretRequirementAdded
        | SecretNameRemoved
        | RequiredInputAdded
        | InputTypeNarrowed
        | OutputFieldRemoved
        | OutputTypeChanged
        | ServiceRemoved
        | ServiceIdChanged
        | OAuthEndpointChanged
        | OAuthScopeRemoved
        | OAuthRemoved
        | RouteAuthChanged => ChangeClass::Breaking,
        ServiceAdded | RankChanged | DocsUrlChanged | AuthTypeChanged | ConfidenceLowered
        | RouteAdded | OAuthScopeAdded | OAuthAdded => ChangeClass::Notable,
        NotesChanged | ReasonChanged => ChangeClass::Cosmetic,
        _ => return None,
    })
}
