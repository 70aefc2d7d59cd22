// The task page: everything goes through the REST API (docs/API.md) with a short-lived Bearer token
// that the signed-in session trades for at GET /auth/session-token. The token is kept in this
// module's memory only, never in localStorage or a cookie, and fetched again before it expires or
// when the API answers 401.

const config = JSON.parse(document.getElementById("web-config").textContent);
const PAGE_SIZE = 100;
const UNDO_MILLISECONDS = 6000;
const SEARCH_DELAY_MILLISECONDS = 250;
const PRIORITY_LABELS = { none: "No priority", low: "Low priority", medium: "Medium priority", high: "High priority" };

// --- Errors ------------------------------------------------------------------------------------

/** An API failure, carrying the problem+json body's words (docs/API.md §2). */
class ApiError extends Error {
  constructor(status, code, detail, { errors = null, requestId = "" } = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.errors = errors;
    this.requestId = requestId;
  }

  /** What to tell the user: the server's detail, plus the request id when it is our fault. */
  get message() {
    if (this.status >= 500 && this.requestId) return `${this.detail} (Request id: ${this.requestId}.)`;
    return this.detail;
  }
}

function networkError() {
  return new ApiError(0, "network_error", "Could not reach the server. Check your connection and try again.");
}

async function problemFrom(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON (a proxy's error page, say): fall back to the status line below.
  }
  const requestId = (body && body.request_id) || response.headers.get("X-Request-ID") || "";
  const detail =
    (body && typeof body.detail === "string" && body.detail) ||
    `The server answered ${response.status} ${response.statusText || ""}`.trim() + ".";
  return new ApiError(response.status, (body && body.code) || "error", detail, {
    errors: body && body.errors,
    requestId,
  });
}

// --- The session's Bearer token ----------------------------------------------------------------

const auth = {
  token: null,
  renewAt: 0,
  pending: null,

  /** A token good for a while yet; one request at a time fetches a new one. */
  async get({ fresh = false } = {}) {
    if (!fresh && this.token && Date.now() < this.renewAt) return this.token;
    if (!this.pending) {
      this.pending = this.fetchNew().finally(() => {
        this.pending = null;
      });
    }
    return this.pending;
  },

  async fetchNew() {
    this.token = null;
    let response;
    try {
      response = await fetch(config.tokenUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch {
      throw networkError();
    }
    if (!response.ok) {
      const error = await problemFrom(response);
      if (response.status === 401) sessionEnded(error);
      throw error;
    }
    const body = await response.json();
    const lifetime = body.expires_in * 1000;
    this.token = body.token;
    // Renew early, so that no request leaves with a token about to expire on the way.
    this.renewAt = Date.now() + Math.min(lifetime * 0.8, Math.max(lifetime - 60_000, 0));
    return this.token;
  },

  /** The current token if it is still usable without asking the server (for pagehide). */
  peek() {
    return this.token && Date.now() < this.renewAt ? this.token : null;
  },
};

let sessionEndedShown = false;

function sessionEnded(error) {
  if (sessionEndedShown) return;
  sessionEndedShown = true;
  const next = encodeURIComponent(location.pathname + location.search);
  const link = el("a", { href: `${config.loginUrl}?next=${next}` }, "Sign in again");
  showAlert(error.detail || "Your session has ended.", link);
  document.body.classList.add("session-ended");
}

// --- The API client ----------------------------------------------------------------------------

async function api(method, path, { body, headers = {}, signal, retry = true } = {}) {
  const token = await auth.get();
  const init = {
    method,
    signal,
    credentials: "omit", // the API takes the Bearer token only; no cookie goes with it
    cache: "no-store",
    headers: { Accept: "application/json", Authorization: `Bearer ${token}`, ...headers },
  };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw networkError();
  }
  if (response.status === 401 && retry) {
    // Expired or refused: fetch a new token from the session once, and try again with it.
    await auth.get({ fresh: true });
    return api(method, path, { body, headers, signal, retry: false });
  }
  if (!response.ok) throw await problemFrom(response);
  return response;
}

const tasksUrl = `${config.apiBase}/tasks/`;
const taskUrl = (id) => `${config.apiBase}/tasks/${id}/`;

function etagOf(task) {
  return `"${task.version}"`;
}

/** Only the path and query of the `Link: <...>; rel="next"` URL: we stay on our own origin. */
function nextLink(response) {
  const header = response.headers.get("Link") || "";
  for (const part of header.split(",")) {
    const match = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (match) {
      const url = new URL(match[1], location.href);
      return url.pathname + url.search;
    }
  }
  return null;
}

// --- Small DOM helpers -------------------------------------------------------------------------

/** el("p", {class: "x"}, "text", child): text is always text, never parsed as HTML. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

const $ = (selector, root = document) => root.querySelector(selector);

function hiddenText(text) {
  return el("span", { class: "visually-hidden" }, text);
}

const pad = (number) => String(number).padStart(2, "0");

/** "2026-12-01T17:00" typed in a datetime-local field -> "2026-12-01T17:00:00+01:00". */
function localInputToRfc3339(value) {
  if (!value) return null;
  const moment = new Date(value); // a date-time without offset is read in the browser's zone
  if (Number.isNaN(moment.getTime())) return value; // let the API say what is wrong with it
  const offset = -moment.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const hours = pad(Math.floor(Math.abs(offset) / 60));
  const minutes = pad(Math.abs(offset) % 60);
  const date = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`;
  const time = `${pad(moment.getHours())}:${pad(moment.getMinutes())}:${pad(moment.getSeconds())}`;
  return `${date}T${time}${sign}${hours}:${minutes}`;
}

/** "2026-12-01T16:00:00Z" -> "2026-12-01T17:00" in the browser's zone, for a datetime-local field. */
function rfc3339ToLocalInput(value) {
  if (!value) return "";
  const moment = new Date(value);
  const date = `${moment.getFullYear()}-${pad(moment.getMonth() + 1)}-${pad(moment.getDate())}`;
  return `${date}T${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
}

const dueFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function parseTags(text) {
  return text
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
}

function isOverdue(task) {
  return !task.completed && task.due_date !== null && Date.parse(task.due_date) < Date.now();
}

// --- Page state --------------------------------------------------------------------------------

const state = {
  order: [], // task ids in list order
  tasks: new Map(), // id -> task
  nodes: new Map(), // id -> <li>
  total: 0,
  next: null, // path of the next page, from Link
  loading: null, // AbortController of the list request in flight
  pendingDeletes: new Map(), // id -> {timer, task}
};

const list = $("#task-list");
const summary = $("#list-summary");
const emptyNote = $("#list-empty");
const loadMore = $("#load-more");
const filtersForm = $("#filters");
const addForm = $("#add-form");

// --- Alerts and the toast ----------------------------------------------------------------------

function showAlert(message, ...extra) {
  const text = $("#alert-text");
  text.replaceChildren(message, ...extra.flatMap((node) => [" ", node]));
  $("#alert").hidden = false;
}

function hideAlert() {
  $("#alert").hidden = true;
}

$("#alert-dismiss").addEventListener("click", hideAlert);

const toast = {
  node: $("#toast"),
  timer: null,
  onAction: null,
  onClose: null,

  show(message, { action = null, onAction = null, onClose = null, focus = false } = {}) {
    this.finish(); // an earlier toast's deletion goes ahead
    $("#toast-text").textContent = message;
    const button = $("#toast-action");
    button.hidden = !action;
    button.textContent = action || "";
    this.onAction = onAction;
    this.onClose = onClose;
    this.node.hidden = false;
    this.timer = setTimeout(() => this.finish(), onAction ? UNDO_MILLISECONDS : 4000);
    if (focus && action) button.focus();
  },

  /** Close the toast; its pending action (a deletion) goes ahead unless undone. */
  finish({ undo = false } = {}) {
    clearTimeout(this.timer);
    const hadFocus = this.node.contains(document.activeElement);
    const callback = undo ? this.onAction : this.onClose;
    this.onAction = this.onClose = null;
    this.node.hidden = true;
    if (callback) callback();
    if (hadFocus && !undo) $("#list-heading").focus();
  },
};

$("#toast-action").addEventListener("click", () => toast.finish({ undo: true }));
$("#toast-close").addEventListener("click", () => toast.finish());
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !toast.node.hidden && toast.node.contains(document.activeElement)) toast.finish();
});

// --- Counts and tags ---------------------------------------------------------------------------

async function refreshStats() {
  try {
    const stats = await (await api("GET", `${tasksUrl}stats/`)).json();
    for (const [name, value] of Object.entries(stats)) {
      const cell = document.querySelector(`[data-stat="${name}"]`);
      if (cell) cell.textContent = String(value);
    }
  } catch (error) {
    reportError("Could not load the counts", error);
  }
}

async function refreshTags() {
  try {
    const tags = await (await api("GET", `${config.apiBase}/tags/`)).json();
    const select = $("#f-tag");
    const chosen = select.value;
    const options = [el("option", { value: "" }, "Any tag")];
    let selected = chosen === "" ? "" : null;
    for (const tag of tags) {
      options.push(el("option", { value: tag.name }, `${tag.name} (${tag.task_count})`));
      // Tags are equal case-insensitively (docs/API.md §3): keep the user's choice under its own spelling.
      if (selected === null && tag.name.toLowerCase() === chosen.toLowerCase()) selected = tag.name;
    }
    if (selected === null) {
      options.push(el("option", { value: chosen }, `${chosen} (0)`));
      selected = chosen;
    }
    select.replaceChildren(...options);
    select.value = selected;
  } catch (error) {
    reportError("Could not load your tags", error);
  }
}

function reportError(context, error) {
  if (error.name === "AbortError") return;
  if (error.status === 401 && sessionEndedShown) return; // already said
  showAlert(`${context}: ${error.message}`);
}

// --- Filters -----------------------------------------------------------------------------------

function filterParams() {
  const data = new FormData(filtersForm);
  const params = new URLSearchParams();
  const search = String(data.get("search") || "").trim();
  const status = data.get("status");
  if (search) params.set("search", search);
  if (status === "overdue") params.set("overdue", "true");
  else if (status && status !== "all") params.set("status", status);
  if (data.get("priority")) params.set("priority", data.get("priority"));
  if (data.get("tag")) params.set("tag", data.get("tag"));
  if (data.get("sort") && data.get("sort") !== "-created") params.set("sort", data.get("sort"));
  return params;
}

function filtersActive() {
  const params = filterParams();
  params.delete("sort");
  return [...params.keys()].length > 0;
}

/** The filters live in the page's address too, so a reload or a shared link keeps them. */
function syncAddress() {
  const data = new FormData(filtersForm);
  const params = new URLSearchParams();
  for (const [name, value] of data) {
    const defaults = { status: "all", sort: "-created" };
    if (value && value !== defaults[name]) params.set(name, value);
  }
  const query = params.toString();
  history.replaceState(null, "", query ? `?${query}` : location.pathname);
}

function restoreFiltersFromAddress() {
  const params = new URLSearchParams(location.search);
  for (const name of ["search", "status", "priority", "sort"]) {
    const field = filtersForm.elements[name];
    if (params.has(name)) field.value = params.get(name);
    if (field.tagName === "SELECT" && field.selectedIndex === -1) field.selectedIndex = 0;
  }
  if (params.get("tag")) {
    const tag = params.get("tag");
    $("#f-tag").append(el("option", { value: tag }, tag));
    $("#f-tag").value = tag;
  }
}

let searchTimer = null;
filtersForm.addEventListener("input", (event) => {
  if (event.target.name !== "search") return;
  clearTimeout(searchTimer);
  list.setAttribute("aria-busy", "true"); // what is shown no longer answers what was typed
  searchTimer = setTimeout(() => reload(), SEARCH_DELAY_MILLISECONDS);
});
filtersForm.addEventListener("change", (event) => {
  if (event.target.name === "search") return; // handled as typed
  reload();
});
filtersForm.addEventListener("submit", (event) => {
  event.preventDefault();
  clearTimeout(searchTimer);
  reload();
});
filtersForm.addEventListener("reset", () => {
  clearTimeout(searchTimer);
  setTimeout(() => reload()); // after the browser has put the defaults back
});

// --- Loading the list --------------------------------------------------------------------------

async function reload() {
  syncAddress();
  const params = filterParams();
  params.set("limit", String(PAGE_SIZE));
  await loadPage(`${tasksUrl}?${params}`, { append: false });
}

async function loadPage(path, { append }) {
  if (state.loading) state.loading.abort();
  const controller = new AbortController();
  const focusOnLoadMore = document.activeElement === loadMore;
  state.loading = controller;
  list.setAttribute("aria-busy", "true");
  loadMore.disabled = true;
  try {
    const response = await api("GET", path, { signal: controller.signal });
    const tasks = await response.json();
    if (controller.signal.aborted) return;
    state.total = Number(response.headers.get("X-Total-Count") || tasks.length);
    state.next = nextLink(response);
    const renderStart = performance.now();
    const firstNew = showTasks(tasks, { append });
    updateSummary();
    // Visible in the browser's performance panel, and read by the 500-task browser test.
    performance.measure("todo:render-tasks", { start: renderStart, detail: { count: tasks.length } });
    // The button is gone after the last page: a keyboard user goes on from the first new task.
    if (focusOnLoadMore && firstNew && loadMore.hidden) firstNew.querySelector(".task-done").focus();
  } catch (error) {
    if (error.name === "AbortError") return;
    if (!append) showTasks([], { append: false });
    updateSummary(`Could not load your tasks: ${error.message}`);
    reportError("Could not load your tasks", error);
  } finally {
    if (state.loading === controller) {
      state.loading = null;
      list.setAttribute("aria-busy", "false");
      loadMore.disabled = false;
    }
  }
}

/** Put tasks in the list; returns the first new <li>. One DOM insertion however many tasks. */
function showTasks(tasks, { append }) {
  if (!append) {
    state.order = [];
    state.tasks.clear();
    state.nodes.clear();
  }
  const fragment = document.createDocumentFragment();
  let first = null;
  for (const task of tasks) {
    if (state.tasks.has(task.id) || state.pendingDeletes.has(task.id)) continue;
    state.order.push(task.id);
    state.tasks.set(task.id, task);
    const node = renderTask(task);
    state.nodes.set(task.id, node);
    fragment.append(node);
    first = first || node;
  }
  if (append) list.append(fragment);
  else list.replaceChildren(fragment);
  return first;
}

function updateSummary(message) {
  const shown = state.order.length;
  loadMore.hidden = !state.next;
  if (state.next) loadMore.textContent = `Load more (${Math.max(state.total - shown, 0)} more)`;
  emptyNote.hidden = shown > 0 || Boolean(message);
  emptyNote.textContent = filtersActive() ? "No task matches these filters." : "No tasks yet. Add your first one above.";
  if (message) summary.textContent = message;
  else if (state.total === 0) summary.textContent = "No tasks to show.";
  else summary.textContent = `Showing ${shown} of ${state.total} task${state.total === 1 ? "" : "s"}.`;
}

loadMore.addEventListener("click", () => {
  if (state.next) loadPage(state.next, { append: true });
});

// --- One task ----------------------------------------------------------------------------------

function renderTask(task) {
  const id = task.id;
  const overdue = isOverdue(task);
  const classes = ["task", task.completed ? "task-done-state" : "", overdue ? "task-overdue" : ""];
  const meta = [];
  if (task.priority !== "none") {
    meta.push(el("span", { class: `badge badge-${task.priority}` }, PRIORITY_LABELS[task.priority]));
  }
  if (task.due_date) {
    meta.push(
      el(
        "span",
        { class: "due" },
        "Due ",
        el("time", { datetime: task.due_date }, dueFormat.format(new Date(task.due_date))),
      ),
    );
  }
  if (overdue) meta.push(el("span", { class: "badge badge-overdue" }, "Overdue"));
  for (const tag of task.tags) {
    meta.push(
      el(
        "button",
        { type: "button", class: "tag", "data-tag": tag },
        hiddenText("Show tasks tagged "),
        tag,
      ),
    );
  }
  return el(
    "li",
    { class: classes.filter(Boolean).join(" "), "data-id": id },
    el(
      "div",
      { class: "task-row" },
      el(
        "div",
        { class: "task-check" },
        el("input", { type: "checkbox", class: "task-done", id: `done-${id}`, checked: task.completed }),
        el("label", { for: `done-${id}`, class: "visually-hidden" }, `Done: ${task.title}`),
      ),
      el(
        "div",
        { class: "task-body" },
        el("h3", { class: "task-title", id: `title-${id}` }, task.title),
        task.description ? el("p", { class: "task-description" }, task.description) : null,
        meta.length ? el("div", { class: "task-meta" }, meta) : null,
      ),
      el(
        "div",
        { class: "task-actions" },
        // The visible word starts the accessible name (WCAG 2.5.3); the hidden rest says which task.
        el("button", { type: "button", class: "button button-small task-edit" }, "Edit", hiddenText(` task: ${task.title}`)),
        el(
          "button",
          { type: "button", class: "button button-small button-danger task-delete" },
          "Delete",
          hiddenText(` task: ${task.title}`),
        ),
      ),
    ),
  );
}

function replaceTask(task, { notice = null } = {}) {
  const old = state.nodes.get(task.id);
  state.tasks.set(task.id, task);
  const node = renderTask(task);
  if (notice) node.append(notice);
  state.nodes.set(task.id, node);
  if (old) old.replaceWith(node);
  return node;
}

function removeTask(id) {
  const node = state.nodes.get(id);
  if (node) node.remove();
  state.nodes.delete(id);
  state.tasks.delete(id);
  state.order = state.order.filter((other) => other !== id);
}

function taskIdOf(node) {
  const item = node.closest("li[data-id]");
  return item ? Number(item.dataset.id) : null;
}

// One listener for the whole list: 500 tasks do not mean 2,000 listeners.
list.addEventListener("change", (event) => {
  if (event.target.classList.contains("task-done")) toggleDone(taskIdOf(event.target), event.target);
});

list.addEventListener("click", (event) => {
  const button = event.target.closest("button");
  if (!button) return;
  const id = taskIdOf(button);
  if (button.classList.contains("task-edit")) openEditor(id);
  else if (button.classList.contains("task-delete")) deleteWithUndo(id);
  else if (button.classList.contains("tag")) filterByTag(button.dataset.tag);
  else if (button.classList.contains("edit-cancel")) closeEditor(id);
  else if (button.classList.contains("conflict-edit")) openEditor(id);
  else if (button.classList.contains("conflict-dismiss")) {
    button.closest(".conflict").remove();
    state.nodes.get(id)?.querySelector(".task-edit")?.focus();
  }
});

list.addEventListener("submit", (event) => {
  if (!event.target.classList.contains("edit-form")) return;
  event.preventDefault();
  saveEdit(taskIdOf(event.target), event.target);
});

list.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && event.target.closest(".edit-form")) {
    event.preventDefault();
    closeEditor(taskIdOf(event.target));
  }
});

function filterByTag(tag) {
  const select = $("#f-tag");
  if (![...select.options].some((option) => option.value === tag)) select.append(el("option", { value: tag }, tag));
  select.value = tag;
  reload();
  select.focus();
}

// --- Toggle ------------------------------------------------------------------------------------

async function toggleDone(id, checkbox) {
  const wanted = checkbox.checked;
  checkbox.disabled = true;
  try {
    // Setting (not toggling) the state is safe to retry and cannot undo another tab's change.
    const task = await (await api("PATCH", `${taskUrl(id)}complete/`, { body: { completed: wanted } })).json();
    replaceTask(task).querySelector(".task-done").focus();
    refreshStats();
  } catch (error) {
    const title = state.tasks.get(id)?.title ?? "the task";
    checkbox.checked = !wanted;
    checkbox.disabled = false;
    if (error.status === 404) removeTask(id);
    reportError(`Could not mark “${title}” as ${wanted ? "done" : "not done"}`, error);
  }
}

// --- Add ---------------------------------------------------------------------------------------

function clearFieldErrors(form) {
  for (const node of form.querySelectorAll("[data-error-for]")) node.textContent = "";
  for (const node of form.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** Put a 400's per-field messages next to their fields; returns whether any found a home. */
function showFieldErrors(form, error) {
  let placed = false;
  let firstInvalid = null;
  for (const [field, messages] of Object.entries(error.errors || {})) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
    if (!slot) continue;
    slot.textContent = messages.join(" ");
    const disclosure = slot.closest("details");
    if (disclosure) disclosure.open = true; // a message nobody can see helps nobody
    placed = true;
    const control = form.querySelector(`[aria-describedby~="${slot.id}"]`);
    if (control) {
      control.setAttribute("aria-invalid", "true");
      firstInvalid = firstInvalid || control;
    }
  }
  if (firstInvalid) firstInvalid.focus();
  return placed;
}

function readTaskForm(form) {
  const data = new FormData(form);
  return {
    title: String(data.get("title") || ""),
    description: String(data.get("description") || ""),
    priority: String(data.get("priority") || "none"),
    due_date: localInputToRfc3339(String(data.get("due") || "")),
    tags: parseTags(String(data.get("tags") || "")),
  };
}

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => pad(byte.toString(16))).join("");
}

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(addForm);
  const button = $("#add-submit");
  const body = readTaskForm(addForm);
  if (!body.title.trim()) {
    $('[data-error-for="title"]', addForm).textContent = "Give the task a title.";
    $("#add-title").setAttribute("aria-invalid", "true");
    $("#add-title").focus();
    return;
  }
  button.disabled = true;
  // One key per submission: a retry after a lost answer cannot create the task twice.
  const headers = { "Idempotency-Key": newIdempotencyKey() };
  try {
    let response;
    try {
      response = await api("POST", tasksUrl, { body, headers });
    } catch (error) {
      if (error.code !== "network_error") throw error;
      response = await api("POST", tasksUrl, { body, headers });
    }
    const task = await response.json();
    addForm.reset();
    $("#add-title").focus();
    if (!filtersActive() && !filterParams().has("sort")) {
      state.order.unshift(task.id);
      state.tasks.set(task.id, task);
      const node = renderTask(task);
      state.nodes.set(task.id, node);
      list.prepend(node);
      state.total += 1;
      updateSummary();
    } else {
      reload();
    }
    toast.show(`Added “${task.title}”.`);
    refreshStats();
    if (task.tags.length) refreshTags();
  } catch (error) {
    const placed = showFieldErrors(addForm, error);
    const message = `Could not add the task: ${error.message}`;
    if (placed && error.status === 400) $('[data-error-for="non_field_errors"]', addForm).textContent = message;
    else reportError("Could not add the task", error);
  } finally {
    button.disabled = false;
  }
});

// --- Edit in place -----------------------------------------------------------------------------

function editorFor(task) {
  const id = task.id;
  const field = (name, label, control, { help = null } = {}) =>
    el(
      "div",
      { class: `field field-${name}` },
      el("label", { for: `edit-${name}-${id}` }, label),
      control,
      help,
      el("p", { class: "field-error", id: `edit-${name}-${id}-error`, "data-error-for": name === "due" ? "due_date" : name }),
    );
  const priority = el(
    "select",
    { id: `edit-priority-${id}`, name: "priority", "aria-describedby": `edit-priority-${id}-error` },
    Object.keys(PRIORITY_LABELS).map((value) =>
      el("option", { value, selected: task.priority === value }, value[0].toUpperCase() + value.slice(1)),
    ),
  );
  const description = el("textarea", {
    id: `edit-description-${id}`,
    name: "description",
    rows: 2,
    maxlength: 1000,
    "aria-describedby": `edit-description-${id}-error`,
  });
  description.value = task.description;
  return el(
    "form",
    { class: "edit-form task-form", novalidate: true, "aria-label": `Edit task: ${task.title}` },
    field(
      "title",
      "Title",
      el("input", {
        id: `edit-title-${id}`,
        name: "title",
        type: "text",
        maxlength: 200,
        required: true,
        value: task.title,
        autocomplete: "off",
        "aria-describedby": `edit-title-${id}-error`,
      }),
    ),
    field("description", "Description", description),
    field("priority", "Priority", priority),
    field(
      "due",
      "Due (your time zone)",
      el("input", {
        id: `edit-due-${id}`,
        name: "due",
        type: "datetime-local",
        value: rfc3339ToLocalInput(task.due_date),
        "aria-describedby": `edit-due-${id}-error`,
      }),
    ),
    field(
      "tags",
      "Tags",
      el("input", {
        id: `edit-tags-${id}`,
        name: "tags",
        type: "text",
        value: task.tags.join(", "),
        autocomplete: "off",
        "aria-describedby": `edit-tags-${id}-help edit-tags-${id}-error`,
      }),
      { help: el("p", { class: "field-help", id: `edit-tags-${id}-help` }, "Separate tags with commas.") },
    ),
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "submit", class: "button button-primary" }, "Save"),
      el("button", { type: "button", class: "button edit-cancel" }, "Cancel"),
      el("p", { class: "form-error", "data-error-for": "non_field_errors", role: "alert" }),
    ),
  );
}

function openEditor(id) {
  const task = state.tasks.get(id);
  const node = state.nodes.get(id);
  if (!task || !node) return;
  node.querySelector(".conflict")?.remove();
  node.classList.add("task-editing");
  const form = editorFor(task);
  form.dataset.version = String(task.version); // the version this edit starts from
  node.querySelector(".task-row").hidden = true;
  node.append(form);
  form.elements.title.focus();
}

function closeEditor(id) {
  const node = state.nodes.get(id);
  if (!node) return;
  node.querySelector(".edit-form")?.remove();
  node.classList.remove("task-editing");
  node.querySelector(".task-row").hidden = false;
  node.querySelector(".task-edit").focus();
}

function changedFields(task, edited) {
  const changes = {};
  if (edited.title !== task.title) changes.title = edited.title;
  if (edited.description !== task.description) changes.description = edited.description;
  if (edited.priority !== task.priority) changes.priority = edited.priority;
  const dueBefore = task.due_date ? Date.parse(task.due_date) : null;
  const dueAfter = edited.due_date ? Date.parse(edited.due_date) : null;
  if (dueBefore !== dueAfter) changes.due_date = edited.due_date;
  if (edited.tags.join("\n") !== task.tags.join("\n")) changes.tags = edited.tags;
  return changes;
}

async function saveEdit(id, form) {
  const task = state.tasks.get(id);
  if (!task) return;
  clearFieldErrors(form);
  const changes = changedFields(task, readTaskForm(form));
  if (Object.keys(changes).length === 0) {
    closeEditor(id);
    return;
  }
  const submit = form.querySelector('[type="submit"]');
  submit.disabled = true;
  try {
    // If-Match: the write goes through only if nobody changed the task since this page read it.
    const response = await api("PATCH", taskUrl(id), {
      body: changes,
      headers: { "If-Match": `"${form.dataset.version}"` },
    });
    const saved = await response.json();
    replaceTask(saved).querySelector(".task-edit").focus();
    toast.show(`Saved “${saved.title}”.`);
    refreshStats();
    if ("tags" in changes) refreshTags();
  } catch (error) {
    submit.disabled = false;
    if (error.status === 412) {
      await showNewerVersion(id, changes, error);
    } else if (error.status === 404) {
      removeTask(id);
      reportError("Could not save the task", error);
    } else {
      const placed = showFieldErrors(form, error);
      const slot = form.querySelector('[data-error-for="non_field_errors"]');
      if (placed || error.status === 400) slot.textContent = `Not saved: ${error.message}`;
      else reportError("Could not save the task", error);
    }
  }
}

const FIELD_NAMES = { title: "Title", description: "Description", priority: "Priority", due_date: "Due", tags: "Tags" };

function describeChange(name, value) {
  if (name === "tags") return value.length ? value.join(", ") : "(none)";
  if (name === "due_date") return value ? dueFormat.format(new Date(value)) : "(none)";
  if (name === "priority") return value[0].toUpperCase() + value.slice(1);
  return value === "" ? "(empty)" : value;
}

/** After a 412: show the version saved elsewhere, and what this edit would have changed. */
async function showNewerVersion(id, changes, error) {
  let fresh;
  try {
    fresh = await (await api("GET", taskUrl(id))).json();
  } catch (loadError) {
    if (loadError.status === 404) {
      removeTask(id);
      showAlert("This task was deleted somewhere else (another tab or device), so your changes were not saved.");
      return;
    }
    reportError("Could not load the newer version", loadError);
    return;
  }
  const lost = el(
    "ul",
    { class: "conflict-changes" },
    Object.entries(changes).map(([name, value]) =>
      el("li", {}, el("strong", {}, `${FIELD_NAMES[name]}: `), describeChange(name, value)),
    ),
  );
  const notice = el(
    "div",
    { class: "conflict notice notice-warning", role: "alert" },
    el("p", {}, el("strong", {}, "Not saved. "), error.message),
    el(
      "p",
      {},
      "Someone changed this task in another tab or device first. Here is the newer version; your changes were:",
    ),
    lost,
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "button", class: "button conflict-edit" }, "Edit the newer version"),
      el("button", { type: "button", class: "button button-quiet conflict-dismiss" }, "Dismiss"),
    ),
  );
  replaceTask(fresh, { notice }).querySelector(".conflict-edit").focus();
}

// --- Delete, with undo -------------------------------------------------------------------------

function deleteWithUndo(id) {
  const task = state.tasks.get(id);
  const node = state.nodes.get(id);
  if (!task || !node) return;
  const index = state.order.indexOf(id);
  const nextId = state.order[index + 1] ?? state.order[index - 1];
  node.hidden = true;
  state.pendingDeletes.set(id, { task, version: task.version });
  toast.show(`Deleted “${task.title}”.`, {
    action: "Undo",
    focus: true,
    onAction: () => {
      state.pendingDeletes.delete(id);
      node.hidden = false;
      node.querySelector(".task-delete").focus();
    },
    onClose: () => {
      commitDelete(id);
      const next = nextId !== undefined && state.nodes.get(nextId);
      if (next && !next.hidden) next.querySelector(".task-done").focus();
    },
  });
}

async function commitDelete(id) {
  const pending = state.pendingDeletes.get(id);
  if (!pending) return;
  try {
    await api("DELETE", taskUrl(id), { headers: { "If-Match": `"${pending.version}"` } });
    state.pendingDeletes.delete(id);
    removeTask(id);
    state.total = Math.max(state.total - 1, 0);
    updateSummary();
    refreshStats();
    if (pending.task.tags.length) refreshTags();
  } catch (error) {
    state.pendingDeletes.delete(id);
    if (error.status === 404) {
      removeTask(id); // already gone: that is what was asked
      return;
    }
    const node = state.nodes.get(id);
    if (node) node.hidden = false;
    if (error.status === 412) {
      try {
        replaceTask(await (await api("GET", taskUrl(id))).json());
      } catch {
        // The alert below still says what happened; the old version stays on screen.
      }
      showAlert(
        `“${pending.task.title}” was not deleted: ${error.message} It was changed in another tab or device; the newer version is shown.`,
      );
    } else {
      reportError(`Could not delete “${pending.task.title}”`, error);
    }
  }
}

// A deletion still waiting for its undo window is sent when the page goes away.
window.addEventListener("pagehide", () => {
  const token = auth.peek();
  for (const [id, pending] of state.pendingDeletes) {
    if (!token) break;
    fetch(taskUrl(id), {
      method: "DELETE",
      keepalive: true,
      credentials: "omit",
      headers: { Authorization: `Bearer ${token}`, "If-Match": `"${pending.version}"` },
    }).catch(() => {});
  }
});

// --- Start -------------------------------------------------------------------------------------

restoreFiltersFromAddress();
Promise.all([reload(), refreshStats(), refreshTags()]);
// Due dates pass while the page is open: re-mark overdue tasks every minute.
setInterval(() => {
  for (const id of state.order) {
    const task = state.tasks.get(id);
    const node = state.nodes.get(id);
    if (task && node && !node.querySelector(".edit-form") && isOverdue(task) !== node.classList.contains("task-overdue")) {
      replaceTask(task);
    }
  }
}, 60_000);
