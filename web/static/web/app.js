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

// --- Repeat and reminders (docs/API.md §6, §7) -------------------------------------------------

// The zone a repeating task's dates are expanded in, and its "1 day before" reminders counted in.
const BROWSER_TIMEZONE = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
const WEEKDAYS = [
  ["MO", "Monday", "Mon"],
  ["TU", "Tuesday", "Tue"],
  ["WE", "Wednesday", "Wed"],
  ["TH", "Thursday", "Thu"],
  ["FR", "Friday", "Fri"],
  ["SA", "Saturday", "Sat"],
  ["SU", "Sunday", "Sun"],
];
const WEEKDAY_NAMES = Object.fromEntries(WEEKDAYS.map(([code, name]) => [code, name]));
const WORKWEEK = "MO,TU,WE,TH,FR";
const FREQUENCY_UNITS = { DAILY: ["day", "days"], WEEKLY: ["week", "weeks"], MONTHLY: ["month", "months"], YEARLY: ["year", "years"] };
const REPEAT_CHOICES = [
  ["none", "Does not repeat"],
  ["daily", "Daily"],
  ["weekdays", "Every weekday (Monday to Friday)"],
  ["weekly", "Weekly, on chosen days"],
  ["monthly", "Monthly"],
  ["yearly", "Yearly"],
];
const REPEAT_FREQUENCY = { daily: "DAILY", weekly: "WEEKLY", monthly: "MONTHLY", yearly: "YEARLY" };
const MONTH_NAMES = Array.from({ length: 12 }, (_, month) =>
  new Intl.DateTimeFormat("en", { month: "long", timeZone: "UTC" }).format(new Date(Date.UTC(2000, month, 1))),
);
const ORDINALS = { 1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", "-1": "last", "-2": "second to last" };
const MAX_REMINDERS = 5;
const REMINDER_PRESETS = [
  ["PT0S", "At the due time"],
  ["PT15M", "15 minutes before"],
  ["PT1H", "1 hour before"],
  ["P1D", "1 day before"],
];
const REMINDER_STATES = {
  pending: "Pending",
  sent: "Sent",
  failed: "Failed to send",
  skipped: "Skipped",
};
const dateOnlyFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

/** "FREQ=WEEKLY;BYDAY=MO,WE" -> {FREQ: "WEEKLY", BYDAY: "MO,WE"}; null when it is not NAME=VALUE parts. */
function ruleParts(text) {
  if (typeof text !== "string" || !text) return null;
  const parts = {};
  for (const chunk of text.toUpperCase().split(";")) {
    const [name, value, extra] = chunk.split("=");
    if (!name || !value || extra !== undefined || name in parts) return null;
    parts[name] = value;
  }
  return parts.FREQ ? parts : null;
}

const listWords = (items) =>
  items.length <= 1 ? items.join("") : `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;

function ordinalDay(day) {
  const number = Number(day);
  if (number === -1) return "the last day";
  if (number < 0) return `${-number} days before the end of the month`;
  const suffix = number % 10 === 1 && number !== 11 ? "st" : number % 10 === 2 && number !== 12 ? "nd" : number % 10 === 3 && number !== 13 ? "rd" : "th";
  return `the ${number}${suffix}`;
}

/** "YYYYMMDD" or "YYYYMMDDTHHMMSSZ" -> words; the rule's own text when it is neither. */
function untilWords(until) {
  const match = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z)?$/.exec(until);
  if (!match) return until;
  const [, year, month, day, hours, minutes, seconds] = match;
  if (hours === undefined) return dateOnlyFormat.format(new Date(Date.UTC(year, month - 1, day)));
  return dueFormat.format(new Date(Date.UTC(year, month - 1, day, hours, minutes, seconds)));
}

/** A rule in words ("Every week on Monday and Wednesday, until Dec 31, 2026"); the rule itself
 * when some part has no words here, so nothing is ever hidden. */
function describeRule(rule) {
  const parts = ruleParts(rule);
  if (!parts || !FREQUENCY_UNITS[parts.FREQ]) return rule;
  const known = new Set(["FREQ", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYMONTH", "COUNT", "UNTIL"]);
  if (Object.keys(parts).some((name) => !known.has(name))) return rule;
  const interval = Number(parts.INTERVAL || 1);
  const [one, many] = FREQUENCY_UNITS[parts.FREQ];
  let words = interval === 1 ? `Every ${one}` : `Every ${interval} ${many}`;
  const days = parts.BYDAY ? parts.BYDAY.split(",") : [];
  if (parts.FREQ === "WEEKLY" && interval === 1 && parts.BYDAY === WORKWEEK && !parts.BYMONTH) {
    words = "Every weekday";
  } else if (days.length) {
    const named = [];
    for (const item of days) {
      const match = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/.exec(item);
      if (!match) return rule;
      const [, ordinal, code] = match;
      if (ordinal === undefined) named.push(WEEKDAY_NAMES[code]);
      else if (ORDINALS[String(Number(ordinal))]) named.push(`the ${ORDINALS[String(Number(ordinal))]} ${WEEKDAY_NAMES[code]}`);
      else return rule;
    }
    words += ` on ${listWords(named)}`;
  }
  if (parts.BYMONTHDAY) {
    const numbers = parts.BYMONTHDAY.split(",");
    if (numbers.some((n) => !/^-?\d{1,2}$/.test(n))) return rule;
    words += ` on ${listWords(numbers.map(ordinalDay))}`;
  }
  if (parts.BYMONTH) {
    const months = parts.BYMONTH.split(",").map((n) => MONTH_NAMES[Number(n) - 1]);
    if (months.some((name) => !name)) return rule;
    words += ` in ${listWords(months)}`;
  }
  if (parts.COUNT) {
    words += parts.COUNT === "1" ? ", this is the last time" : `, ${parts.COUNT} times left`;
  } else if (parts.UNTIL) {
    words += `, until ${untilWords(parts.UNTIL)}`;
  }
  return words;
}

/** The picker's controls for a rule; `null` when the picker cannot show it (kept as it is). */
function pickerFromRule(rule) {
  const blank = { repeat: "none", interval: 1, days: [], ends: "never", count: "", until: "" };
  if (!rule) return blank;
  const parts = ruleParts(rule);
  if (!parts) return null;
  const allowed = new Set(["FREQ", "INTERVAL", "BYDAY", "COUNT", "UNTIL"]);
  if (Object.keys(parts).some((name) => !allowed.has(name))) return null;
  const picked = { ...blank, interval: Number(parts.INTERVAL || 1) };
  if (!Number.isInteger(picked.interval) || picked.interval < 1) return null;
  if (parts.COUNT) {
    picked.ends = "count";
    picked.count = parts.COUNT;
  } else if (parts.UNTIL) {
    const match = /^(\d{4})(\d{2})(\d{2})$/.exec(parts.UNTIL); // a date-time UNTIL: not this picker's
    if (!match) return null;
    picked.ends = "until";
    picked.until = `${match[1]}-${match[2]}-${match[3]}`;
  }
  if (parts.BYDAY) {
    if (parts.FREQ !== "WEEKLY") return null;
    const days = parts.BYDAY.split(",");
    if (days.some((day) => !WEEKDAY_NAMES[day])) return null;
    if (parts.BYDAY === WORKWEEK && picked.interval === 1) return { ...picked, repeat: "weekdays", days };
    return { ...picked, repeat: "weekly", days };
  }
  const repeat = Object.keys(REPEAT_FREQUENCY).find((name) => REPEAT_FREQUENCY[name] === parts.FREQ);
  return repeat ? { ...picked, repeat } : null;
}

/** The normalised rule (API.md §6: parts in order, INTERVAL=1 left out) the controls describe. */
function ruleFromPicker({ repeat, interval, days, ends, count, until }) {
  if (repeat === "none") return null;
  const parts = [];
  if (repeat === "weekdays") {
    parts.push("FREQ=WEEKLY", `BYDAY=${WORKWEEK}`);
  } else {
    parts.push(`FREQ=${REPEAT_FREQUENCY[repeat]}`);
    // What was typed goes as typed: the API says in words what is wrong with it.
    const every = String(interval).trim();
    if (every && every !== "1") parts.push(`INTERVAL=${every}`);
    if (repeat === "weekly" && days.length) {
      const order = WEEKDAYS.map(([code]) => code);
      parts.push(`BYDAY=${[...days].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(",")}`);
    }
  }
  if (ends === "count") parts.push(`COUNT=${String(count).trim()}`);
  if (ends === "until") parts.push(`UNTIL=${String(until).replaceAll("-", "")}`);
  return parts.join(";");
}

/** "PT1H30M" -> "1 hour 30 minutes before"; the duration itself when it is no duration. */
function describeBefore(duration) {
  const preset = REMINDER_PRESETS.find(([value]) => value === duration);
  if (preset) return preset[1];
  const match = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(duration || "");
  if (!match) return `${duration} before`;
  const units = ["week", "day", "hour", "minute", "second"];
  const words = match
    .slice(1)
    .map((value, index) => (value && Number(value) ? `${Number(value)} ${units[index]}${Number(value) === 1 ? "" : "s"}` : null))
    .filter(Boolean);
  return words.length ? `${words.join(" ")} before` : "At the due time";
}

function describeReminder(reminder) {
  if (reminder.before !== undefined) return describeBefore(reminder.before);
  const moment = new Date(reminder.at);
  return Number.isNaN(moment.getTime()) ? `At ${reminder.at}` : `At ${dueFormat.format(moment)}`;
}

/** What a reminder read back is written as again, unchanged: it then keeps its state (§7). */
function reminderInput(reminder) {
  return reminder.before !== undefined ? { before: reminder.before } : { at: reminder.at };
}

function sameReminders(before, after) {
  if (before.length !== after.length) return false;
  return before.every((old, index) => {
    const other = after[index];
    if (old.before !== undefined) return other.before === old.before;
    return other.at !== undefined && Date.parse(other.at) === Date.parse(old.at);
  });
}

/** "reminders[1].before: Must be ..." -> "Reminder 2: Must be ...". */
function fieldMessage(field, message) {
  if (field !== "reminders" || typeof message !== "string") return message;
  return message.replace(/^reminders\[(\d+)\](?:\.(?:before|at))?:?\s*/, (_, index) => `Reminder ${Number(index) + 1}: `);
}

let scheduleCount = 0;
const schedules = new WeakMap(); // form -> its pickers

/** The repeat and reminder pickers for a task (or a new one): DOM nodes plus what they hold. */
function buildSchedule(prefix, task = null) {
  const id = (name) => `${prefix}-${name}`;
  const original = task ? task.recurrence : null;
  const shown = pickerFromRule(original);
  const choices = REPEAT_CHOICES.map(([value, label]) => el("option", { value }, label));
  if (shown === null) {
    // A rule this picker cannot show (written through the API): offered as it is, and kept.
    choices.push(el("option", { value: "custom" }, `Keep: ${describeRule(original)}`));
  }
  const repeat = el(
    "select",
    { id: id("repeat"), name: "repeat", "aria-describedby": `${id("repeat-help")} ${id("recurrence-error")} ${id("timezone-error")}` },
    choices,
  );
  const interval = el("input", {
    id: id("interval"),
    name: "interval",
    type: "number",
    min: 1,
    max: 999,
    step: 1,
    inputmode: "numeric",
    class: "input-number",
    "aria-describedby": id("recurrence-error"),
  });
  const unit = el("span", { class: "interval-unit", id: id("interval-unit") }, "");
  const intervalField = el(
    "div",
    { class: "field repeat-interval" },
    el("label", { for: id("interval") }, "Every"),
    el("div", { class: "inline-control" }, interval, unit),
  );
  const dayBoxes = WEEKDAYS.map(([code, name, short]) =>
    el(
      "label",
      { class: "day-choice" },
      el("input", { type: "checkbox", name: "byday", value: code, id: id(`day-${code}`) }),
      el("span", { "aria-hidden": "true" }, short),
      hiddenText(name),
    ),
  );
  const days = el("fieldset", { class: "repeat-days" }, el("legend", {}, "On these days"), el("div", { class: "day-choices" }, dayBoxes));
  const ends = el(
    "select",
    { id: id("ends"), name: "ends" },
    el("option", { value: "never" }, "Never"),
    el("option", { value: "count" }, "After a number of times"),
    el("option", { value: "until" }, "On a date"),
  );
  const count = el("input", { id: id("count"), name: "count", type: "number", min: 1, max: 1000, step: 1, inputmode: "numeric", class: "input-number" });
  const until = el("input", { id: id("until"), name: "until", type: "date" });
  const countField = el("div", { class: "field" }, el("label", { for: id("count") }, "Times"), count);
  const untilField = el("div", { class: "field" }, el("label", { for: id("until") }, "Last date"), until);
  const endsRow = el("div", { class: "repeat-row" }, el("div", { class: "field" }, el("label", { for: id("ends") }, "Ends"), ends), countField, untilField);
  const repeatBox = el(
    "fieldset",
    { class: "schedule-group repeat" },
    el("legend", {}, "Repeat"),
    el("div", { class: "repeat-row" }, el("div", { class: "field" }, el("label", { for: id("repeat") }, "Repeats"), repeat), intervalField),
    days,
    endsRow,
    el(
      "p",
      { class: "field-help", id: id("repeat-help") },
      `Needs a due date. Dates follow your time zone (${BROWSER_TIMEZONE}); completing the task adds the next one.`,
    ),
    el("p", { class: "field-error", id: id("recurrence-error"), "data-error-for": "recurrence" }),
    el("p", { class: "field-error", id: id("timezone-error"), "data-error-for": "timezone" }),
  );

  function setPicker(picked) {
    repeat.value = picked ? picked.repeat : "custom";
    interval.value = String(picked ? picked.interval : 1);
    for (const box of days.querySelectorAll("input")) box.checked = Boolean(picked && picked.days.includes(box.value));
    ends.value = picked ? picked.ends : "never";
    count.value = picked ? picked.count : "";
    until.value = picked ? picked.until : "";
    showRepeatControls();
  }

  function showRepeatControls() {
    const kind = repeat.value;
    const open = kind !== "none" && kind !== "custom";
    intervalField.hidden = !open || kind === "weekdays";
    days.hidden = kind !== "weekly";
    endsRow.hidden = !open;
    countField.hidden = ends.value !== "count";
    untilField.hidden = ends.value !== "until";
    const units = FREQUENCY_UNITS[REPEAT_FREQUENCY[kind]];
    unit.textContent = units ? (String(interval.value).trim() === "1" ? units[0] : units[1]) : "";
  }

  repeatBox.addEventListener("change", showRepeatControls);
  repeatBox.addEventListener("input", showRepeatControls);

  // Reminders: a list of rows, each a choice of when, the time for "at a chosen time", its state.
  const rows = el("ul", { class: "reminder-list", "aria-label": "Reminders" });
  const addButton = el("button", { type: "button", class: "button button-small reminder-add" }, "Add a reminder");
  const remindersBox = el(
    "fieldset",
    { class: "schedule-group reminders" },
    el("legend", {}, "Reminders"),
    rows,
    addButton,
    el(
      "p",
      { class: "field-help", id: id("reminders-help") },
      `Up to ${MAX_REMINDERS}. To get them on this device, enable notifications above.`,
    ),
    el("p", { class: "field-error", id: id("reminders-error"), "data-error-for": "reminders" }),
  );

  function addRow(reminder = null, { focus = false } = {}) {
    scheduleCount += 1;
    const rowId = id(`reminder-${scheduleCount}`);
    const when = el("select", {
      id: rowId,
      class: "reminder-when",
      "aria-describedby": `${rowId}-state ${id("reminders-error")}`,
    });
    const options = REMINDER_PRESETS.map(([value, label]) => el("option", { value }, label));
    const known = reminder && reminder.before !== undefined && REMINDER_PRESETS.some(([value]) => value === reminder.before);
    if (reminder && reminder.before !== undefined && !known) {
      options.push(el("option", { value: reminder.before }, describeBefore(reminder.before)));
    }
    options.push(el("option", { value: "at" }, "At a chosen time"));
    when.append(...options);
    const at = el("input", { type: "datetime-local", class: "reminder-at", id: `${rowId}-at` });
    const atField = el("div", { class: "reminder-at-field" }, el("label", { for: `${rowId}-at`, class: "visually-hidden" }, "Reminder time"), at);
    const stateText = reminder && reminder.state ? REMINDER_STATES[reminder.state] || reminder.state : "";
    const stateNode = el(
      "span",
      { class: `reminder-state${reminder && reminder.state ? ` state-${reminder.state}` : ""}`, id: `${rowId}-state` },
      stateText ? `${stateText}${reminder.state === "sent" && reminder.sent_at ? ` ${dueFormat.format(new Date(reminder.sent_at))}` : ""}` : "",
    );
    const remove = el("button", { type: "button", class: "button button-small button-quiet reminder-remove" }, "Remove", hiddenText(" reminder"));
    const row = el("li", { class: "reminder" }, el("label", { for: rowId, class: "reminder-label" }, "Remind me"), when, atField, stateNode, remove);
    row.reminder = reminder; // what the API holds for this row, written back unchanged when untouched
    if (reminder && reminder.at !== undefined) {
      when.value = "at";
      at.value = rfc3339ToLocalInput(reminder.at);
    } else {
      when.value = reminder ? reminder.before : "PT15M";
    }
    atField.hidden = when.value !== "at";
    when.addEventListener("change", () => {
      atField.hidden = when.value !== "at";
      if (when.value === "at" && !at.value) at.focus();
    });
    remove.addEventListener("click", () => {
      const next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      updateRows();
      (next ? next.querySelector(".reminder-when") : addButton).focus();
    });
    rows.append(row);
    updateRows();
    if (focus) when.focus();
  }

  function updateRows() {
    const all = [...rows.children];
    all.forEach((row, index) => {
      row.querySelector(".reminder-label").textContent = `Reminder ${index + 1}`;
      row.querySelector(".reminder-at-field label").textContent = `Reminder ${index + 1} time`;
      row.querySelector(".reminder-remove .visually-hidden").textContent = ` reminder ${index + 1}`;
    });
    addButton.disabled = all.length >= MAX_REMINDERS;
    addButton.textContent = all.length >= MAX_REMINDERS ? `At most ${MAX_REMINDERS} reminders` : "Add a reminder";
    rows.hidden = all.length === 0;
  }

  addButton.addEventListener("click", () => addRow(null, { focus: true }));

  function reset(next = null) {
    setPicker(pickerFromRule(next ? next.recurrence : null) ?? null);
    rows.replaceChildren();
    for (const reminder of (next && next.reminders) || []) addRow(reminder);
    updateRows();
  }

  reset(task);

  const controller = {
    nodes: [repeatBox, remindersBox],
    reset,
    /** {recurrence, reminders} as the API takes them. */
    value() {
      const picked = {
        repeat: repeat.value,
        interval: interval.value,
        days: [...days.querySelectorAll("input:checked")].map((box) => box.value),
        ends: ends.value,
        count: count.value,
        until: until.value,
      };
      const recurrence = repeat.value === "custom" ? original : ruleFromPicker(picked);
      const reminders = [...rows.children].map((row) => {
        const when = row.querySelector(".reminder-when").value;
        const at = row.querySelector(".reminder-at").value;
        const old = row.reminder;
        if (when !== "at") return { before: when };
        // Untouched: the very instant the API holds (the field shows minutes only).
        if (old && old.at !== undefined && rfc3339ToLocalInput(old.at) === at) return { at: old.at };
        return { at: localInputToRfc3339(at) };
      });
      return { recurrence, reminders };
    },
  };
  return controller;
}

/** The reminders of a task in words, with their states, for the list. */
function reminderSummary(task) {
  if (!task.reminders || !task.reminders.length) return null;
  return el(
    "ul",
    { class: "reminder-chips", "aria-label": `Reminders of ${task.title}` },
    task.reminders.map((reminder) =>
      el(
        "li",
        { class: `reminder-chip state-${reminder.state}` },
        describeReminder(reminder),
        el("span", { class: "reminder-chip-state" }, ` · ${REMINDER_STATES[reminder.state] || reminder.state}`),
      ),
    ),
  );
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
  seen: new Map(), // id -> the newest version the change feed brought
  deleted: new Set(), // ids the change feed said were deleted (ids are never reused)
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
  for (const listed of tasks) {
    const task = newest(listed);
    if (state.tasks.has(task.id) || state.pendingDeletes.has(task.id) || state.deleted.has(task.id)) continue;
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
  if (task.recurrence) {
    meta.push(el("span", { class: "repeat-rule", title: task.recurrence }, hiddenText("Repeats: "), describeRule(task.recurrence)));
  }
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
        reminderSummary(task),
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
    if (task.completed && task.next_task_id && !state.tasks.has(task.next_task_id)) showSuccessor(task);
  } catch (error) {
    const title = state.tasks.get(id)?.title ?? "the task";
    checkbox.checked = !wanted;
    checkbox.disabled = false;
    if (error.status === 404) removeTask(id);
    reportError(`Could not mark “${title}” as ${wanted ? "done" : "not done"}`, error);
  }
}

/** Completing a repeating task made its next occurrence (docs/API.md §6): show it. */
async function showSuccessor(task) {
  try {
    const next = await (await api("GET", taskUrl(task.next_task_id))).json();
    applyUpsert(next);
    updateSummary();
    const when = next.due_date ? `, due ${dueFormat.format(new Date(next.due_date))}` : "";
    toast.show(`Next “${next.title}” added${when}.`);
  } catch (error) {
    if (error.status !== 404) reportError("Could not load the next occurrence", error); // 404: deleted since
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
    const words = Array.isArray(messages) ? messages : [messages];
    slot.textContent = words.map((message) => fieldMessage(field, typeof message === "string" ? message : JSON.stringify(message))).join(" ");
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
  const fields = {
    title: String(data.get("title") || ""),
    description: String(data.get("description") || ""),
    priority: String(data.get("priority") || "none"),
    due_date: localInputToRfc3339(String(data.get("due") || "")),
    tags: parseTags(String(data.get("tags") || "")),
  };
  const schedule = schedules.get(form);
  return schedule ? { ...fields, ...schedule.value() } : fields;
}

function newIdempotencyKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => pad(byte.toString(16))).join("");
}

addForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  clearFieldErrors(addForm);
  const button = $("#add-submit");
  const body = { ...readTaskForm(addForm), timezone: BROWSER_TIMEZONE };
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
    schedules.get(addForm).reset();
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
  const schedule = buildSchedule(`edit-${id}`, task);
  const form = el(
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
    schedule.nodes,
    el(
      "div",
      { class: "form-actions" },
      el("button", { type: "submit", class: "button button-primary" }, "Save"),
      el("button", { type: "button", class: "button edit-cancel" }, "Cancel"),
      el("p", { class: "form-error", "data-error-for": "non_field_errors", role: "alert" }),
    ),
  );
  schedules.set(form, schedule);
  return form;
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
  if (node.dataset.stale) {
    // Changed elsewhere while this editor was open (sync): show the newer version now.
    replaceTask(state.tasks.get(id)).querySelector(".task-edit").focus();
    return;
  }
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
  if ("recurrence" in edited && edited.recurrence !== task.recurrence) {
    changes.recurrence = edited.recurrence;
    // The rule is expanded in a zone: the one of the browser that wrote it.
    if (edited.recurrence && task.timezone !== BROWSER_TIMEZONE) changes.timezone = BROWSER_TIMEZONE;
  }
  if ("reminders" in edited && !sameReminders(task.reminders || [], edited.reminders)) changes.reminders = edited.reminders;
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

const FIELD_NAMES = {
  title: "Title",
  description: "Description",
  priority: "Priority",
  due_date: "Due",
  tags: "Tags",
  recurrence: "Repeat",
  timezone: "Time zone",
  reminders: "Reminders",
};

function describeChange(name, value) {
  if (name === "tags") return value.length ? value.join(", ") : "(none)";
  if (name === "due_date") return value ? dueFormat.format(new Date(value)) : "(none)";
  if (name === "priority") return value[0].toUpperCase() + value.slice(1);
  if (name === "recurrence") return value ? describeRule(value) : "Does not repeat";
  if (name === "reminders") return value.length ? value.map(describeReminder).join("; ") : "(none)";
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

// --- Sync on focus (docs/API.md §8) ------------------------------------------------------------
// The page keeps the change feed's last `next` token. When the tab comes back (focus, or visible
// again), it asks for what changed since then, following `has_more`, and applies each change to
// the list it shows instead of loading it again. A token too old for the server (410
// sync_expired) means starting over: a fresh snapshot for a new token, then the list.

const sync = {
  token: null, // the last `next`; null until the first snapshot is done
  running: null, // the sync in flight
  again: false, // another focus came during it: look once more when it ends
  off: false, // the server has no change feed (404): the page works as before
};

function changesPath(since) {
  const params = new URLSearchParams({ limit: "1000" });
  if (since) params.set("since", since);
  return `${tasksUrl}changes/?${params}`;
}

/** Follows the feed from `since` to its end; `onPage` sees each page's changes before the token moves. */
async function followChanges(since, onPage) {
  let token = since;
  for (;;) {
    const page = await (await api("GET", changesPath(token))).json();
    onPage(page.changes || []);
    token = page.next;
    if (!page.has_more) return token;
  }
}

/** A fresh snapshot, only for its token: the list itself comes from the list route, read after. */
async function startSync() {
  try {
    sync.token = await followChanges(null, () => {});
  } catch (error) {
    sync.token = null;
    if (error.status === 404) sync.off = true;
    else reportError("Could not start keeping the list up to date", error);
  }
}

function syncSoon() {
  if (sync.off || !sync.token || sessionEndedShown) return;
  if (sync.running) {
    sync.again = true;
    return;
  }
  sync.running = syncNow().finally(() => {
    sync.running = null;
    if (sync.again) {
      sync.again = false;
      syncSoon();
    }
  });
}

async function syncNow() {
  let changed = false;
  try {
    sync.token = await followChanges(sync.token, (changes) => {
      if (applyChanges(changes)) changed = true;
    });
  } catch (error) {
    if (error.status === 410) {
      // Too old (tombstones it would need are gone): start over, snapshot first.
      sync.token = null;
      await startSync();
      await reload();
      changed = true;
    } else {
      reportError("Could not bring the list up to date", error);
    }
  }
  if (changed) {
    updateSummary();
    refreshStats();
    refreshTags();
  }
  list.dispatchEvent(new CustomEvent("todo:synced", { detail: { changed } }));
}

/** Apply the feed's changes to the list shown; whether anything on the page may have changed. */
function applyChanges(changes) {
  let changed = false;
  for (const change of changes) {
    if (change.op === "delete") {
      state.deleted.add(change.id);
      if (state.tasks.has(change.id)) {
        removeTask(change.id);
        state.total = Math.max(state.total - 1, 0);
      }
      changed = true;
    } else if (change.op === "upsert" && change.task) {
      applyUpsert(change.task);
      changed = true;
    }
  }
  return changed;
}

/** The newest version of a task this page has seen: a list read may be older than a sync. */
function newest(task) {
  const seen = state.seen.get(task.id);
  return seen && seen.version > task.version ? seen : task;
}

function applyUpsert(task) {
  const known = state.tasks.get(task.id);
  const seen = state.seen.get(task.id);
  if (!seen || seen.version < task.version) state.seen.set(task.id, task);
  if (known && known.version >= task.version) return;
  const fits = matchesFilters(task);
  if (known) {
    const node = state.nodes.get(task.id);
    if (node && node.classList.contains("task-editing")) {
      // Not under the person's hands: their Save meets If-Match and the 412 notice.
      state.tasks.set(task.id, task);
      node.dataset.stale = "true";
      return;
    }
    removeTask(task.id);
    if (!fits) {
      state.total = Math.max(state.total - 1, 0);
      return;
    }
    placeTask(task);
    return;
  }
  if (!fits || state.pendingDeletes.has(task.id) || state.deleted.has(task.id)) return;
  state.total += 1;
  placeTask(task);
}

/** Show a task where the list's sort puts it (not past the loaded pages: it comes with them). */
function placeTask(task) {
  const compare = taskComparator();
  let index = state.order.findIndex((id) => compare(task, state.tasks.get(id)) < 0);
  if (index === -1) {
    if (state.next) return; // beyond what is loaded
    index = state.order.length;
  }
  const node = renderTask(task);
  const before = state.nodes.get(state.order[index]);
  state.order.splice(index, 0, task.id);
  state.tasks.set(task.id, task);
  state.nodes.set(task.id, node);
  if (before) before.before(node);
  else list.append(node);
}

const PRIORITY_RANK = { none: 0, low: 1, medium: 2, high: 3 };

/** The list's order (docs/API.md §4 `sort`), ties broken by id in the same direction. */
function taskComparator() {
  const sort = filterParams().get("sort") || "-created";
  const descending = sort.startsWith("-");
  const name = sort.replace(/^-/, "");
  const key = {
    created: (task) => Date.parse(task.created_at),
    updated: (task) => Date.parse(task.updated_at),
    due_date: (task) => (task.due_date ? Date.parse(task.due_date) : null),
    priority: (task) => PRIORITY_RANK[task.priority],
    title: (task) => task.title.toLowerCase(),
  }[name];
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    if (x === null || y === null) {
      if (x !== y) return x === null ? 1 : -1; // no due date: last either way
    } else if (x !== y) {
      return (x < y ? -1 : 1) * (descending ? -1 : 1);
    }
    return (a.id - b.id) * (descending ? -1 : 1);
  };
}

function matchesFilters(task) {
  const params = filterParams();
  const status = params.get("status");
  if (status === "pending" && task.completed) return false;
  if (status === "completed" && !task.completed) return false;
  if (params.get("overdue") === "true" && !isOverdue(task)) return false;
  if (params.get("priority") && params.get("priority") !== task.priority) return false;
  const tag = params.get("tag");
  if (tag && !task.tags.some((name) => name.toLowerCase() === tag.toLowerCase())) return false;
  const search = (params.get("search") || "").toLowerCase();
  if (search && !task.title.toLowerCase().includes(search) && !task.description.toLowerCase().includes(search)) {
    return false;
  }
  return true;
}

window.addEventListener("focus", syncSoon);
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") syncSoon();
});

// --- Notifications on this device (docs/API.md §7) ---------------------------------------------

const notify = {
  card: $(".notify-card"),
  text: $("#notify-state"),
  button: $("#notify-enable"),
};

const NOTIFY_WORDS = {
  off: "Get a notification on this device when a reminder is due, even with this page closed.",
  working: "Turning notifications on…",
  enabled: "Notifications are on: reminders appear on this device, even with this page closed.",
  blocked:
    "Notifications are blocked for this site. To get reminders here, allow notifications in the browser's site settings, then reload the page.",
  unsupported: "This browser cannot show reminders from this site (no service workers or Web Push).",
};

function showNotifyState(kind, message = NOTIFY_WORDS[kind]) {
  notify.card.dataset.state = kind;
  notify.text.textContent = message;
  notify.button.hidden = !["off", "error"].includes(kind);
  notify.button.textContent = kind === "error" ? "Try again" : "Enable notifications";
}

function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window && window.isSecureContext;
}

function base64UrlBytes(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  if (!buffer) return false;
  const other = new Uint8Array(buffer);
  return other.length === bytes.length && other.every((byte, index) => byte === bytes[index]);
}

async function serverPublicKey() {
  let response;
  try {
    response = await fetch(config.pushKeyUrl, { credentials: "omit", headers: { Accept: "application/json" } });
  } catch {
    throw networkError();
  }
  if (!response.ok) throw await problemFrom(response);
  return base64UrlBytes((await response.json()).public_key);
}

async function saveSubscription(subscription) {
  await api("POST", `${config.apiBase}/push-subscriptions/`, { body: subscription.toJSON() });
}

async function enableNotifications() {
  notify.button.disabled = true;
  showNotifyState("working");
  try {
    const permission = await Notification.requestPermission();
    if (permission !== "granted") {
      showNotifyState(permission === "denied" ? "blocked" : "off");
      return;
    }
    await navigator.serviceWorker.register(config.serviceWorkerUrl, { scope: "/" });
    const registration = await navigator.serviceWorker.ready;
    const key = await serverPublicKey();
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made for another server key: its pushes would be refused
      subscription = null;
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    await saveSubscription(subscription);
    showNotifyState("enabled");
  } catch (error) {
    const reason = error instanceof ApiError ? error.message : error.message || String(error);
    showNotifyState("error", `Could not turn notifications on: ${reason}`);
  } finally {
    notify.button.disabled = false;
  }
}

notify.button.addEventListener("click", enableNotifications);

async function initNotifications() {
  if (!pushSupported()) {
    showNotifyState("unsupported");
    return;
  }
  if (Notification.permission === "denied") {
    showNotifyState("blocked");
    return;
  }
  try {
    const registration = await navigator.serviceWorker.getRegistration("/");
    const subscription = registration && (await registration.pushManager.getSubscription());
    if (subscription && Notification.permission === "granted") {
      // Tell the server again: it may have dropped the subscription (a 404 or 410 from the push service).
      await saveSubscription(subscription);
      showNotifyState("enabled");
      return;
    }
  } catch (error) {
    showNotifyState("error", `Could not check the notifications of this device: ${error.message}`);
    return;
  }
  showNotifyState("off");
}

// --- Start -------------------------------------------------------------------------------------

const addSchedule = buildSchedule("add");
$("#add-schedule").append(...addSchedule.nodes);
schedules.set(addForm, addSchedule);
restoreFiltersFromAddress();
// The feed's snapshot first, then the list: the list is then at least as new as the token, and
// whatever changes after the token comes with the next sync (applied once: versions only grow).
Promise.all([startSync().then(() => reload()), refreshStats(), refreshTags(), initNotifications()]);
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
