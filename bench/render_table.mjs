#!/usr/bin/env node
// The peer for `workerflow-registry build` in bench/compare.sh: a minimal Node renderer that
// reads the same registry file and writes the same HTML service table (same rows, cells, links
// and details as registry-compiler/src/render/html.rs), sorted by rank. It does no validation
// and renders prose as escaped text (no Markdown), so it does strictly less work than `build`.
//
// Usage: node bench/render_table.mjs REGISTRY.json OUT.html
import { readFileSync, writeFileSync } from "node:fs";

const [registryPath, outPath] = process.argv.slice(2);
if (!registryPath || !outPath) {
  console.error("usage: node bench/render_table.mjs REGISTRY.json OUT.html");
  process.exit(2);
}

const LINKS = [
  ["officialApiDocsUrl", "API docs"],
  ["bestBaseLink", "Base link"],
  ["authDocsUrl", "Auth docs"],
  ["webhookDocsUrl", "Webhooks"],
  ["rateLimitDocsUrl", "Rate limits"],
  ["openapiUrl", "OpenAPI"],
  ["officialSdkUrl", "SDK"],
  ["changelogUrl", "Changelog"],
];
const LOGIN = { true: "yes", false: "no", unknown: "unknown", null: "not stated", undefined: "not stated" };
const ENTITIES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => ENTITIES[c]);
const link = (url) =>
  /^https:\/\/[^\s\x00-\x1f]*$/i.test(url)
    ? `<a href="${escape(url)}" rel="noopener noreferrer">${escape(url)}</a>`
    : escape(url);
const deriveId = (name) =>
  name.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");

function row(s) {
  const id = escape(s.id ?? deriveId(s.connectorName));
  const routes = s.runtime?.routes ?? [];
  const docs = s.bestBaseLink ?? s.officialApiDocsUrl;
  let out = `\n<tr id="${id}" data-rank="${s.rank ?? ""}" data-auth="${s.authType}" data-confidence="${s.confidence}" data-routes="${routes.length}">`;
  out += `\n<td class="c-rank">${s.rank ?? '<span class="none">unranked</span>'}</td>`;
  out += `\n<th scope="row" class="c-name"><a class="self c-name-text" href="#${id}">${escape(s.connectorName)}</a><code class="c-id">${id}</code></th>\n`;
  out += s.officialVendorName == null
    ? '<td class="c-vendor none">unknown'
    : `<td class="c-vendor">${escape(s.officialVendorName)}`;
  out += `</td>\n<td class="c-auth">${s.authType}</td>\n<td class="c-confidence conf-${s.confidence}">${s.confidence}</td>\n<td class="c-routes">`;
  for (const r of routes) out += `<code>${escape(r.id)}</code>`;
  out += `</td>\n<td class="c-docs">${docs == null ? '<span class="none">none</span>' : link(docs)}`;
  out += "\n<details><summary>Details</summary><dl>";
  for (const [field, label] of LINKS) {
    const url = s[field];
    if (url == null) continue;
    out += `<dt>${label}</dt><dd>${link(url)}`;
    if (field === "bestBaseLink" && s.bestBaseLinkScore != null) out += ` (score ${s.bestBaseLinkScore})`;
    out += "</dd>";
  }
  if (s.bestBaseLinkReason != null) out += `<dt>Why</dt><dd><p>${escape(s.bestBaseLinkReason)}</p></dd>`;
  out += `<dt>Login</dt><dd>${LOGIN[s.docsRequiresLogin]}</dd>`;
  for (const r of routes) {
    out += `<dt>Route</dt><dd><code>${escape(r.id)}</code> (${r.requestType}): ${escape(r.summary)}`;
    for (const secret of r.secrets ?? []) {
      out += `<br>${escape(secret.label)}: ${secret.anyOf.map((n) => `<code>${escape(n)}</code>`).join(" or ")}`;
    }
    out += "</dd>";
  }
  out += `<dt>Sources</dt><dd>${(s.sources ?? []).map(link).join("<br>")}</dd>`;
  if (s.notes != null) out += `<dt>Notes</dt><dd><p>${escape(s.notes)}</p></dd>`;
  return out + "\n</dl></details></td>\n</tr>";
}

const registry = JSON.parse(readFileSync(registryPath, "utf8"));
const services = registry.services;
// Ranked by rank, then unranked in file order, as the generated page orders them.
const order = services
  .map((s, i) => [s.rank ?? Infinity, i])
  .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
const parts = ['<table id="wf-table">\n<thead><tr><th>Rank</th><th>Connector</th><th>Vendor</th><th>Auth</th><th>Confidence</th><th>Runtime routes</th><th>Docs</th></tr></thead>\n<tbody>'];
for (const [, i] of order) parts.push(row(services[i]));
parts.push("\n</tbody>\n</table>\n");
writeFileSync(outPath, parts.join(""));
