/* The opening-hours editor: add and remove ranges and dates, copy a day to Monday–Friday,
   "(+1)" beside a range that ends the next day, times shown only for "other hours".
   Without this script the form still works: one blank row per day and "Copy" post the form. */
(function () {
  "use strict";

  var form = document.getElementById("hours-form");
  if (!form) return;
  var announcer = form.querySelector("[data-announce]");
  var WORKDAYS = [0, 1, 2, 3, 4];

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(function () { announcer.textContent = text; }, 50);
  }

  function rowsOf(group) { return group.querySelector("[data-rows]"); }

  function rows(group) {
    return Array.prototype.filter.call(rowsOf(group).children, function (el) { return el.hasAttribute("data-row"); });
  }

  // Give the rows of a group the indexes 0, 1, 2... and the formset its new count.
  function renumber(group) {
    var prefix = group.getAttribute("data-prefix");
    var pattern = new RegExp("^(id_)?(" + prefix + "-)(\\d+|__prefix__)(-)");
    rows(group).forEach(function (row, index) {
      row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (el) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (!value) return;
          el.setAttribute(attr, value.split(" ").map(function (token) {
            return token.replace(pattern, "$1$2" + index + "$4");
          }).join(" "));
        });
      });
    });
    form.querySelector('[name="' + prefix + '-TOTAL_FORMS"]').value = rows(group).length;
    // Rows are renumbered: none is an "initial" one any more (see hours._RowsFormSet).
    form.querySelector('[name="' + prefix + '-INITIAL_FORMS"]').value = 0;
    if (group.hasAttribute("data-day")) summarise(group);
  }

  function blank(row) {
    return Array.prototype.every.call(row.querySelectorAll('input[type="time"], input[type="date"]'),
      function (input) { return !input.value; });
  }

  function newRow(group) {
    var template = group.querySelector("template[data-empty]");
    var fragment = template.content.cloneNode(true);
    var row = fragment.querySelector("[data-row]");
    rowsOf(group).appendChild(row);
    enhanceRow(group, row);
    renumber(group);
    return row;
  }

  function setRange(row, start, end, modes) {
    var inputs = row.querySelectorAll('input[type="time"]');
    inputs[0].value = start;
    inputs[1].value = end;
    row.querySelectorAll('input[type="checkbox"]').forEach(function (box) {
      box.checked = modes === null || modes.indexOf(box.value) !== -1;
    });
    showNextDay(row);
    summariseModes(row);
  }

  function readRange(row) {
    var inputs = row.querySelectorAll('input[type="time"]');
    var modes = [];
    row.querySelectorAll('input[type="checkbox"]').forEach(function (box) { if (box.checked) modes.push(box.value); });
    return { start: inputs[0].value, end: inputs[1].value, modes: modes };
  }

  function showNextDay(row) {
    var mark = row.querySelector("[data-next-day]");
    if (!mark) return;
    var range = readRange(row);
    mark.hidden = !(range.start && range.end && range.end < range.start);
  }

  // The line under the day's name: "09:00–12:00, 22:00–02:00 (+1)", or "closed".
  function summarise(day) {
    var line = day.querySelector("[data-summary]");
    if (!line) return;
    var on = day.querySelector("[data-on]");
    var labels = rows(day).map(readRange).filter(function (r) { return r.start && r.end; }).map(function (r) {
      return r.start + "\u2013" + r.end + (r.end <= r.start ? " (+1)" : "");
    });
    line.textContent = on.checked && labels.length ? labels.join(", ") : line.getAttribute("data-closed");
  }

  // "For every mode", or the modes ticked, on the line that opens a range's modes.
  function summariseModes(row) {
    var line = row.querySelector("[data-modes-summary]");
    if (!line) return;
    var boxes = Array.prototype.slice.call(row.querySelectorAll('input[type="checkbox"]'));
    var ticked = boxes.filter(function (box) { return box.checked; });
    line.textContent = ticked.length === boxes.length ? line.getAttribute("data-every")
      : ticked.map(function (box) { return box.parentNode.textContent.trim(); }).join(", ") || "\u2014";
  }

  function showKind(row) {
    var select = row.querySelector("select");
    if (select) row.setAttribute("data-kind", select.value);
  }

  function enhanceRow(group, row) {
    var remove = row.querySelector("[data-remove]");
    if (remove) {
      remove.hidden = false;
      remove.addEventListener("click", function () {
        var add = group.querySelector("[data-add]");
        row.remove();
        renumber(group);
        announce(form.getAttribute("data-removed"));
        if (add) add.focus();
      });
    }
    row.addEventListener("input", function () { showNextDay(row); if (group.hasAttribute("data-day")) summarise(group); });
    row.addEventListener("change", function () {
      showNextDay(row); showKind(row); summariseModes(row);
      if (group.hasAttribute("data-day")) summarise(group);
    });
    showNextDay(row);
    showKind(row);
  }

  function enhanceGroup(group) {
    // The blank row left for a new range or date is the add button's job now.
    rows(group).forEach(function (row) { if (blank(row) && !row.querySelector(".error-message")) row.remove(); });
    renumber(group);
    rows(group).forEach(function (row) { enhanceRow(group, row); });
    var add = group.querySelector("[data-add]");
    if (add) {
      add.hidden = false;
      add.addEventListener("click", function () {
        var row = newRow(group);
        var first = row.querySelector("input, select");
        if (first) first.focus();
      });
    }
  }

  // Enter in a field saves, as in any form; the browser would press the first submit button
  // of the page, which is a day's "Copy" button.
  var save = form.querySelector("[data-save]");
  form.addEventListener("keydown", function (event) {
    var target = event.target;
    if (event.key !== "Enter" || target.tagName !== "INPUT" || !save) return;
    if (["button", "submit", "checkbox", "radio"].indexOf(target.type) !== -1) return;
    event.preventDefault();
    if (form.requestSubmit) form.requestSubmit(save); else save.click();
  });

  var days = Array.prototype.slice.call(form.querySelectorAll("[data-day]"));
  form.querySelectorAll("[data-prefix]").forEach(enhanceGroup);

  function dayOf(number) {
    return days.filter(function (day) { return Number(day.getAttribute("data-day")) === number; })[0];
  }

  // Opening a day means taking appointments at set hours: the main switch follows.
  var available = form.querySelector("[data-available]");
  function takeAppointments() {
    if (available && !available.checked) available.checked = true;
  }

  days.forEach(function (day) {
    var on = day.querySelector("[data-on]");
    on.addEventListener("change", function () {
      day.classList.toggle("hours__day--off", !on.checked);
      if (on.checked) takeAppointments();
      if (on.checked && rows(day).length === 0) {
        var row = newRow(day);
        setRange(row, "09:00", "17:00", null);
      }
      summarise(day);
    });
    day.querySelector("[data-copy]").addEventListener("click", function (event) {
      event.preventDefault();
      var source = rows(day).map(readRange).filter(function (r) { return r.start || r.end; });
      WORKDAYS.forEach(function (number) {
        var target = dayOf(number);
        if (!target || target === day) return;
        rows(target).forEach(function (row) { row.remove(); });
        source.forEach(function (range) { setRange(newRow(target), range.start, range.end, range.modes); });
        renumber(target);
        var targetOn = target.querySelector("[data-on]");
        targetOn.checked = on.checked;
        target.classList.toggle("hours__day--off", !on.checked);
        summarise(target);
      });
      if (on.checked) takeAppointments();
      announce(form.getAttribute("data-copied"));
    });
  });
})();
