// The report's behaviour: the category checkboxes and the name filter hide rows and
// columns, and a cell with a trace opens it in a dialog, its diagram drawn then (once).
"use strict";

const rows = Array.from(document.querySelectorAll("#matrix tbody tr"));
const headers = Array.from(document.querySelectorAll("#matrix thead th.col"));
const boxes = Array.from(document.querySelectorAll("#categories input[type=checkbox]"));
const nameFilter = document.getElementById("name-filter");
const shownCount = document.getElementById("shown");

// A row stays when its name has every word of the filter and one of its cells is in a
// checked category; a column stays when a row that stays has such a cell in it.
function applyFilters() {
  const on = new Set(boxes.filter((b) => b.checked).map((b) => b.value));
  const words = nameFilter.value.toLowerCase().split(/\s+/).filter(Boolean);
  const live = new Set();
  let shown = 0;
  for (const row of rows) {
    const name = row.dataset.name.toLowerCase();
    let any = false;
    const cells = row.querySelectorAll("td.sq");
    for (const cell of cells) {
      const kept = on.has(cell.dataset.cat);
      cell.classList.toggle("off", !kept);
      any = any || kept;
    }
    const visible = any && words.every((w) => name.includes(w));
    row.classList.toggle("gone", !visible);
    if (visible) {
      shown += 1;
      for (const cell of cells) {
        if (on.has(cell.dataset.cat)) live.add(cell.dataset.prop);
      }
    }
  }
  const hidden = new Set(headers.map((h) => h.dataset.prop).filter((p) => !live.has(p)));
  for (const h of headers) h.classList.toggle("gone", hidden.has(h.dataset.prop));
  for (const cell of document.querySelectorAll("#matrix td.sq")) {
    cell.classList.toggle("gone", hidden.has(cell.dataset.prop));
  }
  shownCount.textContent = `showing ${shown} of ${rows.length}`;
}

for (const box of boxes) box.addEventListener("change", applyFilters);
nameFilter.addEventListener("input", applyFilters);
applyFilters();

mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "default",
                     sequence: { useMaxWidth: true, noteAlign: "left" } });
const drawn = new Map();

// The trace's diagram as SVG, drawn the first time any cell opens it.
function svgOf(number, source) {
  if (!drawn.has(number)) drawn.set(number, mermaid.render(`diagram-${number}`, source).then((r) => r.svg));
  return drawn.get(number);
}

const dialog = document.getElementById("detail");
const body = document.getElementById("detail-body");

async function openTrace(cell) {
  const number = cell.dataset.trace;
  const template = document.getElementById(`trace-${number}`);
  document.getElementById("detail-title").textContent = cell.title;
  document.getElementById("detail-command").textContent = cell.dataset.command;
  body.replaceChildren(template.content.cloneNode(true));
  dialog.showModal();
  dialog.scrollTop = 0;
  const box = body.querySelector(".diagram");
  try {
    const svg = await svgOf(number, box.querySelector(".source").textContent);
    if (box.isConnected) {
      box.innerHTML = svg;
      box.classList.add("drawn");
    }
  } catch (error) {
    box.textContent = `The diagram could not be drawn: ${error.message || error}`;
    box.classList.add("failed");
  }
}

document.getElementById("matrix").addEventListener("click", (event) => {
  const cell = event.target.closest("td[data-trace]");
  if (cell) openTrace(cell);
});
document.getElementById("matrix").addEventListener("keydown", (event) => {
  const cell = event.target.closest("td[data-trace]");
  if (cell && (event.key === "Enter" || event.key === " ")) {
    event.preventDefault();
    openTrace(cell);
  }
});
// A click on the backdrop, outside the dialog's box, closes it.
dialog.addEventListener("click", (event) => {
  const box = dialog.getBoundingClientRect();
  const outside = event.clientX < box.left || event.clientX > box.right || event.clientY < box.top
    || event.clientY > box.bottom;
  if (event.target === dialog && outside) dialog.close();
});
