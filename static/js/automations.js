/* The automation builder: the placeholder picker and the workflow → step select. (The on/off
   switches and the Activate button that saves once are app.js's data-autosubmit and data-once.)
   Everything works without it too (plain forms and buttons); this only makes it quicker. */
(function () {
  "use strict";

  // The placeholder picker inserts {{ name }} where the cursor was, in the field last used.
  var lastField = new WeakMap();
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field.matches && field.matches("[data-placeholder-target]")) {
      var card = field.closest("[data-action-card]");
      if (card) lastField.set(card, field);
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-insert-placeholder]") : null;
    if (!button) return;
    event.preventDefault();
    var card = button.closest("[data-action-card]");
    if (!card) return;
    var field = lastField.get(card) || card.querySelector("textarea[data-placeholder-target]") ||
      card.querySelector("[data-placeholder-target]");
    if (!field) return;
    var text = "{{ " + button.getAttribute("data-insert-placeholder") + " }}";
    var start = typeof field.selectionStart === "number" ? field.selectionStart : field.value.length;
    var end = typeof field.selectionEnd === "number" ? field.selectionEnd : start;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.setSelectionRange(start + text.length, start + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // A move-card action shows only the steps of the workflow chosen.
  function filterSteps(group, keepSelection) {
    var workflow = group.querySelector("[data-workflow-select]");
    var step = group.querySelector("[data-step-select]");
    if (!workflow || !step) return;
    var chosen = workflow.value;
    Array.prototype.forEach.call(step.options, function (option) {
      var owner = option.getAttribute("data-workflow");
      var hidden = owner !== null && owner !== chosen;
      option.hidden = hidden;
      option.disabled = hidden;
    });
    var selected = step.options[step.selectedIndex];
    if (selected && selected.disabled && !keepSelection) step.value = "";
  }
  function setUpSteps(root) {
    (root || document).querySelectorAll("[data-dependent-steps]").forEach(function (group) {
      filterSteps(group, true);
      var workflow = group.querySelector("[data-workflow-select]");
      if (workflow && !workflow.dataset.bound) {
        workflow.dataset.bound = "1";
        workflow.addEventListener("change", function () { filterSteps(group, false); });
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { setUpSteps(document); });
})();
