// trackwire collector page. Plain JavaScript, no build step, nothing loaded from elsewhere.
// Every view reads the collector's JSON APIs (/events, /stats, /_faults, /api/2/...,
// /_viewer/...), so whatever the page shows can also be scripted. The DOM is built with
// textContent only: nothing a client sent is ever parsed as HTML.
"use strict";

const state = { session: null, stream: null, paused: false, rows: [], arrivals: [] };
const MAX_ROWS = 500;
const VENDORS = ["segment", "amplitude", "mparticle"];
const COLORS = ["#1b7f3b", "#0b57d0", "#a3400b", "#6b2fa0", "#00796b", "#c2185b"];

// --- small helpers -------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

function time(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

function params() {
  const hash = location.hash || "#/events";
  const query = hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : "";
  return new URLSearchParams(query);
}

function route() {
  const hash = (location.hash || "#/events").slice(1);
  return hash.split("?")[0].split("/").filter(Boolean);
}

async function api(path, options = {}) {
  const headers = Object.assign({ "X-Trackwire-Page": "1" }, options.headers || {});
  if (options.method && options.method !== "GET" && state.session && state.session.csrf) {
    headers["X-CSRF-Token"] = state.session.csrf;
  }
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await response.json(); } catch (error) { data = null; }
  if (response.status === 401 && path !== "/_viewer/session") {
    // Signed out (or the session expired): back to the sign-in form.
    state.session = Object.assign({}, state.session, { signed_in: false });
    renderSignIn();
    throw new Error("sign in first");
  }
  if (!response.ok) throw new Error((data && data.error) || `HTTP ${response.status}`);
  return data;
}

function show(...nodes) {
  const main = document.getElementById("main");
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
}

function failure(error) {
  return el("p", { class: "error", role: "alert", text: String(error.message || error) });
}

// --- session, mode and faults banner --------------------------------------------------------

async function loadSession() {
  state.session = await api("/_viewer/session");
  const mode = document.getElementById("mode");
  const who = state.session.who;
  const whoText = who === "admin" ? "admin" : who ? `${who.vendor}/${who.source}` : "signed out";
  mode.textContent = state.session.mode === "development"
    ? "development mode: any key, loopback only" : `keyed mode: ${whoText}`;
  document.getElementById("nav-faults").hidden = state.session.mode !== "development";
  document.getElementById("signout").hidden = state.session.mode === "development" ||
    !state.session.signed_in;
  showFaults(state.session.faults);
}

function activeFaults(faults) {
  if (!faults) return [];
  const config = faults.config || {};
  const found = [];
  for (const [path, steps] of Object.entries(config.statuses || {})) {
    const left = (faults.remaining || {})[path] || [];
    if (left.length) found.push(`${path}: ${left.join(", ")}`);
  }
  if (config.failure_rate) found.push(`failure rate ${config.failure_rate}`);
  if (config.drop_rate) found.push(`drop rate ${config.drop_rate}`);
  if (config.latency) found.push(`latency ${config.latency} s`);
  return found;
}

function showFaults(faults) {
  const banner = document.getElementById("fault-banner");
  const active = activeFaults(faults);
  banner.hidden = active.length === 0;
  banner.textContent = active.length ? `Fault injection active: ${active.join("; ")}` : "";
}

function renderSignIn(message) {
  stopStream();
  const input = el("input", { id: "token", type: "password", name: "token", required: true,
    autocomplete: "current-password" });
  const form = el("form", { class: "inline", "aria-label": "Sign in" },
    el("label", { for: "token" }, "Admin token or a source's read token", input),
    el("button", { type: "submit", class: "primary", text: "Sign in" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      state.session = await api("/_viewer/session", { method: "POST", body: { token: input.value } });
      await loadSession();
      render();
    } catch (error) {
      renderSignIn(error.message);
    }
  });
  show(el("h2", { text: "Sign in to the collector" }),
    el("p", { class: "muted", text: "This collector has a keys file: reading needs a token." }),
    form, message ? failure(new Error(message)) : null);
  input.focus();
}

// --- events: the live list -------------------------------------------------------------------

const FILTERS = [
  ["vendor", "Vendor"], ["source", "Source"], ["type", "Type"], ["event", "Event name"],
  ["user", "User or device id"], ["since", "From"], ["until", "Until"], ["q", "Text"],
];

function filterForm(current) {
  const fields = FILTERS.map(([name, text]) => {
    let input;
    if (name === "vendor") {
      input = el("select", { id: `f-${name}`, name },
        el("option", { value: "", text: "any" }),
        VENDORS.map((v) => el("option", { value: v, text: v, selected: current.get(name) === v })));
    } else if (name === "since" || name === "until") {
      const ms = current.get(name);
      const local = ms ? new Date(Number(ms)).toISOString().slice(0, 16) : "";
      input = el("input", { id: `f-${name}`, name, type: "datetime-local", value: local });
    } else {
      input = el("input", { id: `f-${name}`, name, type: "search", value: current.get(name) || "" });
    }
    return el("label", { for: `f-${name}` }, text, input);
  });
  const form = el("form", { class: "filters", role: "search", "aria-label": "Filter events" },
    fields, el("button", { type: "submit", text: "Apply" }),
    el("button", { type: "button", text: "Clear", onclick: () => { location.hash = "#/events"; } }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name] of FILTERS) {
      const value = form.elements[name].value.trim();
      if (!value) continue;
      if (name === "since" || name === "until") next.set(name, String(Date.parse(value + "Z")));
      else next.set(name, value);
    }
    location.hash = `#/events?${next}`;
  });
  return form;
}

function serverFilters(current) {
  const query = new URLSearchParams();
  for (const name of ["vendor", "source", "type", "event", "user", "since", "until"]) {
    if (current.get(name)) query.set(name, current.get(name));
  }
  return query;
}

function matchesText(event, text) {
  return !text || JSON.stringify(event).toLowerCase().includes(text.toLowerCase());
}

function eventRow(event) {
  const link = (text) => el("a", { href: `#/event/${event.id}`, text });
  return el("tr", { class: "event-row", "data-id": event.id },
    el("td", {}, link(time(event.received_time_ms))),
    el("td", { class: `vendor vendor-${event.vendor}` }, link(event.vendor)),
    el("td", {}, link(event.source)),
    el("td", {}, link(event.type)),
    el("td", { class: "event-name" }, link(event.event_name || "")),
    el("td", {}, link(event.user_id || event.device_id || "")));
}

function stopStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

async function renderEvents() {
  const current = params();
  const text = current.get("q") || "";
  const body = el("tbody", { id: "event-rows" });
  const table = el("table", { class: "events", "aria-label": "Events, newest first" },
    el("thead", {}, el("tr", {}, ["Received (UTC)", "Vendor", "Source", "Type", "Event", "User"]
      .map((h) => el("th", { scope: "col", text: h })))), body);
  const rate = el("span", { id: "rate", "aria-live": "off", text: "0 events/min" });
  const count = el("span", { id: "count" });
  const pause = el("button", { type: "button", id: "pause", "aria-pressed": "false",
    text: "Pause" });
  const gap = el("span", { id: "gap", class: "muted" });
  pause.addEventListener("click", () => {
    state.paused = !state.paused;
    pause.textContent = state.paused ? "Resume" : "Pause";
    pause.setAttribute("aria-pressed", String(state.paused));
    if (!state.paused) { paint(); }
  });
  show(el("h2", { text: "Events" }), filterForm(current),
    el("div", { class: "status" }, pause, rate, count, gap), table);

  state.rows = [];
  state.arrivals = [];
  const paint = () => {
    const shown = state.rows.filter((event) => matchesText(event, text));
    body.replaceChildren(...shown.slice(0, MAX_ROWS).map(eventRow));
    count.textContent = `${shown.length} shown` + (shown.length > MAX_ROWS ? ` (newest ${MAX_ROWS})` : "");
    if (shown.length === 0) {
      body.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "No events yet." })));
    }
  };
  let last = 0;
  try {
    const query = serverFilters(current);
    query.set("limit", "200");
    const first = await api(`/events?${query}`);
    state.rows = first.events;
    last = first.events.length ? first.events[0].id : 0;
  } catch (error) {
    show(el("h2", { text: "Events" }), failure(error));
    return;
  }
  paint();
  stopStream();
  const query = serverFilters(current);
  query.set("after", String(last));
  const stream = new EventSource(`/_viewer/stream?${query}`);
  state.stream = stream;
  let held = 0;
  stream.onmessage = (message) => {
    const data = JSON.parse(message.data);
    const now = Date.now();
    state.arrivals.push(...data.events.map(() => now));
    state.rows = data.events.concat(state.rows).slice(0, MAX_ROWS * 4);
    if (data.gap) gap.textContent = "More arrived than the page keeps up with; older ones skipped.";
    if (!state.paused) {
      held = 0;
      paint();
    } else {
      held += data.events.filter((event) => matchesText(event, text)).length;
      count.textContent = `paused: ${held} new`;
    }
  };
  const tick = setInterval(() => {
    if (state.stream !== stream) { clearInterval(tick); return; }
    const since = Date.now() - 60000;
    state.arrivals = state.arrivals.filter((t) => t >= since);
    rate.textContent = `${state.arrivals.length} events/min`;
  }, 1000);
}

// --- one event -----------------------------------------------------------------------------

function curlFor(event) {
  const origin = location.origin;
  const payload = event.payload;
  if (event.vendor === "segment") {
    const body = JSON.stringify({ batch: [payload] });
    return `curl -X POST '${origin}/v1/batch' -u 'WRITE_KEY:' -H 'Content-Type: application/json' -d '${body.replace(/'/g, "'\\''")}'`;
  }
  if (event.vendor === "amplitude") {
    const path = event.type === "event" ? "/2/httpapi" : "/2/httpapi";
    const body = JSON.stringify({ api_key: "API_KEY", events: [payload] });
    return `curl -X POST '${origin}${path}' -H 'Content-Type: application/json' -d '${body.replace(/'/g, "'\\''")}'`;
  }
  const body = JSON.stringify(payload);
  return `curl -X POST '${origin}/v2/events' -u 'KEY:SECRET' -H 'Content-Type: application/json' -d '${body.replace(/'/g, "'\\''")}'`;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Copy failed: select the text below";
  }
}

async function renderEvent(id) {
  stopStream();
  let event;
  try {
    event = await api(`/_viewer/events/${encodeURIComponent(id)}`);
  } catch (error) {
    show(el("h2", { text: `Event ${id}` }), failure(error));
    return;
  }
  const derived = event.derived;
  const rows = [
    ["Vendor", event.vendor], ["Source", event.source], ["Type", event.type],
    ["Event", event.event_name], ["User id", derived.user_id], ["Device id", derived.device_id],
    ["Amplitude id", derived.amplitude_id], ["Client time (UTC)", time(derived.client_time_ms)],
    ["Received (UTC)", time(derived.received_time_ms)],
    ["Received − client time", derived.received_minus_client_ms === null ? "" :
      `${derived.received_minus_client_ms} ms`],
    ["De-duplication key", derived.dedup_key],
    ["Duplicates", derived.deduplicated_by || "not de-duplicated (no key)"],
  ];
  const json = JSON.stringify(event.payload, null, 2);
  const curl = curlFor(event);
  const copyJson = el("button", { type: "button", text: "Copy JSON" });
  copyJson.addEventListener("click", () => copy(json, copyJson));
  const copyCurl = el("button", { type: "button", text: "Copy as curl" });
  copyCurl.addEventListener("click", () => copy(curl, copyCurl));
  const user = derived.user_id || derived.device_id;
  const userLink = user ? el("a", { href: `#/user?${new URLSearchParams({ vendor: event.vendor,
    source: event.source, user })}`, text: `User page for ${user}` }) : null;
  const violations = event.violations && event.violations.length
    ? el("section", {}, el("h3", { text: "Tracking plan violations" }),
      el("ul", {}, event.violations.map((v) => el("li", { text: `${v.type} at ${v.path || "/"}: ${v.message}` }))))
    : null;
  show(el("h2", { text: `Event ${event.id}` }),
    el("p", {}, el("a", { href: "#/events", text: "← Events" }), " ", userLink),
    el("table", { class: "derived", "aria-label": "What the collector derived" },
      el("tbody", {}, rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }),
        el("td", { text: v === null || v === undefined ? "" : String(v) }))))),
    violations,
    el("h3", { text: "Payload as received" }),
    el("div", { class: "status" }, copyJson, copyCurl),
    el("pre", { id: "payload", tabindex: "0", text: json }),
    el("h3", { text: "Re-send with curl" }),
    el("pre", { id: "curl", tabindex: "0", text: curl }));
}

// --- one user --------------------------------------------------------------------------------

function propertiesTable(props, label) {
  const entries = Object.entries(props || {});
  if (!entries.length) return el("p", { class: "muted", text: "No properties." });
  return el("table", { class: "properties", "aria-label": label },
    el("tbody", {}, entries.map(([k, v]) => el("tr", {}, el("th", { scope: "row", text: k }),
      el("td", { text: JSON.stringify(v) })))));
}

async function renderUser() {
  stopStream();
  const current = params();
  let data;
  try {
    data = await api(`/_viewer/user?${current}`);
  } catch (error) {
    show(el("h2", { text: "User" }), failure(error));
    return;
  }
  const user = data.user;
  const title = user.user_id || user.device_id;
  show(el("h2", { text: `User ${title}` }),
    el("p", { class: "muted", text: `${user.vendor} / ${user.source} · Amplitude id ${user.amplitude_id} · first seen ${time(user.first_seen_ms)} · last seen ${time(user.last_seen_ms)}` }),
    el("h3", { text: "Properties now" }), propertiesTable(user.properties, "Properties now"),
    el("h3", { text: "Devices and linked identities" }),
    el("ul", { id: "identities" },
      data.devices.map((d) => el("li", { text: `device ${d}` })),
      data.links.map((l) => el("li", { text: `alias of ${l.previous_id} (${time(l.linked_ms)})` }))),
    el("h3", { text: "Changes to the properties" }),
    data.history.length ? el("ol", { id: "history" }, data.history.map((change) =>
      el("li", {}, el("a", { href: `#/event/${change.id}`, text: `${change.type} ${change.event_name || ""} at ${time(change.received_time_ms)}` }),
        el("div", { class: "muted", text: change.operations.map((op) => `${op.operation} ${JSON.stringify(op.values)}`).join("; ") }),
        propertiesTable(change.properties, "Properties after this change"))))
      : el("p", { class: "muted", text: "No operation changed them." }),
    el("h3", { text: "Activity" }),
    el("div", { id: "activity" },
      el("table", { class: "events", "aria-label": "The user's events, newest first" },
        el("tbody", {}, data.events.map(eventRow)))));
  showActivity(user);
}

// The timeline as the user-activity query answers it (/api/2/useractivity), when the query
// side knows the user; the store's own listing above stays otherwise.
async function showActivity(user) {
  try {
    const query = new URLSearchParams({ user: String(user.amplitude_id), limit: "200" });
    const answer = await api(`/api/2/useractivity?${query}`,
      { headers: { "X-Trackwire-Source": user.source } });
    if (!answer.events || !answer.events.length) return;
    const rows = answer.events.map((event) => el("tr", {},
      el("td", { text: String(event.event_time || "") }),
      el("td", { class: "event-name", text: String(event.event_type || "") }),
      el("td", { text: JSON.stringify(event.event_properties || {}) })));
    const summary = answer.userData || {};
    document.getElementById("activity").replaceChildren(
      el("p", { class: "muted", text: `${summary.num_events ?? answer.events.length} events, ${summary.num_sessions ?? 0} sessions (the user-activity query)` }),
      el("table", { class: "activity", "aria-label": "The user's activity, newest first" },
        el("thead", {}, el("tr", {}, ["Time (UTC)", "Event", "Properties"]
          .map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows)));
  } catch (error) {
    // The store's listing is already shown.
  }
}

// --- charts ------------------------------------------------------------------------------------

function barChart(labels, series, names, title, colorOf = (s) => s) {
  const width = 640, height = 240, pad = 32;
  const max = Math.max(1, ...series.flat());
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": title });
  const slot = (width - pad * 2) / Math.max(1, labels.length);
  const bar = slot / Math.max(1, series.length);
  series.forEach((values, s) => values.forEach((value, i) => {
    const h = (value / max) * (height - pad * 2);
    const rect = svg("rect", { x: pad + i * slot + s * bar, y: height - pad - h,
      width: Math.max(1, bar - 1), height: h, fill: COLORS[colorOf(s) % COLORS.length] });
    const tip = svg("title", {});
    tip.textContent = `${names[s]} ${labels[i]}: ${value}`;
    rect.append(tip);
    chart.append(rect);
  }));
  chart.append(svg("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#888" }));
  const top = svg("text", { x: 4, y: pad - 8, "font-size": 12, fill: "#555" });
  top.textContent = String(max);
  chart.append(top);
  const legend = el("div", { class: "legend" }, names.map((name, s) =>
    el("span", {}, el("span", { class: `swatch swatch-${colorOf(s) % 6}`, "aria-hidden": "true" }), name)));
  return el("figure", {}, chart, legend);
}

async function renderCharts() {
  stopStream();
  const section = el("section", { "aria-labelledby": "rates-title" });
  const segmentation = el("section", { "aria-labelledby": "seg-title" });
  show(el("h2", { text: "Charts" }), section, segmentation);
  try {
    const rates = await api("/_viewer/rates?minutes=60");
    const labels = [...Array(rates.minutes).keys()].map((i) => time(rates.start_ms + i * 60000).slice(11, 16));
    const names = Object.keys(rates.per_minute).sort();
    section.replaceChildren(el("h3", { id: "rates-title", text: "Events per minute by vendor (last hour)" }),
      names.length ? barChart(labels, names.map((n) => rates.per_minute[n]), names,
        "Events per minute by vendor", (s) => Math.max(0, VENDORS.indexOf(names[s])))
        : el("p", { class: "muted", text: "Nothing arrived in the last hour." }),
      el("h3", { text: "Top events" }),
      el("table", { id: "top-events", "aria-label": "Top events" },
        el("tbody", {}, rates.top_events.map((t) => el("tr", {},
          el("td", { class: `vendor vendor-${t.vendor}`, text: t.vendor }),
          el("td", { text: t.event }), el("td", { text: String(t.count) }))))));
  } catch (error) {
    section.replaceChildren(failure(error));
  }
  const stats = await api("/stats").catch(() => ({ by_source: [] }));
  const sources = [...new Set(stats.by_source.filter((r) => r.vendor === "amplitude").map((r) => r.source))];
  renderSegmentationForm(segmentation, sources);
}

function renderSegmentationForm(section, sources) {
  const today = new Date().toISOString().slice(0, 10);
  const weekAgo = new Date(Date.now() - 6 * 86400000).toISOString().slice(0, 10);
  const field = (id, text, input) => el("label", { for: id }, text, input);
  const source = el("select", { id: "seg-source", name: "source" },
    sources.map((s) => el("option", { value: s, text: s })));
  const eventType = el("input", { id: "seg-event", name: "event", value: "_active", required: true });
  const metric = el("select", { id: "seg-metric", name: "m" },
    ["uniques", "totals", "pct_dau", "average"].map((m) => el("option", { value: m, text: m })));
  const interval = el("select", { id: "seg-interval", name: "i" },
    [["1", "daily"], ["7", "weekly"], ["30", "monthly"], ["-3600000", "hourly"]]
      .map(([v, t]) => el("option", { value: v, text: t })));
  const start = el("input", { id: "seg-start", name: "start", type: "date", value: weekAgo });
  const end = el("input", { id: "seg-end", name: "end", type: "date", value: today });
  const prop = el("input", { id: "seg-filter-prop", name: "filter_prop", placeholder: "e.g. title" });
  const value = el("input", { id: "seg-filter-value", name: "filter_value" });
  const groupBy = el("input", { id: "seg-group", name: "group_by", placeholder: "e.g. title" });
  const result = el("div", { id: "seg-result", "aria-live": "polite" });
  const form = el("form", { class: "filters", "aria-label": "Event segmentation" },
    field("seg-source", "Amplitude source", source), field("seg-event", "Event type", eventType),
    field("seg-metric", "Metric", metric), field("seg-interval", "Interval", interval),
    field("seg-start", "Start", start), field("seg-end", "End", end),
    field("seg-filter-prop", "Filter: property", prop), field("seg-filter-value", "is", value),
    field("seg-group", "Group by property", groupBy),
    el("button", { type: "submit", class: "primary", text: "Run" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const e = { event_type: eventType.value.trim() };
    if (prop.value.trim()) {
      e.filters = [{ subprop_type: "event", subprop_key: prop.value.trim(), subprop_op: "is",
        subprop_value: [value.value] }];
    }
    if (groupBy.value.trim()) e.group_by = [{ type: "event", value: groupBy.value.trim() }];
    const query = new URLSearchParams({ e: JSON.stringify(e), m: metric.value, i: interval.value,
      start: start.value.replace(/-/g, ""), end: end.value.replace(/-/g, "") });
    try {
      const answer = await api(`/api/2/events/segmentation?${query}`,
        { headers: { "X-Trackwire-Source": source.value } });
      result.replaceChildren(segmentationResult(answer.data, metric.value));
    } catch (error) {
      result.replaceChildren(failure(error));
    }
  });
  section.replaceChildren(el("h3", { id: "seg-title", text: "Event segmentation (the query API)" }),
    sources.length ? form : el("p", { class: "muted", text: "No Amplitude source has events yet." }),
    result);
}

function segmentationResult(data, metric) {
  const labels = data.xValues;
  const names = data.seriesLabels.map((label) => Array.isArray(label) ? label.join(" / ") : String(label));
  const series = data.series.map((values) => values.map((v) => (typeof v === "object" && v !== null ? v.value : v)));
  const table = el("table", { id: "seg-table", "aria-label": "Segmentation numbers" },
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Series" }),
      labels.map((x) => el("th", { scope: "col", text: x })))),
    el("tbody", {}, series.map((values, s) => el("tr", {}, el("th", { scope: "row", text: names[s] || "all" }),
      values.map((v) => el("td", { class: "value", text: String(v) }))))));
  return el("div", {}, barChart(labels, series, names.map((n) => n || "all"), `Segmentation: ${metric}`), table);
}

// --- faults (development mode) -----------------------------------------------------------------

async function renderFaults() {
  stopStream();
  if (!state.session || state.session.mode !== "development") {
    show(el("h2", { text: "Faults" }), el("p", { text: "Fault injection exists in development mode only." }));
    return;
  }
  const faults = await api("/_faults");
  showFaults(faults);
  const path = el("input", { id: "fault-path", name: "path", value: "/v1/batch" });
  const steps = el("input", { id: "fault-steps", name: "steps", placeholder: "500,503,drop" });
  const rate = el("input", { id: "fault-rate", name: "failure_rate", type: "number", min: 0, max: 1, step: "0.05", value: faults.config.failure_rate || 0 });
  const latency = el("input", { id: "fault-latency", name: "latency", type: "number", min: 0, step: "0.1", value: faults.config.latency || 0 });
  const message = el("p", { id: "fault-message", role: "status" });
  const form = el("form", { class: "filters", "aria-label": "Inject faults" },
    el("label", { for: "fault-path" }, "Path", path),
    el("label", { for: "fault-steps" }, "Status sequence", steps),
    el("label", { for: "fault-rate" }, "Failure rate (0–1)", rate),
    el("label", { for: "fault-latency" }, "Latency (s)", latency),
    el("button", { type: "submit", class: "primary", text: "Apply" }),
    el("button", { type: "button", text: "Clear all", onclick: async () => {
      try { showFaults(await api("/_faults", { method: "DELETE" })); message.textContent = "Cleared."; renderFaults(); }
      catch (error) { message.textContent = error.message; }
    } }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const config = Object.assign({}, faults.config);
    const list = steps.value.split(",").map((s) => s.trim()).filter(Boolean)
      .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
    config.statuses = Object.assign({}, config.statuses);
    if (list.length) config.statuses[path.value.trim()] = list;
    config.failure_rate = Number(rate.value) || 0;
    config.latency = Number(latency.value) || 0;
    try {
      showFaults(await api("/_faults", { method: "POST", body: config }));
      message.textContent = "Applied.";
      renderFaults();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  show(el("h2", { text: "Fault injection" }),
    el("p", { class: "muted", text: "Make the collector answer as a failing vendor would, to watch an SDK retry." }),
    form, message, el("h3", { text: "Now" }), el("pre", { id: "fault-state", text: JSON.stringify(faults, null, 2) }));
}

// --- routing ---------------------------------------------------------------------------------

async function render() {
  const [view, arg] = route();
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.nav === (view === "event" || view === "user" ? "events" : view)) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (state.session && !state.session.signed_in) { renderSignIn(); return; }
  if (view === "event" && arg) await renderEvent(arg);
  else if (view === "user") await renderUser();
  else if (view === "charts") await renderCharts();
  else if (view === "faults") await renderFaults();
  else await renderEvents();
}

async function start() {
  document.getElementById("signout").addEventListener("click", async () => {
    await api("/_viewer/session", { method: "DELETE" }).catch(() => null);
    await loadSession();
    render();
  });
  window.addEventListener("hashchange", () => render().catch((error) => show(failure(error))));
  try {
    await loadSession();
    await render();
  } catch (error) {
    show(failure(error));
  }
  setInterval(() => {
    if (state.session && state.session.mode === "development") {
      api("/_viewer/session").then((s) => showFaults(s.faults)).catch(() => null);
    }
  }, 5000);
}

document.addEventListener("DOMContentLoaded", start);
