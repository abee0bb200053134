// Written by pagesmith's built-in generator. Progressive enhancement only:
// every page reads and works without this script.
"use strict";

(() => {
  // The footer's year stays current without a rebuild.
  for (const el of document.querySelectorAll("[data-year]")) {
    el.textContent = String(new Date().getFullYear());
  }

  // Values passed in the address, e.g. ?url=…, shown as text (never HTML).
  const params = new URLSearchParams(window.location.search);
  for (const el of document.querySelectorAll("[data-query-param]")) {
    const value = params.get(el.dataset.queryParam);
    if (value !== null) el.textContent = value;
  }
  // An image URL in the address replaces the sample image; only http(s).
  for (const img of document.querySelectorAll("img[data-query-image]")) {
    const value = params.get(img.dataset.queryImage);
    if (value && /^https?:\/\//i.test(value)) img.src = value;
  }

  // Sortable tables: click a heading to sort by that column.
  const cellValue = (row, index) => (row.cells[index] ? row.cells[index].textContent.trim() : "");
  for (const table of document.querySelectorAll("table[data-sortable]")) {
    const body = table.tBodies[0];
    if (!body) continue;
    table.classList.add("enhanced");
    table.querySelectorAll("thead th").forEach((th, index) => {
      th.tabIndex = 0;
      const sort = () => {
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        for (const other of table.querySelectorAll("thead th")) other.removeAttribute("aria-sort");
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = cellValue(a, index);
          const y = cellValue(b, index);
          const nx = Number(x);
          const ny = Number(y);
          const order = x !== "" && y !== "" && !Number.isNaN(nx) && !Number.isNaN(ny)
            ? nx - ny
            : x.localeCompare(y, undefined, { numeric: true });
          return ascending ? order : -order;
        });
        body.append(...rows);
      };
      th.addEventListener("click", sort);
      th.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          sort();
        }
      });
    });
  }

  // With a Markdown library loaded (marked), render Markdown attachments.
  const markdown = window.marked;
  if (markdown && typeof markdown.parse === "function") {
    for (const target of document.querySelectorAll("[data-markdown-target]")) {
      const source = target.querySelector("pre");
      if (source) target.innerHTML = markdown.parse(source.textContent);
    }
  }
  if (window.hljs && typeof window.hljs.highlightAll === "function") {
    window.hljs.highlightAll();
  }
})();
