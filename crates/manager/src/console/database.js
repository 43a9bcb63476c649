// The Database page: its instances and every link between them, live, a lag chart over
// the last minutes, and the actions (flush, add or remove a cluster, delete).
"use strict";

/** How long the lag chart looks back, and how often the page polls. */
const CHART_MS = 5 * 60 * 1000;
const POLL_MS = 2000;

/** The lag chart: one line per instance, its worst link's lag in milliseconds (what it
 * misses from a peer, or what a peer misses from it, whichever is larger). */
function lagChart(samples, ids) {
  const W = 640, H = 170, PAD = 48, TOP = 26;
  const now = Date.now();
  const max = Math.max(1000, ...samples.flatMap((s) => Object.values(s.lag)));
  // The page's history, from one minute up to five: a page just opened is not a sliver.
  const span = Math.min(CHART_MS, Math.max(60_000, samples.length ? now - samples[0].t : 0));
  const x = (t) => PAD + ((t - (now - span)) / span) * (W - PAD - 8);
  const y = (v) => H - 20 - (v / max) * (H - 20 - TOP);
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Replication lag over the last minutes");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
    return e;
  };
  add("line", { x1: PAD, y1: H - 20, x2: W - 8, y2: H - 20, class: "axis" });
  add("line", { x1: PAD, y1: TOP, x2: PAD, y2: H - 20, class: "axis" });
  add("text", { x: PAD - 4, y: TOP + 4, "text-anchor": "end" }, max >= 1000 ? `${(max / 1000).toFixed(1)} s` : `${max} ms`);
  add("text", { x: PAD - 4, y: H - 20, "text-anchor": "end" }, "0");
  add("text", { x: PAD, y: H - 4 }, `${Math.round(span / 60_000)} min ago`);
  add("text", { x: W - 8, y: H - 4, "text-anchor": "end" }, "now");
  ids.forEach((id, n) => {
    const pts = samples.filter((s) => id in s.lag).map((s) => `${x(s.t).toFixed(1)},${y(s.lag[id]).toFixed(1)}`);
    if (pts.length) add("polyline", { points: pts.join(" "), class: "series s" + (n % 6), "data-instance": id });
    add("text", { x: PAD + 8 + 90 * n, y: 14, class: "legend s" + (n % 6) }, "instance " + id);
  });
  return svg;
}

Concord.pages.db = async (main, guid) => {
  const path = "/v1/crdbs/" + encodeURIComponent(guid);
  let crdb = await api("GET", path);
  const canChange = allowed("db_member");
  const summary = h("div", { id: "db-summary" });
  const instances = h("tbody");
  const linkRows = h("tbody");
  const chartBox = h("div", { id: "lag-chart" });
  const liveError = h("p", { class: "error", role: "alert", hidden: true });
  const actionError = h("p", { class: "error", role: "alert", hidden: true, id: "action-error" });
  const taskBox = h("div", { id: "action-task" });
  const samples = [];

  const showSummary = () => {
    const c = crdb.default_db_config;
    summary.replaceChildren(h("dl", {},
      h("dt", {}, "Id"), h("dd", {}, h("code", {}, crdb.guid)),
      h("dt", {}, "Configuration version"), h("dd", {}, String(crdb.config_version)),
      h("dt", {}, "Memory limit"), h("dd", {}, c.memory_size ? bytes(c.memory_size) : "no limit"),
      h("dt", {}, "Persistence"), h("dd", {}, c.data_persistence === "aof" ? `append-only file (${c.aof_policy})` : c.data_persistence),
      h("dt", {}, "Eviction"), h("dd", {}, c.eviction_policy),
      h("dt", {}, "Links between instances"), h("dd", {}, crdb.encryption ? "TLS" : "plain TCP")));
  };

  // What an action does: asks first, runs it, follows its task, shows what went wrong.
  const act = async (question, run) => {
    if (!(await question())) return null;
    showError(actionError, "");
    try {
      const task = await run();
      const ended = await followTask(task.id, taskBox);
      if (!ended) return null;
      if (ended.status !== "finished") showError(actionError, "The change did not complete; the task says why.");
      crdb = await api("GET", path).catch(() => crdb);
      showSummary();
      return ended;
    } catch (e) {
      showError(actionError, e.message);
      return null;
    }
  };

  const refresh = async () => {
    let report;
    try {
      report = await api("GET", path + "/health_report");
      showError(liveError, "");
    } catch (e) {
      if (e.status === 404) {
        main.replaceChildren(h("p", {}, "This database no longer exists here. ", h("a", { href: "#/databases" }, "Back to the databases")));
        return false;
      }
      showError(liveError, "Could not read the database's state: " + e.message);
      return true;
    }
    const lag = {};
    const instRows = [];
    const rows = [];
    for (const inst of report.instances) {
      const ls = links(inst.crdt_sync);
      const state = inst.status === "unreachable" ? { word: "cluster unreachable", cls: "bad" } : syncState(inst.status, ls);
      const removable = canChange && report.instances.length > 1 && inst.cluster !== Concord.cluster.name;
      instRows.push(h("tr", { "data-instance": inst.id },
        h("td", {}, String(inst.id)),
        h("td", {}, inst.cluster),
        h("td", {}, inst.port ? String(inst.port) : "–"),
        h("td", {}, h("span", { class: "state " + state.cls }, state.word), inst.error ? h("div", { class: "error" }, inst.error) : null),
        canChange ? h("td", {}, removable ? h("button", {
          type: "button", class: "danger remove", onclick: () => act(
            () => confirmAction(`Remove ${inst.cluster}?`, `Instance ${inst.id} on ${inst.cluster} leaves the database: its writes reach the others first, then it is deleted from that cluster with its data.`, "Remove"),
            () => api("POST", path + "/updates", { remove_instances: [inst.id] })),
        }, "Remove") : null) : null));
      let worst = 0;
      for (const l of ls) {
        worst = Math.max(worst, l.lag_ms || 0, l.pending_ms || 0);
        rows.push(h("tr", { "data-link": `${inst.id}-${l.peer}`, "data-state": l.state },
          h("td", {}, `${inst.id} → ${l.peer}`),
          h("td", {}, h("span", { class: "state " + (l.state === "up" ? "good" : "bad") }, l.state)),
          h("td", { class: "num lag-ops" }, String(l.lag_ops ?? "?")),
          h("td", { class: "num lag-ms" }, String(l.lag_ms ?? "?")),
          h("td", { class: "num pending-ops" }, String(l.pending_ops ?? "?")),
          h("td", { class: "num pending-ms" }, String(l.pending_ms ?? "?")),
          h("td", { class: "num" }, `${bytes(l.bytes_in)} / ${bytes(l.bytes_out)}`),
          h("td", { class: "num" }, `${l.full_syncs ?? "?"} / ${l.partial_syncs ?? "?"}`),
          h("td", { class: "last-error" }, l.last_error || "")));
      }
      if (inst.status !== "unreachable") lag[inst.id] = worst;
    }
    instances.replaceChildren(...instRows);
    linkRows.replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 9, class: "muted" }, "A database of one instance has no links."))]));
    const now = Date.now();
    samples.push({ t: now, lag });
    while (samples.length && samples[0].t < now - CHART_MS) samples.shift();
    chartBox.replaceChildren(lagChart(samples, report.instances.map((i) => String(i.id))));
    return true;
  };

  const actions = h("div", { class: "actions" });
  if (canChange) {
    const addBox = h("div", { id: "add-instance", hidden: true });
    const addButton = h("button", { type: "submit", disabled: true }, "Add to the database");
    const addRowEl = clusterRow({}, () => {
      addButton.disabled = !addRowEl.cluster;
    });
    const addForm = h("form", {}, h("p", { class: "muted" }, "The new cluster's REST API URL and an Admin service account on it."), addRowEl, addButton);
    addForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!addRowEl.cluster) return;
      const cluster = addRowEl.cluster;
      const ended = await act(
        () => confirmAction(`Add ${cluster.name} to ${crdb.name}?`, `A new instance starts on ${cluster.name}, takes a full copy of the data from a peer, and then takes writes like the others.`, "Add"),
        () => api("POST", path + "/updates", { add_instances: [{ cluster }] }));
      if (ended && ended.status === "finished") addBox.hidden = true;
    });
    addBox.append(addForm);
    actions.append(
      h("button", {
        type: "button", id: "flush", class: "danger", onclick: () => act(
          () => confirmAction(`Flush ${crdb.name}?`, "Every key on every instance, in every participating cluster, is deleted. This cannot be undone.", "Flush"),
          () => api("PUT", path + "/flush", {})),
      }, "Flush"),
      h("button", { type: "button", id: "show-add", onclick: () => { addBox.hidden = !addBox.hidden; } }, "Add a participating cluster"),
      h("button", {
        type: "button", id: "delete", class: "danger", onclick: async () => {
          const ended = await act(
            () => confirmAction(`Delete ${crdb.name}?`, "The database is removed from every participating cluster, with all its data.", "Delete", crdb.name),
            () => api("DELETE", path));
          if (ended && ended.status === "finished") location.hash = "#/databases";
        },
      }, "Delete"),
      addBox);
  } else {
    actions.append(h("p", { class: "muted" }, "Your role can see this database but not change it."));
  }

  showSummary();
  main.replaceChildren(
    h("h1", {}, "Database ", h("span", { id: "db-title" }, crdb.name)),
    summary, actions, actionError, taskBox, liveError,
    h("h2", {}, "Instances"),
    h("table", { class: "list", id: "instances" }, h("thead", {}, h("tr", {},
      ["Id", "Cluster", "Port", "State"].concat(canChange ? [""] : []).map((c) => h("th", {}, c)))), instances),
    h("h2", {}, "Links"),
    h("p", { class: "muted" }, "Lag: the peer's writes this instance is known to miss, and for how long. Pending: this instance's writes the peer has not confirmed; it grows while a link is cut."),
    h("table", { class: "list", id: "links" }, h("thead", {}, h("tr", {},
      ["Link", "State", "Lag (ops)", "Lag (ms)", "Pending (ops)", "Pending (ms)", "Bytes in / out", "Full / partial syncs", "Last error"].map((c) => h("th", {}, c)))), linkRows),
    h("h2", {}, "Lag over the last minutes (up to five)"), chartBox);
  every(POLL_MS, refresh);
};
