// The service worker (served at /sw.js, scope "/"): shows the reminders the server pushes
// (docs/API.md §7) even when no page of this site is open, and brings the task page forward when
// one is clicked. It holds no data and caches nothing: the pages work as before without it.
//
// A push message is JSON: {"type": "reminder", "task": {"id", "title", "due_date"}, "fire_at"}.

const TASKS_PAGE = "/";

const dueFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** What the notification says: the task's title, and when it is due (in this device's zone). */
function notificationFor(message) {
  const task = (message && typeof message.task === "object" && message.task) || {};
  const title = typeof task.title === "string" && task.title ? task.title : "Task reminder";
  let body = "Reminder";
  const due = task.due_date ? new Date(task.due_date) : null;
  if (due && !Number.isNaN(due.getTime())) {
    body = `${due.getTime() < Date.now() ? "Was due" : "Due"} ${dueFormat.format(due)}`;
  }
  return {
    title,
    options: {
      body,
      // One notification per task: a second reminder of the same task replaces the first, and
      // still alerts (renotify) because it is a new reminder.
      tag: task.id !== undefined ? `task-${task.id}` : "task-reminder",
      renotify: task.id !== undefined,
      timestamp: message && message.fire_at ? Date.parse(message.fire_at) || Date.now() : Date.now(),
      data: { taskId: task.id ?? null, url: TASKS_PAGE },
    },
  };
}

self.addEventListener("install", () => {
  self.skipWaiting(); // nothing cached, nothing to migrate: the new worker can take over at once
});

self.addEventListener("activate", (event) => {
  event.waitUntil(self.clients.claim());
});

self.addEventListener("push", (event) => {
  let message = null;
  try {
    message = event.data ? event.data.json() : null;
  } catch {
    message = null; // not JSON: still show something (a push must end in a visible notification)
  }
  const { title, options } = notificationFor(message);
  event.waitUntil(self.registration.showNotification(title, options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || TASKS_PAGE, self.location.origin);
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        const url = new URL(client.url);
        if (url.origin === target.origin && url.pathname === target.pathname && "focus" in client) {
          return client.focus(); // the page syncs its list when it regains focus
        }
      }
      return self.clients.openWindow(target.href);
    })(),
  );
});
