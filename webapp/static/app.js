// Progressive enhancement: the form and the order page work without this file.
"use strict";

function showErrors(form, errors) {
  for (const el of form.querySelectorAll(".error")) el.textContent = "";
  for (const field of form.querySelectorAll(".field")) {
    field.classList.remove("invalid");
    field.querySelector("input").removeAttribute("aria-invalid");
  }
  let first = null;
  for (const [name, message] of Object.entries(errors)) {
    const input = document.getElementById(name);
    const target = (input && document.getElementById(name + "-error")) ||
      document.getElementById("form-error");
    target.textContent = target.textContent ? target.textContent + " " + message : message;
    if (input) {
      input.parentElement.classList.add("invalid");
      input.setAttribute("aria-invalid", "true");
      first = first || input;
    }
  }
  if (first) first.focus();
}

function enhanceForm(form) {
  const button = form.querySelector("button[type=submit]");
  let sending = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sending) return; // a second click while the first is in flight sends nothing
    sending = true;
    button.disabled = true;
    const data = Object.fromEntries(new FormData(form).entries());
    let resp;
    try {
      resp = await fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(data),
      });
    } catch (err) {
      showErrors(form, { form: "Network error: the order may not have been sent. Retrying is safe." });
      sending = false;
      button.disabled = false;
      return;
    }
    const body = await resp.json().catch(() => ({}));
    if (resp.status === 202) {
      window.location.assign(body.status_url + "?submitted=" + encodeURIComponent(body.receipt));
      return; // the button stays disabled: this form's order is placed
    }
    if (body.nextOrderId) {
      form.elements.orderId.value = body.nextOrderId; // the next submit is a new order
      body.errors.orderId += "; submit again to place this as a new order";
    }
    if (body.errors) {
      showErrors(form, body.errors);
    } else {
      showErrors(form, { form: body.error || "The order was not accepted (" + resp.status + ")." });
    }
    sending = false;
    button.disabled = false;
  });
}

function stepItem(step) {
  const item = document.createElement("li");
  item.dataset.step = step.name;
  item.className = "step " + step.status + (step.branch ? " branch" : "");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = step.name;
  const duration = document.createElement("span");
  duration.className = "duration";
  duration.textContent = step.duration_ms == null ? "" : Math.round(step.duration_ms) + " ms";
  item.append(name, duration);
  if (step.error) {
    const why = document.createElement("span");
    why.className = "why wrap";
    why.textContent = step.error + (step.message ? ": " + step.message : "");
    item.append(why);
  }
  return item;
}

function renderOrder(section, view) {
  const status = document.getElementById("status");
  status.textContent = view.status;
  status.className = "status status-" + view.status.toLowerCase();
  document.getElementById("outcome").textContent = view.outcome;
  const told = document.getElementById("told");
  told.hidden = !view.terminal;
  told.textContent = view.customerTold ? "The customer was told: “" + view.customerTold + "”"
    : (view.terminal ? "The customer was not notified." : "");
  const order = view.order || {};
  if (order.product) {
    document.getElementById("summary-customer").textContent = order.customerName || "—";
    document.getElementById("summary-product").textContent = order.product;
    document.getElementById("summary-amount").textContent = order.amount || "—";
  }
  document.getElementById("steps").replaceChildren(...view.steps.map(stepItem));
  section.dataset.terminal = view.terminal ? "true" : "false";
}

function followOrder(section) {
  const url = "/api/orders/" + encodeURIComponent(section.dataset.orderId) +
    "?submitted=" + encodeURIComponent(section.dataset.receipt || "");
  const tick = async () => {
    if (section.dataset.terminal === "true") return;
    try {
      const resp = await fetch(url, { headers: { "Accept": "application/json" } });
      if (resp.ok) renderOrder(section, await resp.json());
    } catch (err) { /* try again on the next tick */ }
    if (section.dataset.terminal !== "true") setTimeout(tick, 700);
  };
  tick();
}

// -- the dashboard: figures and charts from /api/metrics, redrawn every few seconds ----------
const SVG = "http://www.w3.org/2000/svg";

function fmt(value, unit, digits) {
  return value == null ? "—" : value.toFixed(digits || 0) + (unit || "");
}

function setText(id, text) {
  const el = document.getElementById(id);
  if (el) el.textContent = text;
}

function drawChart(svg, series) {
  const keys = svg.dataset.chart.split(" ");
  const lists = keys.map((k) => (series[k] ? series[k].values : []));
  const n = Math.max(1, ...lists.map((l) => l.length));
  const top = Number(svg.dataset.max) ||
    Math.max(1, ...lists.flat().filter((v) => v != null));
  const x = (i) => (n === 1 ? 50 : (i / (n - 1)) * 100);
  const y = (v) => 40 - (v / top) * 38 - 1;
  const shapes = [];
  lists.forEach((values, which) => {
    if (svg.dataset.kind === "bars") {
      values.forEach((v, i) => {
        if (!v) return;
        const bar = document.createElementNS(SVG, "rect");
        bar.setAttribute("class", "bar " + (svg.dataset.tone || ""));
        bar.setAttribute("x", String(x(i) - 50 / n));
        bar.setAttribute("width", String(Math.max(0.8, 100 / n - 0.4)));
        bar.setAttribute("y", String(y(v)));
        bar.setAttribute("height", String(40 - y(v)));
        shapes.push(bar);
      });
      return;
    }
    let run = [];
    const flush = () => {
      if (!run.length) return;
      if (run.length === 1) run.push([run[0][0] + 1.5, run[0][1]]); // a lone point: a dash
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("class", "line" + (which ? " p95" : ""));
      line.setAttribute("points", run.map((p) => p.join(",")).join(" "));
      shapes.push(line);
      run = [];
    };
    values.forEach((v, i) => (v == null ? flush() : run.push([x(i), y(v)])));
    flush();
  });
  const axis = document.createElementNS(SVG, "line");
  axis.setAttribute("class", "axis");
  for (const [k, v] of [["x1", "0"], ["x2", "100"], ["y1", "39.5"], ["y2", "39.5"]]) {
    axis.setAttribute(k, v);
  }
  svg.replaceChildren(axis, ...shapes);
  svg.dataset.drawn = String(shapes.length);
}

function renderDashboard(section, m) {
  setText("updated", m.end);
  setText("fig-orders", fmt(m.orders_per_hour, "", 1));
  setText("fig-orders-total", String(m.orders));
  setText("fig-success", fmt(m.payment_success_rate, " %", 1));
  setText("fig-succeeded", String(m.succeeded));
  setText("fig-failed", String(m.failed));
  setText("fig-p50", fmt(m.latency_p50_ms, " ms"));
  setText("fig-p95", fmt(m.latency_p95_ms, " ms"));
  setText("fig-queue", fmt(m.queue_depth));
  setText("fig-dlq", fmt(m.dlq_depth));
  const errors = document.getElementById("fig-errors");
  errors.replaceChildren(...Object.entries(m.errors_by_function).map(([name, count]) => {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.className = "wrap";
    label.textContent = name;
    const value = document.createElement("b");
    value.textContent = String(count);
    item.append(label, " ", value);
    return item;
  }));
  for (const svg of section.querySelectorAll("svg[data-chart]")) drawChart(svg, m.series);
  section.dataset.updates = String(Number(section.dataset.updates || 0) + 1);
}

function followDashboard(section) {
  const url = "/api/metrics?minutes=" + encodeURIComponent(section.dataset.minutes);
  const tick = async () => {
    try {
      const resp = await fetch(url, { headers: { "Accept": "application/json" } });
      if (resp.ok) renderDashboard(section, await resp.json());
    } catch (err) { /* try again on the next tick */ }
    setTimeout(tick, 3000);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  const dashboard = document.getElementById("dashboard");
  if (dashboard) followDashboard(dashboard);
  const form = document.getElementById("order-form");
  if (form) enhanceForm(form);
  const section = document.getElementById("order");
  if (section) followOrder(section);
});
