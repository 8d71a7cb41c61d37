/* The automations pages: switches that submit themselves, the placeholder picker, the workflow →
   step select, and a save button that cannot be pressed twice. Everything works without it too
   (plain forms and buttons); this only makes it quicker. */
(function () {
  "use strict";

  // An on/off switch posts its own small form.
  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("[data-autosubmit]")) {
      var form = input.closest("form");
      if (form) {
        input.disabled = true;
        form.requestSubmit ? form.requestSubmit() : form.submit();
      }
    }
  });

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

  // Activate / Save: one click saves once (the server refuses a second save too).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("[data-wizard-form]")) return;
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("data-once")) {
      setTimeout(function () {
        form.querySelectorAll("[data-once]").forEach(function (button) { button.disabled = true; });
      }, 0);
    }
  });
})();
