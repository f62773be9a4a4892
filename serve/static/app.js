// The plansok search page. Plain JS, same-origin requests only: nothing leaves the machine.
// Text from the index is put in with textContent; the only HTML taken from the server is the
// highlighted snippet/page, which the server escapes (its offsets count code points, not UTF-16).
"use strict";

const $ = (selector) => document.querySelector(selector);
const tags = new Map(); // tag id -> {label, kind}
let searchSeq = 0;
let currentPage = null; // {doc, page, passage, n_pages}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== undefined && child !== null) node.append(child);
  }
  return node;
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

function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

// -- filters -----------------------------------------------------------------------------
function addOptions(select, items) {
  for (const { value, label } of items) select.append(el("option", { value }, label));
}

async function loadFilters() {
  const [docs, tagList] = await Promise.all([api("/api/docs"), api("/api/tags")]);
  const n = docs.documents.length;
  $("#index-info").textContent = `${n} document${n === 1 ? "" : "s"}` +
    (docs.years ? `, ${docs.years[0]}–${docs.years[1]}` : "");
  addOptions($("#kommune"), docs.municipalities.map((m) => ({
    value: m.name, label: m.kommunenummer ? `${m.name} (${m.kommunenummer})` : m.name,
  })));
  addOptions($("#type"), docs.doc_types.map((t) => ({ value: t, label: t })));
  const standardNames = { nb: "bokmål", nn: "nynorsk" };
  addOptions($("#standard"), docs.standards.map((s) => ({ value: s, label: standardNames[s] || s })));
  const tagSelect = $("#tag");
  for (const kind of ["theme", "theory"]) {
    const group = el("optgroup", { label: kind === "theme" ? "Themes" : "Theories" });
    for (const t of tagList.tags.filter((x) => x.kind === kind)) {
      tags.set(t.id, t);
      group.append(el("option", { value: t.id, title: t.description || undefined }, t.label));
    }
    if (group.children.length) tagSelect.append(group);
  }
}

async function loadCollections() {
  const data = await api("/api/collections");
  const list = $("#collection-names");
  list.replaceChildren(...data.collections.map((c) => el("option", { value: c.name })));
  showCollectionSize(data.collections);
}

function showCollectionSize(collections) {
  const name = $("#collection").value.trim();
  const found = collections.find((c) => c.name === name);
  $("#collection-status").textContent = found
    ? `${found.passages} passage${found.passages === 1 ? "" : "s"}`
    : (name ? "new collection" : "");
}

// -- search ------------------------------------------------------------------------------
function searchParams() {
  const params = new URLSearchParams();
  const q = $("#q").value.trim();
  if (q) params.set("q", q);
  for (const name of ["kommune", "type", "standard", "tag"]) {
    const value = $(`#${name}`).value;
    if (value) params.set(name, value);
  }
  const lo = $("#year-from").value.trim();
  const hi = $("#year-to").value.trim();
  if (lo || hi) params.set("year", lo && hi ? `${lo}-${hi}` : (lo ? `${lo}-` : `-${hi}`));
  params.set("k", $("#k").value);
  return params;
}

function fillForm(params) {
  $("#q").value = params.get("q") || "";
  for (const name of ["kommune", "type", "standard", "tag", "k"]) {
    if (params.has(name)) $(`#${name}`).value = params.get(name);
  }
  const [lo, hi] = (params.get("year") || "").split("-");
  $("#year-from").value = lo || "";
  $("#year-to").value = hi || "";
}

async function search() {
  const params = searchParams();
  const results = $("#results");
  if (!params.has("q") && !params.has("tag")) {
    setStatus("Type a query, or choose a tag.", true);
    $("#q").focus();
    return;
  }
  const seq = ++searchSeq;
  results.dataset.state = "loading";
  setStatus("Searching…");
  history.replaceState(null, "", `?${params}`);
  try {
    const data = await api(`/api/search?${params}`);
    if (seq !== searchSeq) return; // a newer search was started meanwhile
    renderHits(data.hits);
    setStatus(data.count ? `${data.count} passage${data.count === 1 ? "" : "s"}` : data.message || "No passages found.");
  } catch (error) {
    if (seq !== searchSeq) return;
    results.replaceChildren();
    setStatus(error.message, true);
  } finally {
    if (seq === searchSeq) {
      results.dataset.state = "done";
      results.dataset.seq = String(seq);
    }
  }
}

function renderHits(hits) {
  $("#results").replaceChildren(...hits.map(renderHit));
}

function renderHit(hit) {
  const item = el("li", {
    class: "hit",
    dataset: { passage: hit.passage_id, doc: hit.doc_id, page: String(hit.page) },
  });
  const cite = el("a", { href: `#${hit.passage_id}`, class: "cite", title: "Read the page" }, hit.citation);
  const meta = [hit.doc_type, hit.standard === "nn" ? "nynorsk" : "bokmål", `score ${hit.score.toFixed(2)}`];
  if (hit.source === "ocr") meta.push("OCR text");
  const snippet = el("p", { class: "snippet", lang: hit.standard === "nn" ? "nn" : "nb" });
  snippet.innerHTML = hit.snippet_html; // escaped by the server
  const chips = el("div", { class: "chips" });
  for (const t of hit.tags || []) {
    const info = tags.get(t.tag) || { label: t.tag, kind: "theme" };
    const evidence = (t.evidence || []).slice(0, 6).join(", ");
    chips.append(el("span", {
      class: `chip ${info.kind}`,
      title: `${info.kind}: ${info.label} (${t.source}, confidence ${t.confidence})${evidence ? `\n${evidence}` : ""}`,
    }, info.label));
  }
  const add = el("button", { type: "button", class: "add" }, "Add to collection");
  add.addEventListener("click", (event) => {
    event.stopPropagation();
    collect(hit.passage_id, add);
  });
  const actions = el("div", { class: "actions" }, add);
  if (hit.also_in && hit.also_in.length) {
    // Each folded copy names its document (a municipality has many plans) and opens its page.
    const also = el("span", { class: "muted also" }, "also in: ");
    hit.also_in.slice(0, 4).forEach((a, i) => {
      const title = a.title || a.doc_id;
      const period = a.period && !title.includes(a.period) ? ` (${a.period})` : "";
      const name = [a.municipality, `${title}${period}`, `s. ${a.page}`].filter(Boolean).join(", ");
      const link = el("a", { href: `#${a.passage_id}`, title: `${a.doc_id} · ${a.passage_id}`, dataset: { doc: a.doc_id } }, name);
      link.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        openPage(a.doc_id, a.page, a.passage_id);
      });
      also.append(i ? "; " : "", link);
    });
    if (hit.also_in.length > 4) also.append(` and ${hit.also_in.length - 4} more`);
    actions.append(also);
  }
  if (hit.source_url) {
    // A plain link: followed only if the researcher clicks it; no referrer is sent.
    actions.append(el("a", { href: hit.source_url, rel: "noreferrer noopener", target: "_blank" }, "source"));
  }
  item.append(
    el("div", { class: "head" }, `${hit.rank}. `, cite),
    el("div", { class: "meta" }, meta.join(" · ")),
    snippet,
    chips.children.length ? chips : null,
    actions,
  );
  cite.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    openPage(hit.doc_id, hit.page, hit.passage_id);
  });
  item.addEventListener("click", (event) => {
    if (event.target.closest("a, button") || String(window.getSelection())) return; // let text be selected
    openPage(hit.doc_id, hit.page, hit.passage_id);
  });
  return item;
}

// -- collections -------------------------------------------------------------------------
async function collect(passageId, button) {
  const nameInput = $("#collection");
  const name = nameInput.value.trim();
  if (!name) {
    setStatus("Type a collection name first (top right).", true);
    nameInput.focus();
    return;
  }
  button.disabled = true;
  try {
    const data = await api("/api/collect", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ collection: name, passage_id: passageId }),
    });
    button.textContent = `Added to “${data.collection}”`;
    button.classList.add("added");
    await loadCollections();
  } catch (error) {
    button.disabled = false;
    setStatus(error.message, true);
  }
}

// -- page view ---------------------------------------------------------------------------
async function openPage(doc, page, passage) {
  const params = new URLSearchParams({ doc, page: String(page) });
  if (passage) params.set("passage", passage);
  const view = $("#page-view");
  view.dataset.state = "loading";
  try {
    const data = await api(`/api/page?${params}`);
    currentPage = { doc, page: data.page, passage, n_pages: data.n_pages };
    $("#page-title").textContent = `${data.municipality}, ${data.title}`;
    const label = data.label && data.label !== String(data.page) ? ` (printed ${data.label})` : "";
    const section = data.passage && data.passage.section ? ` · ${data.passage.section}` : "";
    $("#page-meta").textContent = `Page ${data.page} of ${data.n_pages}${label}${section}`;
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
    for (const hit of document.querySelectorAll(".hit.current")) hit.classList.remove("current");
    const current = passage && document.querySelector(`.hit[data-passage="${CSS.escape(passage)}"]`);
    if (current) current.classList.add("current");
    // Scroll the pane, not the window: the results stay where the researcher left them.
    text.scrollTop = 0;
    const mark = text.querySelector("mark.passage");
    if (mark) text.scrollTop = Math.max(0, mark.getBoundingClientRect().top - text.getBoundingClientRect().top - 40);
    view.dataset.state = "done";
  } catch (error) {
    view.dataset.state = "error";
    setStatus(error.message, true);
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
async function start() {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  $("#page-close").addEventListener("click", closePage);
  $("#page-prev").addEventListener("click", () => turnPage(-1));
  $("#page-next").addEventListener("click", () => turnPage(1));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !$("#page-view").hidden) closePage();
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
    setStatus(`Could not load the index: ${error.message}`, true);
    return;
  }
  document.body.dataset.ready = "true";
  const params = new URLSearchParams(location.search);
  if (params.has("q") || params.has("tag")) {
    fillForm(params);
    search();
  }
}

document.addEventListener("DOMContentLoaded", start);
