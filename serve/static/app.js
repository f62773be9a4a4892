// The plansok workspace. Plain JS, same-origin requests only: nothing leaves the machine.
// Text from the index is put in with textContent; the only HTML taken from the server is
// snippets and pages with marks, which the server escapes (its offsets count code points).
"use strict";

const $ = (selector) => document.querySelector(selector);
const $$ = (selector) => Array.from(document.querySelectorAll(selector));
const tags = new Map(); // tag id -> {label, kind, description}
const seqs = {}; // pane -> number of its latest request, so a slow answer never overwrites a newer one
let currentPage = null; // {doc, page, passage, n_pages}
let docsInfo = null; // /api/docs
let knownCodes = []; // the researcher's codes, for the datalists
let openCollection = null; // name of the collection shown in the Collections pane
const review = { queue: [], skipped: new Set(), current: null };
const PANES = ["search", "kwic", "words", "matrix", "structure", "collections", "review"];
const STANDARD_NAMES = { nb: "bokmål", nn: "nynorsk" };

// Children that are there: null, undefined and false are left out (DOM append() would
// write them as the words "null" and "undefined").
function present(children) {
  return children.flat().filter((c) => c !== undefined && c !== null && c !== false);
}

function fill(node, ...children) {
  node.replaceChildren(...present(children));
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...present(children));
  return node;
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : (many || `${one}s`)}`;
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  let data;
  try {
    data = await response.json();
  } catch {
    data = { error: `HTTP ${response.status}` };
  }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

function post(path, body) {
  return api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function setStatus(id, text, isError = false) {
  const status = $(id);
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// Runs one request of a pane; an answer to an older request is dropped. The element's
// data-state/data-seq say when it is done (the browser tests wait on them).
async function run(pane, target, work) {
  const seq = (seqs[pane] = (seqs[pane] || 0) + 1);
  target.dataset.state = "loading";
  try {
    await work(() => seq === seqs[pane]);
  } finally {
    if (seq === seqs[pane]) {
      target.dataset.state = "done";
      target.dataset.seq = String(Number(target.dataset.seq || 0) + 1);
    }
  }
}

// -- tabs --------------------------------------------------------------------------------
function activePane() {
  return document.body.dataset.pane;
}

function showPane(name, { focus = false } = {}) {
  if (!PANES.includes(name)) name = "search";
  document.body.dataset.pane = name;
  for (const tab of $$(".tabs [role=tab]")) {
    const on = tab.dataset.pane === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
  }
  for (const pane of PANES) $(`#pane-${pane}`).hidden = pane !== name;
  $("#search-button").textContent = {
    kwic: "Concordance", words: "Count", matrix: "Build matrix", structure: "Show",
  }[name] || "Search";
  if (focus) $(`#tab-${name}`).focus();
  const params = new URLSearchParams(location.search);
  params.set("tab", name);
  history.replaceState(null, "", `?${params}`);
  if (name === "collections") loadCollectionsPane();
  if (name === "review" && !review.current) nextReview();
  if (name === "matrix") loadCodes().catch(() => {});
}

// -- filters -----------------------------------------------------------------------------
function addOptions(select, items) {
  for (const { value, label, title } of items) select.append(el("option", { value, title }, label));
}

function docLabel(d) {
  const name = [d.municipality, d.doc_type, d.period].filter(Boolean).join(" · ");
  return name || d.doc_id;
}

async function loadFilters() {
  const [docs, tagList] = await Promise.all([api("/api/docs"), api("/api/tags")]);
  docsInfo = docs;
  const n = docs.documents.length;
  $("#index-info").textContent = `${plural(n, "document")}` + (docs.years ? `, ${docs.years[0]}–${docs.years[1]}` : "");
  $("#index-info").title = docs.index;
  addOptions($("#kommune"), docs.municipalities.map((m) => ({
    value: m.name, label: m.kommunenummer ? `${m.name} (${m.kommunenummer})` : m.name,
  })));
  addOptions($("#type"), docs.doc_types.map((t) => ({ value: t, label: t })));
  addOptions($("#doc"), docs.documents.map((d) => ({ value: d.doc_id, label: docLabel(d), title: d.title })));
  addOptions($("#standard"), docs.standards.map((s) => ({ value: s, label: STANDARD_NAMES[s] || s })));
  addOptions($("#matrix-by"), docs.matrix_by.map((b) => ({ value: b, label: b })));
  for (const id of ["#structure-doc", "#compare-old", "#compare-new"]) {
    addOptions($(id), docs.documents.map((d) => ({ value: d.doc_id, label: docLabel(d), title: d.title })));
  }
  addOptions($("#matrix-measure"), docs.matrix_measures.map((m) => ({
    value: m, label: { count: "count", share: "% of passages", rate: "per 10,000 words" }[m] || m,
  })));
  const checklist = $("#matrix-tags");
  for (const kind of ["theme", "theory"]) {
    const group = el("optgroup", { label: kind === "theme" ? "Themes" : "Theories" });
    const reviewGroup = el("optgroup", { label: kind === "theme" ? "Themes" : "Theories" });
    for (const t of tagList.tags.filter((x) => x.kind === kind)) {
      tags.set(t.id, t);
      group.append(el("option", { value: t.id, title: t.description || undefined }, t.label));
      reviewGroup.append(el("option", { value: t.id }, t.label));
      checklist.append(el("label", { class: `check ${kind}`, title: t.description || undefined },
        el("input", { type: "checkbox", value: t.id }), ` ${t.label}`));
    }
    if (group.children.length) $("#tag").append(group);
    if (reviewGroup.children.length) $("#review-tag").append(reviewGroup);
  }
}

function filterParams(params = new URLSearchParams()) {
  for (const name of ["kommune", "type", "doc", "standard", "tag"]) {
    const value = $(`#${name}`).value;
    if (value) params.set(name, value);
  }
  const lo = $("#year-from").value.trim();
  const hi = $("#year-to").value.trim();
  // "period overlaps" (year) or "period starts" (start_year): a plan of 2018-2030 overlaps 2020 but starts in 2018.
  if (lo || hi) params.set($("#year-mode").value, yearRange(lo, hi));
  if ($("#refs").checked) params.set("refs", "1");
  return params;
}

function yearRange(lo, hi) {
  return lo && hi ? `${lo}-${hi}` : (lo ? `${lo}-` : `-${hi}`);
}

function setSelect(select, value, label) {
  // A value the dropdown lacks (a municipality by number, from a matrix column) is added.
  if (value && !Array.from(select.options).some((o) => o.value === value)) {
    select.append(el("option", { value }, label || value));
  }
  select.value = value;
}

function fillForm(params) {
  $("#q").value = params.get("q") || "";
  for (const name of ["kommune", "type", "doc", "standard", "tag"]) {
    if (params.has(name)) setSelect($(`#${name}`), params.get(name));
  }
  if (params.has("k")) $("#k").value = params.get("k");
  const mode = params.has("start_year") && !params.has("year") ? "start_year" : "year";
  $("#year-mode").value = mode;
  const [lo, hi] = (params.get(mode) || "").split("-");
  $("#year-from").value = lo || "";
  $("#year-to").value = hi || "";
  $("#refs").checked = params.get("refs") === "1";
  const group = params.get("group") === "document" ? "document" : "passage";
  $(`input[name=group][value=${group}]`).checked = true;
}

function clearFilters() {
  for (const name of ["kommune", "type", "doc", "standard", "tag"]) $(`#${name}`).value = "";
  $("#year-from").value = "";
  $("#year-to").value = "";
}

// -- tags and evidence -------------------------------------------------------------------
function tagChips(tagList) {
  // Each tag with its confidence; its evidence words are marked in the text and listed here.
  const chips = el("div", { class: "chips" });
  for (const t of tagList || []) {
    const info = tags.get(t.tag) || { label: t.label || t.tag, kind: t.kind || "theme" };
    const evidence = (t.evidence || []).join(", ");
    chips.append(el("span", {
      class: `chip ${info.kind}`,
      dataset: { tag: t.tag },
      title: `${info.kind}: ${info.label}${t.source ? ` (${t.source})` : ""}, confidence ${t.confidence}` +
        (evidence ? `\nevidence: ${evidence}` : ""),
    }, `${info.label} `, el("span", { class: "conf" }, Number(t.confidence).toFixed(2))));
  }
  return chips.children.length ? chips : null;
}

function evidenceLine(tagList) {
  const parts = (tagList || []).filter((t) => (t.evidence || []).length).map((t) => {
    const info = tags.get(t.tag) || { label: t.label || t.tag };
    return el("span", {}, el("span", { class: "ev-tag" }, `${info.label}: `), t.evidence.slice(0, 8).join(", "));
  });
  if (!parts.length) return null;
  const line = el("p", { class: "evidence" }, "evidence — ");
  parts.forEach((p, i) => line.append(i ? "; " : "", p));
  return line;
}

// -- search ------------------------------------------------------------------------------
function searchParams() {
  const params = new URLSearchParams();
  const q = $("#q").value.trim();
  if (q) params.set("q", q);
  filterParams(params);
  params.set("k", $("#k").value);
  const group = $("input[name=group]:checked").value;
  if (group === "document") params.set("group", "document");
  return params;
}

function remember(params) {
  const url = new URLSearchParams(params);
  url.set("tab", activePane());
  history.replaceState(null, "", `?${url}`);
}

function searchSummary(data) {
  const parts = [`${plural(data.total, "passage")} match in ${plural(data.documents, "document")}`];
  if (data.by_document) parts.push(`the best passage of ${plural(data.count, "plan")} shown`);
  else if (data.count < data.total) parts.push(`${data.count} shown`);
  const left = data.left_out || {};
  const dropped = [];
  if (left.references) dropped.push(plural(left.references, "reference list"));
  if (left.contents) dropped.push(plural(left.contents, "contents page"));
  if (dropped.length) parts.push(`${dropped.join(" and ")} left out (tick “reference lists too”)`);
  return parts.join(" · ");
}

async function search() {
  const params = searchParams();
  const results = $("#results");
  if (!params.has("q") && !params.has("tag")) {
    setStatus("#status", "Type a query, or choose a tag.", true);
    $("#q").focus();
    return;
  }
  setStatus("#status", "Searching…");
  remember(params);
  await run("search", results, async (current) => {
    try {
      const data = await api(`/api/search?${params}`);
      if (!current()) return;
      results.replaceChildren(...data.hits.map(renderHit));
      setStatus("#status", data.total ? searchSummary(data) : data.message || "No passages found.");
      showSearchExports(params, data.total);
    } catch (error) {
      if (!current()) return;
      results.replaceChildren();
      $("#search-export").hidden = true;
      setStatus("#status", error.message, true);
    }
  });
}

function showSearchExports(params, total) {
  const box = $("#search-export");
  box.replaceChildren("Export these hits: ");
  if (!total || !params.has("q")) {
    box.hidden = true;
    return;
  }
  const query = new URLSearchParams(params);
  query.delete("group");
  for (const [fmt, label] of [["csv", "CSV"], ["xlsx", "Excel"], ["ris", "RIS"], ["bibtex", "BibTeX"],
    ["qdpx", "REFI-QDA"], ["md", "Markdown"], ["docx", "Word"]]) {
    query.set("format", fmt);
    box.append(el("a", { href: `/api/export?${query}`, download: "", class: "download", dataset: { format: fmt } },
      label), " ");
  }
  box.hidden = false;
}

function pageLink(text, doc, page, passage, title) {
  const link = el("a", { href: `#${passage || doc}`, class: "cite", title: title || "Read the page" }, text);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    openPage(doc, page, passage);
  });
  return link;
}

function addButton(passageId, label = "Add to collection") {
  const add = el("button", { type: "button", class: "add" }, label);
  add.addEventListener("click", (event) => {
    event.stopPropagation();
    collect(passageId, add);
  });
  return add;
}

function renderHit(hit) {
  const item = el("li", {
    class: "hit",
    dataset: { passage: hit.passage_id, doc: hit.doc_id, page: String(hit.page) },
  });
  const cite = pageLink(hit.citation, hit.doc_id, hit.page, hit.passage_id);
  const meta = [hit.doc_type, STANDARD_NAMES[hit.standard] || hit.standard, `score ${hit.score.toFixed(2)}`];
  if (hit.source === "ocr") meta.push("OCR text");
  const snippet = el("p", { class: "snippet", lang: hit.standard === "nn" ? "nn" : "nb" });
  snippet.innerHTML = hit.snippet_html; // escaped by the server
  const actions = el("div", { class: "actions" }, addButton(hit.passage_id));
  if (hit.hits_in_document !== undefined) {
    const all = el("a", { href: "#", class: "in-doc", title: "Every matching passage of this plan" },
      `${plural(hit.hits_in_document, "hit")} in this plan`);
    all.addEventListener("click", (event) => {
      event.preventDefault();
      event.stopPropagation();
      setSelect($("#doc"), hit.doc_id);
      $("input[name=group][value=passage]").checked = true;
      search();
    });
    actions.append(all);
  }
  if (hit.also_in && hit.also_in.length) {
    // Each folded copy names its document (a municipality has many plans) and opens its page.
    const also = el("span", { class: "muted also" }, "also in: ");
    hit.also_in.slice(0, 4).forEach((a, i) => {
      const title = a.title || a.doc_id;
      const period = a.period && !title.includes(a.period) ? ` (${a.period})` : "";
      const name = [a.municipality, `${title}${period}`, `s. ${a.page}`].filter(Boolean).join(", ");
      const link = pageLink(name, a.doc_id, a.page, a.passage_id, `${a.doc_id} · ${a.passage_id}`);
      link.className = "";
      link.dataset.doc = a.doc_id;
      also.append(i ? "; " : "", link);
    });
    if (hit.also_in.length > 4) also.append(` and ${hit.also_in.length - 4} more`);
    actions.append(also);
  }
  if (hit.source_url) {
    // A plain link: followed only if the researcher clicks it; no referrer is sent.
    actions.append(el("a", { href: hit.source_url, rel: "noreferrer noopener", target: "_blank" }, "source"));
  }
  // No tags, no chips: nothing is written where they would be.
  fill(item,
    el("div", { class: "head" }, `${hit.rank}. `, cite),
    el("div", { class: "meta" }, meta.join(" · ")),
    snippet,
    tagChips(hit.tags),
    evidenceLine(hit.tags),
    actions);
  item.addEventListener("click", (event) => {
    if (event.target.closest("a, button") || String(window.getSelection())) return; // let text be selected
    openPage(hit.doc_id, hit.page, hit.passage_id);
  });
  return item;
}

// -- concordance -------------------------------------------------------------------------
function kwicParams() {
  const params = new URLSearchParams();
  params.set("q", $("#q").value.trim());
  filterParams(params);
  params.delete("refs"); // a concordance reads every candidate passage
  params.set("sort", $("#kwic-sort").value);
  params.set("width", $("#kwic-width").value);
  const within = $("#kwic-within").value.trim();
  if (within && within !== "0") params.set("within", within);
  return params;
}

async function kwic() {
  const params = kwicParams();
  const table = $("#kwic-table");
  if (!params.get("q")) {
    setStatus("#kwic-status", "Type a word, a phrase in quotes, or words joined by OR.", true);
    $("#q").focus();
    return;
  }
  setStatus("#kwic-status", "Reading the passages…");
  remember(params);
  await run("kwic", table, async (current) => {
    try {
      const data = await api(`/api/kwic?${params}`);
      if (!current()) return;
      renderKwic(data);
      const csv = new URLSearchParams(params);
      csv.set("format", "csv");
      $("#kwic-csv").href = `/api/kwic?${csv}`;
      $("#kwic-csv").setAttribute("download", "");
      $("#kwic-csv").hidden = !data.total;
      if (!data.total) {
        setStatus("#kwic-status", data.message || "No occurrences.");
      } else {
        const shown = data.shown < data.total ? ` · the first ${data.shown} shown (the CSV has all)` : "";
        setStatus("#kwic-status",
          `${plural(data.total, "occurrence")} in ${plural(data.passages, "passage")} of ` +
          `${plural(data.documents, "document")}${shown}`);
      }
    } catch (error) {
      if (!current()) return;
      table.replaceChildren();
      $("#kwic-csv").hidden = true;
      setStatus("#kwic-status", error.message, true);
    }
  });
}

function renderKwic(data) {
  const table = $("#kwic-table");
  const head = el("thead", {}, el("tr", {},
    el("th", { class: "where" }, "Where"), el("th", { class: "left" }, "Left"),
    el("th", { class: "kw" }, "Keyword"), el("th", { class: "right" }, "Right"), el("th", {}, "")));
  const body = el("tbody");
  for (const line of data.lines) {
    const where = `${line.municipality || line.doc_id}, s. ${line.page}` +
      (line.page_label && line.page_label !== String(line.page) ? ` (${line.page_label})` : "");
    const row = el("tr", { dataset: { passage: line.passage_id, page: String(line.page) } },
      el("td", { class: "where" }, pageLink(where, line.doc_id, line.page, line.passage_id, line.citation)),
      // The left context is right-aligned and cut on its left side, so keywords line up.
      el("td", { class: "left", lang: line.standard }, el("span", {}, line.left)),
      el("td", { class: "kw", title: `matched as ${line.match}` }, line.keyword),
      el("td", { class: "right", lang: line.standard }, line.right),
      el("td", { class: "act" }, addButton(line.passage_id, "+")));
    row.lastChild.firstChild.title = "Add the passage to the collection";
    body.append(row);
  }
  table.replaceChildren(head, body);
}

// -- words: frequencies, keyness, collocations -------------------------------------------
function wordsMode() {
  return $("input[name=words-mode]:checked").value;
}

function showWordsOptions() {
  const mode = wordsMode();
  for (const node of $$("#pane-words .for-frequencies")) node.hidden = mode !== "frequencies";
  for (const node of $$("#pane-words .for-collocations")) node.hidden = mode !== "collocations";
  for (const node of $$("#pane-words .for-keyness")) node.hidden = mode !== "keyness";
}

function numberCell(value, digits = 0) {
  return el("td", { class: "num" }, value === null || value === undefined ? "–" : Number(value).toFixed(digits));
}

function lemmaCell(lemma) {
  // A lemma opens its concordance with the same filters.
  const link = el("a", { href: "#", title: `Concordance of ${lemma}` }, lemma);
  link.addEventListener("click", (event) => {
    event.preventDefault();
    $("#q").value = lemma;
    showPane("kwic");
    kwic();
  });
  return el("td", { class: "lemma" }, link);
}

function table(headings, rows) {
  return el("table", { class: "data" },
    el("thead", {}, el("tr", {}, headings.map((h) => el("th", { title: h[1] || undefined }, h[0])))),
    el("tbody", {}, rows));
}

async function words() {
  const mode = wordsMode();
  const params = filterParams();
  params.delete("refs");
  const out = $("#words-out");
  if (mode === "collocations") {
    const q = $("#q").value.trim();
    if (!q) {
      setStatus("#words-status", "Type the word whose neighbours to count.", true);
      return;
    }
    params.set("q", q);
    params.set("window", $("#coll-window").value);
    params.set("measure", $("#coll-measure").value);
  } else if (mode === "frequencies" && $("#freq-by").value) {
    params.set("by", $("#freq-by").value);
    params.set("top", "15");
  } else if (mode === "keyness" && ![...params.keys()].length) {
    setStatus("#words-status", "Keyness compares the plans the filters choose with the rest: choose a filter.", true);
    return;
  } else if (mode === "keyness") {
    // Against other years: the reference is the same filters with these years (in the same sense).
    const lo = $("#key-ref-from").value.trim();
    const hi = $("#key-ref-to").value.trim();
    if (lo || hi) {
      for (const [key, value] of [...params]) params.append(`ref_${key}`, value);
      const mode = $("#year-mode").value;
      params.delete(`ref_${mode === "year" ? "start_year" : "year"}`);
      params.set(`ref_${mode}`, yearRange(lo, hi));
    }
  }
  setStatus("#words-status", "Counting…");
  await run("words", out, async (current) => {
    try {
      const data = await api(`/api/${mode}?${params}`);
      if (!current()) return;
      if (mode === "frequencies") renderFrequencies(data);
      else if (mode === "keyness") renderKeyness(data);
      else renderCollocations(data);
    } catch (error) {
      if (!current()) return;
      out.replaceChildren();
      setStatus("#words-status", error.message, true);
    }
  });
}

function renderFrequencies(data) {
  const groups = data.groups.map((g) => el("div", { class: "freq-group" },
    el("h3", {}, `${g.label} `, el("span", { class: "muted" },
      `${plural(g.documents, "document")}, ${g.words.toLocaleString("nb-NO")} content words`)),
    table([["Lemma"], ["Count"], ["per 10,000", "per 10,000 content words"], ["Docs", "documents using it"]],
      g.lemmas.map((x) => el("tr", {}, lemmaCell(x.lemma), numberCell(x.count), numberCell(x.per_10k, 1),
        numberCell(x.documents))))));
  $("#words-out").replaceChildren(...groups);
  setStatus("#words-status", data.message || "Content words, nynorsk and bokmål folded to one lemma, stop words out.");
}

function renderKeyness(data) {
  const rows = (list) => list.map((k) => el("tr", {}, lemmaCell(k.lemma), numberCell(k.count), numberCell(k.count_ref),
    numberCell(k.per_10k, 1), numberCell(k.per_10k_ref, 1), numberCell(k.g2, 1), numberCell(k.log_ratio, 2)));
  const other = data.against ? "Reference" : "Rest";
  const heads = [["Lemma"], ["Here"], [other], ["per 10,000"], [`${other.toLowerCase()} per 10,000`],
    ["G²", "log-likelihood"], ["log ratio", "log2 of the ratio of the rates"]];
  fill($("#words-out"),
    el("h3", {}, "Typical of the chosen plans"), table(heads, rows(data.keywords)),
    data.negative.length ? el("h3", {}, "Rarer in them") : null,
    data.negative.length ? table(heads, rows(data.negative)) : null);
  setStatus("#words-status", data.message ||
    `${data.subset} (${data.words.toLocaleString("nb-NO")} words) against ${data.reference} ` +
    `(${data.words_ref.toLocaleString("nb-NO")} words)`);
}

function renderCollocations(data) {
  $("#words-out").replaceChildren(table(
    [["Lemma"], ["Together"], ["Before"], ["After"], ["In all"], ["G²"], ["MI"]],
    data.collocates.map((c) => el("tr", {}, lemmaCell(c.lemma), numberCell(c.together), numberCell(c.left),
      numberCell(c.right), numberCell(c.count), numberCell(c.g2, 1), numberCell(c.mi, 2)))));
  setStatus("#words-status", data.message ||
    `${plural(data.occurrences, "occurrence")} of ${data.query}; neighbours within ${data.window} content words`);
}

// -- matrix ------------------------------------------------------------------------------
function matrixParams() {
  const params = filterParams();
  for (const line of $("#matrix-queries").value.split("\n")) {
    if (line.trim()) params.append("row", line.trim());
  }
  for (const box of $$("#matrix-tags input:checked")) params.append("row_tag", box.value);
  for (const box of $$("#matrix-codes input:checked")) params.append("row_code", box.value);
  params.set("by", $("#matrix-by").value);
  params.set("measure", $("#matrix-measure").value);
  const upload = $("#matrix-stats-file").dataset.upload;
  const path = $("#matrix-stats-path").value.trim();
  if (path) params.set("stats_path", path);
  else if (upload) params.set("stats", upload);
  if (path || upload) {
    for (const option of $("#matrix-stat-column").selectedOptions) params.append("stat_column", option.value);
  }
  return params;
}

// A statistics file goes to the server once (as base64 in JSON: the server takes no forms);
// the matrix then names it by the id the server gave it.
async function uploadStatistics() {
  const input = $("#matrix-stats-file");
  const file = input.files[0];
  delete input.dataset.upload;
  $("#matrix-stat-column").replaceChildren();
  $("#matrix-series").hidden = true;
  if (!file) {
    $("#matrix-stats-info").textContent = "";
    return;
  }
  $("#matrix-stats-path").value = "";
  const info = $("#matrix-stats-info");
  info.textContent = `Reading ${file.name}…`;
  info.classList.remove("error");
  info.dataset.state = "loading";
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const data = await post("/api/statistics", { name: file.name, content: btoa(binary) });
    input.dataset.upload = data.id;
    addOptions($("#matrix-stat-column"), data.series.map((label) => ({ value: label, label })));
    for (const option of $("#matrix-stat-column").options) option.selected = data.default.includes(option.value);
    $("#matrix-series").hidden = false;
    info.textContent = `${data.title || data.name}: ${plural(data.municipalities, "municipality", "municipalities")}, ` +
      `${plural(data.series.length, "series", "series")}` + (data.default.length ? "" : " (choose the series)");
    info.dataset.state = "done";
  } catch (error) {
    info.textContent = error.message;
    info.classList.add("error");
    info.dataset.state = "error";
  }
}

async function matrix() {
  const params = matrixParams();
  const out = $("#matrix-out");
  if (!params.has("row") && !params.has("row_tag") && !params.has("row_code")) {
    setStatus("#matrix-status", "Give the rows: queries (one a line), tags or your codes.", true);
    $("#matrix-queries").focus();
    return;
  }
  setStatus("#matrix-status", "Counting…");
  await run("matrix", out, async (current) => {
    try {
      const data = await api(`/api/matrix?${params}`);
      if (!current()) return;
      renderMatrix(data, params);
    } catch (error) {
      if (!current()) return;
      $("#matrix-table").replaceChildren();
      $("#matrix-heatmap").hidden = true;
      $("#matrix-downloads").hidden = true;
      setStatus("#matrix-status", error.message, true);
    }
  });
}

function cellText(data, row, j) {
  const value = row.values[j];
  if (data.measure === "count") return String(row.counts[j]);
  return value === null ? "–" : `${value.toFixed(1)} (${row.counts[j]})`;
}

function renderMatrix(data, params) {
  const columns = data.columns;
  const top = Math.max(0, ...data.rows.flatMap((r) => r.values.filter((v) => v !== null)));
  const head = el("tr", {}, el("th", { class: "label" }, `${data.measure} by ${data.by}`),
    columns.map((c) => el("th", { title: c.documents.join("\n") }, c.label)), el("th", {}, "all"));
  const body = data.rows.map((row) => el("tr", { dataset: { kind: row.kind, row: row.label } },
    el("th", { class: "label", title: row.note || undefined },
      row.kind === "query" ? row.label : `${row.kind}: ${(tags.get(row.label) || {}).label || row.label}`),
    columns.map((c, j) => {
      const v = row.values[j];
      const td = el("td", {
        class: "cell",
        dataset: { count: String(row.counts[j]), column: c.key },
        title: `${row.label} × ${c.label}: ${plural(row.counts[j], "passage")} of ${c.passages}`,
      }, cellText(data, row, j));
      if (v && top) td.style.setProperty("--shade", String(Math.min(1, v / top) * 0.75));
      if (row.kind !== "code" && row.counts[j]) {
        td.classList.add("link");
        td.addEventListener("click", () => openCell(data, row, c));
      }
      return td;
    }),
    el("td", { class: "total" }, data.measure === "count" ? String(row.total_count)
      : `${row.total_value === null ? "–" : row.total_value.toFixed(1)} (${row.total_count})`)));
  const sizes = el("tr", { class: "size" }, el("th", { class: "label" }, "passages in the column"),
    columns.map((c) => el("td", {}, String(c.passages))), el("td", {}, String(columns.reduce((a, c) => a + c.passages, 0))));
  fill($("#matrix-table"), el("thead", {}, head), el("tbody", {}, body, sizes),
    data.statistics.length ? el("tbody", { class: "statistics" }, statisticRows(data)) : null);
  const img = $("#matrix-heatmap");
  img.hidden = !data.heatmap;
  if (data.heatmap) img.src = data.heatmap;
  const downloads = $("#matrix-downloads");
  downloads.replaceChildren("Download: ");
  for (const fmt of ["csv", "png", "html", "json"]) {
    const p = new URLSearchParams(params);
    p.set("format", fmt);
    downloads.append(el("a", { href: `/api/matrix?${p}`, download: "", class: "download", dataset: { format: fmt } },
      fmt.toUpperCase()), " ");
  }
  downloads.hidden = false;
  const left = data.left_out || {};
  const dropped = left.references || left.contents
    ? ` Reference lists and contents pages are left out (${(left.references || 0) + (left.contents || 0)} passages).`
    : "";
  setStatus("#matrix-status", data.message || `${data.definition}${dropped}`);
}

// What the figures are, under what the plans say: one row per series, its value in the
// municipality's column, with the region it came from (a reform's old number) in the tooltip.
function statisticRows(data) {
  const rows = [];
  for (const [i, s] of data.statistics.entries()) {
    if (!i || s.table !== data.statistics[i - 1].table) {
      rows.push(el("tr", { class: "stat-title" }, el("th", { colspan: String(data.columns.length + 2) },
        `Statistics: ${s.table}`)));
    }
    rows.push(el("tr", { dataset: { kind: "statistic", row: s.label } },
      el("th", { class: "label", title: s.path }, s.label),
      data.columns.map((c, j) => {
        const v = s.values[j];
        const text = !v ? "–" : (v.value === null ? (v.status.match(/\(([.:]+)\)$/) || [null, ".."])[1]
          : String(v.value)); // as the counts beside it and the heatmap print numbers
        const title = !v ? `${c.label}: not in the table`
          : [v.source, v.note, v.value === null ? v.status : ""].filter(Boolean).join("\n");
        return el("td", { class: "stat", dataset: { column: c.key, value: v && v.value !== null ? String(v.value) : "" },
          title }, text);
      }),
      el("td", {})));
  }
  return rows;
}

function openCell(data, row, column) {
  // The cell's passages: the row's query or tag with the column as a filter, in Search.
  const filters = data.filters || {};
  clearFilters();
  if (filters.municipality && filters.municipality.length) setSelect($("#kommune"), filters.municipality[0]);
  if (filters.doc_type && filters.doc_type.length) setSelect($("#type"), filters.doc_type[0]);
  if (filters.doc_ids && filters.doc_ids.length) setSelect($("#doc"), filters.doc_ids[0]);
  if (filters.standard) setSelect($("#standard"), filters.standard);
  for (const mode of ["year", "start_year"]) {
    if (!filters[mode]) continue;
    $("#year-mode").value = mode;
    $("#year-from").value = filters[mode][0] || "";
    $("#year-to").value = filters[mode][1] || "";
  }
  if (filters.tags && filters.tags.length) setSelect($("#tag"), filters.tags[0]);
  if (data.by === "municipality") setSelect($("#kommune"), column.kommunenummer || column.label, column.label);
  else if (data.by === "document") setSelect($("#doc"), column.key);
  else if (data.by === "type") setSelect($("#type"), column.key);
  else if (data.by === "year" && /^\d+$/.test(column.key)) {
    $("#year-mode").value = "year";
    $("#year-from").value = column.key;
    $("#year-to").value = column.key;
  }
  $("#q").value = row.kind === "query" ? row.label : "";
  if (row.kind === "tag") setSelect($("#tag"), row.label);
  $("#refs").checked = Boolean(data.include_references);
  $("input[name=group][value=passage]").checked = true;
  showPane("search");
  search();
}

// -- plan structure: units, revisions, commitments ---------------------------------------
function structureMode() {
  return $("input[name=structure-mode]:checked").value;
}

function showStructureOptions() {
  const mode = structureMode();
  for (const node of $$("#pane-structure .for-units")) node.hidden = mode !== "units";
  for (const node of $$("#pane-structure .for-compare")) node.hidden = mode !== "compare";
}

async function structureRun() {
  const mode = structureMode();
  const out = $("#structure-out");
  let url;
  const kind = $("#structure-kind").value;
  if (mode === "units") {
    url = `/api/structure?${new URLSearchParams({ doc: $("#structure-doc").value, ...(kind ? { kind } : {}) })}`;
  } else if (mode === "compare") {
    const params = new URLSearchParams({
      old: $("#compare-old").value, new: $("#compare-new").value, threshold: $("#compare-threshold").value,
    });
    if (kind) params.set("kind", kind);
    if (params.get("old") === params.get("new")) {
      setStatus("#structure-status", "Choose two different plans: the old version and the new.", true);
      return;
    }
    url = `/api/compare?${params}`;
  } else {
    const params = filterParams();
    params.delete("refs");
    const q = $("#q").value.trim();
    if (!q && !params.has("tag")) {
      setStatus("#structure-status", "Type the theme in the search box (e.g. barnefattigdom), or choose a tag.", true);
      $("#q").focus();
      return;
    }
    if (q) params.set("q", q);
    if (kind) params.set("kind", kind);
    url = `/api/commitments?${params}`;
  }
  setStatus("#structure-status", "Reading the plans…");
  await run("structure", out, async (current) => {
    try {
      const data = await api(url);
      if (!current()) return;
      if (mode === "units") renderUnits(data);
      else if (mode === "compare") renderComparison(data);
      else renderCommitments(data);
    } catch (error) {
      if (!current()) return;
      out.replaceChildren();
      setStatus("#structure-status", error.message, true);
    }
  });
}

function unitItem(u, extra) {
  // The unit as the plan words it, what it sits under, who is responsible and when, and its page.
  const attrs = [u.ansvar && `ansvar: ${u.ansvar}`, u.frist && `frist: ${u.frist}`].filter(Boolean);
  const dataset = u.passage_id ? { kind: u.kind, passage: u.passage_id } : { kind: u.kind };
  return el("li", { class: `unit ${u.kind}`, dataset },
    el("span", { class: `chip unit-kind ${u.kind}` }, u.number ? `${u.kind} ${u.number}` : u.kind), " ",
    el("span", { class: "unit-text", lang: "no" }, u.text),
    attrs.length ? el("span", { class: "unit-attrs" }, ` (${attrs.join("; ")})`) : null,
    extra || null,
    el("div", { class: "unit-cite" }, pageLink(u.citation || `s. ${u.page}`, u.doc_id, u.page, u.passage_id),
      u.parent ? el("span", { class: "muted" }, ` · under: ${u.parent}`) : null));
}

function countsText(counts) {
  return Object.entries(counts).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ");
}

function renderUnits(data) {
  const groups = [];
  let place = null;
  let list = null;
  for (const u of data.units) {
    const here = `${u.page} ${u.section}`;
    if (here !== place) {
      list = el("ul", { class: "units" });
      groups.push(el("h3", { class: "unit-place" }, `s. ${u.page}`, u.section ? el("span", { class: "muted" },
        ` § ${u.section}`) : null), list);
      place = here;
    }
    list.append(unitItem(u));
  }
  fill($("#structure-out"), groups);
  const title = data.period && !data.title.includes(data.period) ? `${data.title} (${data.period})` : data.title;
  setStatus("#structure-status", data.units.length
    ? `${data.municipality}, ${title}: ${countsText(data.counts)}`
    : `No goals, strategies or measures found in ${data.doc_id}: read the plan itself.`);
}

function renderComparison(data) {
  const sections = [];
  const titles = { added: "Added in the new version", removed: "Removed (only in the old)", reworded: "Reworded" };
  for (const change of ["added", "removed", "reworded"]) {
    const items = data.changes.filter((c) => c.change === change);
    if (!items.length) continue;
    sections.push(el("h3", {}, `${titles[change]} `, el("span", { class: "muted" }, String(items.length))),
      el("ul", { class: `units ${change}` }, items.map((c) => {
        if (change === "reworded") {
          return el("li", { class: "change reworded", dataset: { change } },
            el("p", { class: "muted" }, `${c.kind}, overlap ${c.similarity.toFixed(2)}`),
            el("ul", { class: "units" }, unitItem(c.old, el("span", { class: "muted" }, " (old)")),
              unitItem(c.new, el("span", { class: "muted" }, " (new)"))));
        }
        const li = unitItem(change === "added" ? c.new : c.old);
        li.dataset.change = change;
        return li;
      })));
  }
  fill($("#structure-out"), sections);
  const counts = Object.entries(data.counts).map(([kind, c]) =>
    `${kind}: ${c.added} added, ${c.removed} removed, ${c.reworded} reworded, ${c.unchanged} unchanged`);
  setStatus("#structure-status", data.changes.length
    ? `${docLabel(data.old)} → ${docLabel(data.new)} · ${counts.join(" · ")}`
    : "No goals, strategies or measures found in either plan.");
}

function renderCommitments(data) {
  const plans = data.plans.map((p) => {
    const title = p.period && !p.title.includes(p.period) ? `${p.title} (${p.period})` : p.title;
    return el("section", { class: "plan-commitments", dataset: { doc: p.doc_id } },
      el("h3", {}, `${p.municipality}, ${title} `, el("span", { class: "muted" }, countsText(p.counts))),
      el("ul", { class: "units" }, p.commitments.map((c) => unitItem(c, c.matched.length
        ? el("span", { class: "muted matched" }, ` — on the theme: ${c.matched.join(", ")}`) : null))));
  });
  const none = data.without.length ? [el("h3", {}, "State goals or measures, none on the theme"),
    el("ul", { class: "plain-list" }, data.without.map((p) => el("li", { dataset: { doc: p.doc_id } },
      `${p.municipality}, ${p.title} `, el("span", { class: "muted" }, `(${plural(p.units, "unit")})`))))] : [];
  const missing = data.no_units.length ? [el("h3", {}, "No goals or measures found (read them yourself)"),
    el("ul", { class: "plain-list" }, data.no_units.map((d) => el("li", {}, `${d.municipality}, ${d.title}`)))] : [];
  fill($("#structure-out"), plans, none, missing);
  const n = data.plans.reduce((a, p) => a + p.commitments.length, 0);
  setStatus("#structure-status", data.plans.length
    ? `${data.theme}: ${plural(n, "goal or measure", "goals and measures")} in ${plural(data.plans.length, "plan")}; ` +
      `${plural(data.without.length, "plan")} state none on it`
    : data.message || "No plan states a goal or measure on the theme.");
}

// -- collections and codes ---------------------------------------------------------------
async function loadCollections() {
  const data = await api("/api/collections");
  const list = $("#collection-names");
  list.replaceChildren(...data.collections.map((c) => el("option", { value: c.name })));
  showCollectionSize(data.collections);
  return data.collections;
}

function showCollectionSize(collections) {
  const name = $("#collection").value.trim();
  const found = collections.find((c) => c.name === name);
  $("#collection-status").textContent = found
    ? plural(found.passages, "passage")
    : (name ? "new collection" : "");
}

async function collect(passageId, button) {
  const nameInput = $("#collection");
  const name = nameInput.value.trim();
  const statusId = { kwic: "#kwic-status", review: "#review-status" }[activePane()] || "#status";
  if (!name) {
    setStatus(statusId, "Type a collection name first (top right).", true);
    nameInput.focus();
    return;
  }
  button.disabled = true;
  try {
    const data = await post("/api/collect", { collection: name, passage_id: passageId });
    button.textContent = button.textContent === "+" ? "✓" : `Added to “${data.collection}”`;
    button.classList.add("added");
    await loadCollections();
  } catch (error) {
    button.disabled = false;
    setStatus(statusId, error.message, true);
  }
}

async function loadCodes() {
  const data = await api("/api/codes");
  knownCodes = data.codes;
  $("#code-names").replaceChildren(...knownCodes.map((c) => el("option", { value: c.name })));
  // The matrix offers the codes as rows; ticks survive a reload of the list.
  const ticked = new Set($$("#matrix-codes input:checked").map((b) => b.value));
  const boxes = knownCodes.filter((c) => c.passages).map((c) => el("label", { class: "check code" },
    el("input", { type: "checkbox", value: c.name, checked: ticked.has(c.name) }), ` ${c.name}`));
  $("#matrix-codes").replaceChildren(...(boxes.length ? boxes : [el("span", { class: "muted" }, "none yet")]));
  return data;
}

async function loadCollectionsPane() {
  try {
    const [collections, codes] = await Promise.all([loadCollections(), loadCodes()]);
    renderCollectionList(collections);
    renderCodes(codes.codes);
    const wanted = openCollection || $("#collection").value.trim();
    if (wanted && collections.some((c) => c.name === wanted)) await showCollection(wanted);
  } catch (error) {
    setStatus("#code-status", error.message, true);
  }
}

function renderCollectionList(collections) {
  const list = $("#collection-list");
  if (!collections.length) {
    list.replaceChildren(el("li", { class: "muted" }, "none yet"));
    return;
  }
  list.replaceChildren(...collections.map((c) => {
    const button = el("button", { type: "button", class: "link-button", dataset: { name: c.name } },
      c.name, el("span", { class: "muted" }, ` ${plural(c.passages, "passage")}`));
    button.addEventListener("click", () => showCollection(c.name));
    return el("li", { class: c.name === openCollection ? "open" : "" }, button);
  }));
}

function renderCodes(codes) {
  const list = $("#code-list");
  if (!codes.length) {
    list.replaceChildren(el("li", { class: "muted" }, "none yet: code a saved passage"));
    return;
  }
  list.replaceChildren(...codes.map((c) => {
    const where = Object.entries(c.collections).map(([n, k]) => `${n}: ${k}`).join(", ");
    const edit = el("button", { type: "button", class: "small secondary", title: "Rename, merge or move" }, "edit");
    edit.addEventListener("click", () => openCodeForm(c.name));
    const li = el("li", { dataset: { code: c.name } },
      el("span", { class: "code-name" }, c.name), " ",
      el("span", { class: "muted", title: where }, `${c.passages}`), " ", edit);
    li.style.paddingLeft = `${c.depth * 1.1}rem`; // CSSOM: the CSP allows no style attributes
    return li;
  }));
}

function openCodeForm(code) {
  const form = $("#code-form");
  form.dataset.code = code;
  $("#code-form-title").textContent = `Code “${code}”`;
  $("#code-target").value = "";
  form.hidden = false;
  $("#code-target").focus();
}

async function changeCode(event) {
  event.preventDefault();
  const form = $("#code-form");
  const action = $("#code-action").value;
  const target = $("#code-target").value.trim();
  if (!target && action !== "parent") {
    setStatus("#code-status", "Type the code's new name, or the code to merge into.", true);
    return;
  }
  try {
    const data = await post("/api/codes", { action, code: form.dataset.code, to: target || null });
    form.hidden = true;
    setStatus("#code-status", data.changed);
    await loadCollectionsPane();
  } catch (error) {
    setStatus("#code-status", error.message, true);
  }
}

async function showCollection(name) {
  const view = $("#collection-view");
  view.dataset.state = "loading";
  try {
    const col = await api(`/api/collections?${new URLSearchParams({ name })}`);
    openCollection = name;
    $("#collection").value = name; // "Add to collection" now adds here
    localStorage.setItem("plansok.collection", name);
    for (const li of $$("#collection-list li")) {
      li.classList.toggle("open", li.querySelector("button")?.dataset.name === name);
    }
    renderCollection(col);
    view.dataset.state = "done";
  } catch (error) {
    view.dataset.state = "error";
    setStatus("#code-status", error.message, true);
  }
}

function savedNote() {
  return el("span", { class: "saved muted", "aria-live": "polite" });
}

async function save(note, work) {
  note.textContent = "saving…";
  note.classList.remove("error");
  try {
    await work();
    note.textContent = "saved";
  } catch (error) {
    note.textContent = error.message;
    note.classList.add("error");
  }
}

function renderCollection(col) {
  const exports = el("p", { class: "downloads" }, "Export: ");
  for (const [fmt, label, title] of [
    ["qdpx", "REFI-QDA (.qdpx)", "NVivo, ATLAS.ti, MAXQDA, QualCoder: sources, codes, quotes and memos"],
    ["csv", "CSV"], ["xlsx", "Excel"], ["md", "Markdown", "a chain of evidence: memo, codes, quotes, citations"],
    ["docx", "Word", "a chain of evidence: memo, codes, quotes, citations"], ["bibtex", "BibTeX"], ["ris", "RIS"],
    ["qdc", "codebook (.qdc)", "plansok's tags and your codes as a REFI-QDA codebook"]]) {
    const p = new URLSearchParams({ format: fmt });
    if (fmt !== "qdc") p.set("collection", col.name);
    exports.append(el("a", { href: `/api/export?${p}`, download: "", class: "download", title, dataset: { format: fmt } },
      label), " ");
  }
  const memo = el("textarea", { id: "collection-memo", rows: "3", placeholder: "What this collection is for, what you found…" });
  memo.value = col.memo || "";
  const memoNote = savedNote();
  const memoSave = el("button", { type: "button", id: "collection-memo-save" }, "Save memo");
  memoSave.addEventListener("click", () => save(memoNote,
    () => post("/api/collection", { collection: col.name, memo: memo.value })));
  const queries = col.queries.length
    ? el("p", { class: "muted" }, `Queries: ${col.queries.map((q) => q.query).join("; ")}`) : null;
  const items = el("ol", { class: "items" }, col.items.map((item) => renderItem(col.name, item)));
  fill($("#collection-view"),
    el("h2", {}, col.name, el("span", { class: "muted" }, ` ${plural(col.items.length, "passage")}`)),
    exports,
    el("label", { class: "memo", for: "collection-memo" }, "Collection memo"), memo,
    el("div", { class: "row" }, memoSave, memoNote),
    queries,
    col.items.length ? items : el("p", { class: "muted" }, "No passages yet: add some from Search or Concordance."));
}

function renderItem(name, item) {
  const li = el("li", { class: "item", dataset: { item: String(item.id), passage: item.passage_id } });
  const text = el("p", { class: "quote" });
  text.innerHTML = item.text_html; // escaped by the server
  const status = item.status !== "current"
    ? el("p", { class: "note" }, {
      moved: `The document was read again; the passage is now ${item.now ? item.now.passage_id : "elsewhere"}.`,
      changed: "The document changed since this passage was saved; check the quote.",
      vanished: "The passage is no longer in the index.",
    }[item.status] || item.status) : null;
  const codes = el("div", { class: "codes chips" });
  const itemNote = savedNote();
  const setCodes = (list) => {
    codes.replaceChildren(...list.map((c) => {
      const remove = el("button", { type: "button", class: "chip-x", title: `Remove code ${c}`, "aria-label": `Remove code ${c}` }, "×");
      remove.addEventListener("click", () => save(itemNote, async () => {
        const data = await post("/api/item", { collection: name, item: String(item.id), remove_codes: [c] });
        setCodes(data.codes);
        loadCodes().then((d) => renderCodes(d.codes)).catch(() => {});
      }));
      return el("span", { class: "chip code", dataset: { code: c } }, c, remove);
    }));
  };
  setCodes(item.codes);
  const codeInput = el("input", { class: "code-input", list: "code-names", placeholder: "add a code", maxlength: "80" });
  const addCode = el("button", { type: "button", class: "secondary small code-add" }, "Code");
  const doCode = () => {
    const code = codeInput.value.trim();
    if (!code) return;
    save(itemNote, async () => {
      const data = await post("/api/item", { collection: name, item: String(item.id), add_codes: [code] });
      setCodes(data.codes);
      codeInput.value = "";
      const codesData = await loadCodes();
      renderCodes(codesData.codes);
    });
  };
  addCode.addEventListener("click", doCode);
  codeInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      doCode();
    }
  });
  const memo = el("textarea", { class: "item-memo", rows: "2", placeholder: "memo on this passage" });
  memo.value = item.memo || "";
  const memoSave = el("button", { type: "button", class: "secondary small memo-save" }, "Save memo");
  memoSave.addEventListener("click", () => save(itemNote,
    () => post("/api/item", { collection: name, item: String(item.id), memo: memo.value })));
  const remove = el("button", { type: "button", class: "secondary small remove" }, "Remove from collection");
  remove.addEventListener("click", async () => {
    await save(itemNote, () => post("/api/item", { collection: name, item: String(item.id), remove: true }));
    await loadCollectionsPane();
  });
  li.append(...present([
    el("div", { class: "head" }, pageLink(item.citation, item.doc_id, item.page_start, item.passage_id)),
    status, text, tagChips(item.tags), evidenceLine(item.tags),
    el("div", { class: "row" }, codes, codeInput, addCode),
    memo,
    el("div", { class: "row" }, memoSave, remove, itemNote)]));
  return li;
}

// -- review ------------------------------------------------------------------------------
function showDecisions(data) {
  $("#review-count").textContent = `${plural(data.decisions, "decision")} saved` +
    (data.decisions ? ` (${data.accepted} accepted, ${data.rejected} rejected)` : "") +
    " for the next training";
  $("#review-count").dataset.decisions = String(data.decisions);
}

async function nextReview(reload = false) {
  const card = $("#review-card");
  if (reload) {
    review.queue = [];
    review.skipped.clear();
  }
  if (!review.queue.length) {
    card.dataset.state = "loading";
    setStatus("#review-status", "Finding the least certain tags…");
    const params = new URLSearchParams({ n: String(10 + review.skipped.size) });
    if ($("#review-tag").value) params.set("tag", $("#review-tag").value);
    try {
      const data = await api(`/api/review?${params}`);
      showDecisions(data);
      review.queue = data.items.filter((i) => !review.skipped.has(`${i.passage_id} ${i.tag}`));
    } catch (error) {
      card.dataset.state = "error";
      setStatus("#review-status", error.message, true);
      return;
    }
  }
  review.current = review.queue.shift() || null;
  renderReview(review.current);
  card.dataset.state = "done";
}

function renderReview(item) {
  const card = $("#review-card");
  if (!item) {
    card.hidden = true;
    setStatus("#review-status", "Nothing left to review here.");
    return;
  }
  setStatus("#review-status", "");
  const info = tags.get(item.tag) || { label: item.label, kind: item.kind, description: "" };
  const text = el("p", { class: "quote", lang: "no" });
  text.innerHTML = item.text_html; // escaped by the server
  const button = (label, key, cls, handler) => {
    const b = el("button", { type: "button", class: cls, title: `key ${key}` }, label);
    b.addEventListener("click", handler);
    return b;
  };
  card.dataset.passage = item.passage_id;
  card.dataset.tag = item.tag;
  fill(card,
    el("p", { class: "question" }, "Is this passage about ",
      el("span", { class: `chip ${info.kind}` }, info.label), "?",
      el("span", { class: "muted" }, ` confidence ${Number(item.confidence).toFixed(2)}`)),
    info.description ? el("p", { class: "muted description" }, info.description) : null,
    el("p", { class: "head" }, pageLink(item.citation, item.doc_id, item.page, item.passage_id)),
    text,
    item.evidence.length ? el("p", { class: "evidence" }, "evidence — ", item.evidence.join(", ")) : null,
    el("div", { class: "row decide" },
      button("Accept", "a", "accept", () => decide(true)),
      button("Reject", "r", "reject", () => decide(false)),
      button("Skip", "s", "secondary skip", skipReview),
      addButton(item.passage_id)));
  card.hidden = false;
}

async function decide(accept) {
  const item = review.current;
  if (!item) return;
  const card = $("#review-card");
  card.dataset.state = "loading";
  for (const b of card.querySelectorAll(".decide button")) b.disabled = true;
  try {
    const data = await post("/api/review", { passage_id: item.passage_id, tag: item.tag, accept });
    showDecisions(data);
    review.current = null;
    await nextReview();
  } catch (error) {
    card.dataset.state = "error";
    for (const b of card.querySelectorAll(".decide button")) b.disabled = false;
    setStatus("#review-status", error.message, true);
  }
}

function skipReview() {
  if (!review.current) return;
  review.skipped.add(`${review.current.passage_id} ${review.current.tag}`);
  review.current = null;
  nextReview();
}

// -- page view ---------------------------------------------------------------------------
async function openPage(doc, page, passage) {
  const view = $("#page-view");
  view.dataset.state = "loading";
  try {
    const params = new URLSearchParams({ doc, page: String(page) });
    if (passage) params.set("passage", passage);
    const data = await api(`/api/page?${params}`);
    currentPage = { doc, page: data.page, passage, n_pages: data.n_pages };
    $("#page-title").textContent = `${data.municipality}, ${data.title}`;
    const label = data.label && data.label !== String(data.page) ? ` (printed ${data.label})` : "";
    const section = data.passage && data.passage.section ? ` · ${data.passage.section}` : "";
    $("#page-meta").textContent = `Page ${data.page} of ${data.n_pages}${label}${section}`;
    const chips = data.passage ? tagChips(data.passage.tags) : null;
    $("#page-tags").replaceChildren(...(chips ? chips.children : []));
    const note = $("#page-note");
    note.hidden = true;
    if (data.source === "empty") {
      note.textContent = "No readable text on this page (a scan read without OCR, or a blank page).";
      note.hidden = false;
    } else if (data.passage && !data.passage.span) {
      note.textContent = `The passage could not be placed on the page; it reads: ${data.passage.text}`;
      note.hidden = false;
    } else if (data.source === "ocr") {
      note.textContent = "This page was read by OCR; check quotes against the source.";
      note.hidden = false;
    }
    const text = $("#page-text");
    text.lang = data.standard === "nn" ? "nn" : "nb";
    text.innerHTML = data.html; // escaped by the server
    $("#page-prev").disabled = data.page <= 1;
    $("#page-next").disabled = data.page >= data.n_pages;
    view.hidden = false;
    document.body.classList.add("page-open");
    for (const hit of $$(".current")) hit.classList.remove("current");
    if (passage) {
      for (const node of $$(`[data-passage="${CSS.escape(passage)}"]`)) {
        if (node.matches(".hit, .item, tr")) node.classList.add("current");
      }
    }
    // Scroll the pane, not the window: the results stay where the researcher left them.
    text.scrollTop = 0;
    const mark = text.querySelector("mark.passage");
    if (mark) text.scrollTop = Math.max(0, mark.getBoundingClientRect().top - text.getBoundingClientRect().top - 40);
    view.dataset.state = "done";
  } catch (error) {
    view.dataset.state = "error";
    setStatus("#status", error.message, true);
  }
}

function closePage() {
  $("#page-view").hidden = true;
  document.body.classList.remove("page-open");
  currentPage = null;
}

function turnPage(delta) {
  if (!currentPage) return;
  const page = currentPage.page + delta;
  if (page >= 1 && page <= currentPage.n_pages) openPage(currentPage.doc, page, currentPage.passage);
}

// -- start -------------------------------------------------------------------------------
function runActive() {
  const pane = activePane();
  if (pane === "kwic") kwic();
  else if (pane === "words") words();
  else if (pane === "matrix") matrix();
  else if (pane === "structure") structureRun();
  else search();
}

function typingIn(target) {
  return target.closest("input, textarea, select, [contenteditable]");
}

async function start() {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (activePane() === "collections" || activePane() === "review") showPane("search");
    runActive();
  });
  for (const tab of $$(".tabs [role=tab]")) {
    tab.addEventListener("click", () => showPane(tab.dataset.pane));
  }
  $(".tabs").addEventListener("keydown", (event) => {
    // Arrow keys move between tabs, as in any tab list.
    const i = PANES.indexOf(activePane());
    if (event.key === "ArrowRight") showPane(PANES[(i + 1) % PANES.length], { focus: true });
    if (event.key === "ArrowLeft") showPane(PANES[(i + PANES.length - 1) % PANES.length], { focus: true });
  });
  for (const radio of $$("input[name=group]")) radio.addEventListener("change", () => $("#q").value.trim() || $("#tag").value ? search() : null);
  $("#k").addEventListener("change", () => ($("#results").children.length ? search() : null));
  $("#kwic-sort").addEventListener("change", () => ($("#q").value.trim() ? kwic() : null));
  $("#kwic-width").addEventListener("change", () => ($("#q").value.trim() ? kwic() : null));
  for (const radio of $$("input[name=words-mode]")) radio.addEventListener("change", showWordsOptions);
  showWordsOptions();
  $("#words-run").addEventListener("click", words);
  $("#matrix-form").addEventListener("submit", (event) => {
    event.preventDefault();
    matrix();
  });
  $("#matrix-stats-file").addEventListener("change", uploadStatistics);
  $("#matrix-stats-path").addEventListener("input", () => {
    // A path replaces an upload; its series are the latest period's unless the table needs a choice.
    const input = $("#matrix-stats-file");
    input.value = "";
    delete input.dataset.upload;
    $("#matrix-stat-column").replaceChildren();
    $("#matrix-series").hidden = true;
    $("#matrix-stats-info").classList.remove("error");
    $("#matrix-stats-info").textContent = $("#matrix-stats-path").value.trim()
      ? "The server reads the file when the matrix is built." : "";
  });
  for (const radio of $$("input[name=structure-mode]")) radio.addEventListener("change", showStructureOptions);
  showStructureOptions();
  $("#structure-run").addEventListener("click", structureRun);
  $("#code-form").addEventListener("submit", changeCode);
  $("#code-cancel").addEventListener("click", () => { $("#code-form").hidden = true; });
  $("#review-tag").addEventListener("change", () => nextReview(true));
  $("#page-close").addEventListener("click", closePage);
  $("#page-prev").addEventListener("click", () => turnPage(-1));
  $("#page-next").addEventListener("click", () => turnPage(1));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#page-view").hidden) closePage();
    if (activePane() === "review" && review.current && !typingIn(event.target) && !event.ctrlKey && !event.metaKey) {
      if (event.key === "a") decide(true);
      else if (event.key === "r") decide(false);
      else if (event.key === "s") skipReview();
    }
  });
  const nameInput = $("#collection");
  nameInput.value = localStorage.getItem("plansok.collection") || "";
  nameInput.addEventListener("input", () => {
    localStorage.setItem("plansok.collection", nameInput.value.trim());
    loadCollections().catch(() => {});
  });
  try {
    await Promise.all([loadFilters(), loadCollections()]);
  } catch (error) {
    setStatus("#status", `Could not load the index: ${error.message}`, true);
    return;
  }
  const params = new URLSearchParams(location.search);
  fillForm(params);
  showPane(params.get("tab") || "search");
  document.body.dataset.ready = "true";
  if (params.has("q") || params.has("tag")) {
    if (["search", "kwic"].includes(activePane())) runActive();
  }
}

document.addEventListener("DOMContentLoaded", start);
